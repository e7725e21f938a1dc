import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { postgresSkipped } from "../support/Stores"
import {
  allPages,
  bareEnv,
  call,
  ensureBuilt,
  freePort,
  inspectLedger,
  key,
  killAll,
  launch,
  postgresSchema,
  type Reply,
  type RetryStats,
  register,
  type ServerProcess,
  type StoreLocation,
  tempDir,
  untilAcknowledged
} from "./support"

beforeAll(() => ensureBuilt("server"))
afterAll(killAll)

/** Concurrent clients; iterations of each client's loop; acknowledged operations after which the server is killed. */
const CLIENTS = 6
const ITERATIONS = 7
const CRASH_AFTER = [50, 160]
const WITNESS_DEPOSIT = 10

const criteria = { format: "plain_text", body: "check it" }

/** What a client saw acknowledged, from which the test computes the state the server must have. */
interface Acknowledged {
  deposits: Array<number>
  holds: Map<string, { amount: number; kind: "execute" | "review"; final: "refunded" | "released" }>
  executeAssignments: Array<string>
  reviewAssignments: Array<string>
}

const crashTest =
  (location: () => Promise<{ store: StoreLocation; env: Record<string, string>; drop: () => unknown }>) =>
  async () => {
    const { store, env: storeEnv, drop } = await location()
    const port = await freePort()
    const env = bareEnv({ AGENT_MARKETPLACE_ADDR: `127.0.0.1:${port}`, ...storeEnv })
    const stats: RetryStats = { retries: 0, cutOff: 0 }
    let server: ServerProcess = await launch({ env, port })
    const base = server.url
    try {
      // Agents, tasks and sessions first (registration has no idempotency key, so it is not retried).
      const witness = await register(base, "crash-witness")
      const clients = await Promise.all(
        Array.from({ length: CLIENTS }, async (_, c) => {
          const ids = { buyer: `crash-buyer-${c}`, executor: `crash-exec-${c}`, reviewer: `crash-rev-${c}` }
          const tokens = {
            buyer: await register(base, ids.buyer),
            executor: await register(base, ids.executor),
            reviewer: await register(base, ids.reviewer)
          }
          const task = await call(base, "POST", "/tasks", { token: tokens.buyer, key: key("task") })
          const session = await call(base, "POST", "/sessions", {
            token: tokens.buyer,
            key: key("session"),
            body: { task_id: task.body.task_id }
          })
          expect([task.status, session.status]).toEqual([201, 201])
          return {
            ids,
            tokens,
            task_id: task.body.task_id as string,
            session_id: session.body.session_id as string
          }
        })
      )

      // Crashes: kill -9 after the N-th acknowledged operation, restart on the same store and port.
      let acknowledged = 0
      let restarts = 0
      let lastKillAt = 0
      /** Cut-off requests whose effect had committed before the kill (answered from the stored record). */
      let replayedAfterCut = 0
      let crashing: Promise<void> = Promise.resolve()
      const pending = [...CRASH_AFTER]
      const acked = () => {
        acknowledged++
        if (pending.length > 0 && acknowledged >= pending[0]!) {
          pending.shift()
          crashing = crashing.then(async () => {
            // A witness deposit whose answer is lost: it commits, the answer is dropped, the server dies;
            // after the restart the same key must replay the very answer, not deposit again.
            const lostKey = key("lost")
            const lost = await call(base, "POST", "/settlement/deposit", {
              token: witness,
              key: lostKey,
              body: { amount: WITNESS_DEPOSIT }
            })
            lastKillAt = Date.now()
            const killed = await server.kill9()
            expect(killed.signal).toBe("SIGKILL")
            server = await launch({ env, port })
            restarts++
            const retried = await untilAcknowledged(
              () =>
                call(base, "POST", "/settlement/deposit", {
                  token: witness,
                  key: lostKey,
                  body: { amount: WITNESS_DEPOSIT }
                }),
              stats
            )
            expect(retried.status).toBe(200)
            expect(retried.text).toBe(lost.text)
          })
        }
      }
      /** One mutation, retried with its key until acknowledged; must end with `status`. */
      const op = async (token: string, path: string, body: unknown, status: number): Promise<Reply> => {
        const k = key("op")
        const cutBefore = stats.cutOff
        const reply = await untilAcknowledged(() => call(base, "POST", path, { token, key: k, body }), stats)
        if (reply.status !== status) throw new Error(`POST ${path}: ${reply.status} ${reply.text}`)
        const createdAt = reply.body?.created_at
        if (stats.cutOff > cutBefore && typeof createdAt === "string" && Date.parse(createdAt) < lastKillAt) {
          replayedAfterCut++
        }
        acked()
        return reply
      }

      const run = async (client: (typeof clients)[number], c: number): Promise<Acknowledged> => {
        const { tokens, ids, task_id, session_id } = client
        const seen: Acknowledged = {
          deposits: [],
          holds: new Map(),
          executeAssignments: [],
          reviewAssignments: []
        }
        for (let i = 0; i < ITERATIONS; i++) {
          const amount = 40 + ((c * 7 + i * 3) % 11)
          await op(tokens.buyer, "/settlement/deposit", { amount }, 200)
          seen.deposits.push(amount)
          const exec = await op(
            tokens.buyer,
            "/assignments",
            { task_id, session_id, agent_id: ids.executor, kind: "execute" },
            201
          )
          const execId = exec.body.assignment_id as string
          seen.executeAssignments.push(execId)
          const review = await op(
            tokens.buyer,
            "/assignments",
            { task_id, session_id, agent_id: ids.reviewer, kind: "review", target_assignment_id: execId },
            201
          )
          const reviewId = review.body.assignment_id as string
          seen.reviewAssignments.push(reviewId)
          const execAmount = 20 + (i % 5)
          const reviewAmount = 5 + (c % 3)
          const execHold = await op(
            tokens.buyer,
            "/settlement/hold",
            {
              amount: execAmount,
              task_id,
              assignment_id: execId,
              payee_agent_id: ids.executor,
              kind: "execute"
            },
            201
          )
          const reviewHold = await op(
            tokens.buyer,
            "/settlement/hold",
            {
              amount: reviewAmount,
              task_id,
              assignment_id: reviewId,
              payee_agent_id: ids.reviewer,
              kind: "review"
            },
            201
          )
          const path = (i + c) % 3
          if (path === 0) {
            // Refunds while the work is still assigned.
            await op(tokens.buyer, "/settlement/refund", { hold_id: execHold.body.hold_id }, 200)
            await op(tokens.buyer, "/settlement/refund", { hold_id: reviewHold.body.hold_id }, 200)
            seen.holds.set(execHold.body.hold_id, { amount: execAmount, kind: "execute", final: "refunded" })
            seen.holds.set(reviewHold.body.hold_id, {
              amount: reviewAmount,
              kind: "review",
              final: "refunded"
            })
            continue
          }
          await op(tokens.executor, `/assignments/${execId}/output-ready`, undefined, 200)
          const session = await op(
            tokens.buyer,
            "/reviews",
            { task_id, target_assignment_id: execId, review_assignment_ids: [reviewId], criteria },
            201
          )
          const passed = path === 1
          const verdict = await op(
            tokens.reviewer,
            `/reviews/${session.body.review_id}/verdict`,
            {
              review_assignment_id: reviewId,
              verdict: passed
                ? { kind: "passed", score_bps: 9000, feedback: "fine" }
                : { kind: "failed", score_bps: 1000, feedback: "no" }
            },
            200
          )
          const released = verdict.body.settlement.released_holds
            .map((h: { hold_id: string }) => h.hold_id)
            .sort()
          expect(released).toEqual(
            passed ? [execHold.body.hold_id, reviewHold.body.hold_id].sort() : [reviewHold.body.hold_id]
          )
          seen.holds.set(reviewHold.body.hold_id, { amount: reviewAmount, kind: "review", final: "released" })
          if (passed) {
            seen.holds.set(execHold.body.hold_id, { amount: execAmount, kind: "execute", final: "released" })
          } else {
            await op(tokens.buyer, `/assignments/${execId}/reject`, undefined, 200)
            seen.holds.set(execHold.body.hold_id, { amount: execAmount, kind: "execute", final: "refunded" })
          }
        }
        return seen
      }

      const started = Date.now()
      const results = await Promise.all(clients.map((client, c) => run(client, c)))
      await crashing
      const chaosMs = Date.now() - started
      expect(restarts).toBe(CRASH_AFTER.length)
      // The kills hit requests in flight: some were cut off and re-sent with their key.
      expect(stats.cutOff).toBeGreaterThan(0)

      // Every acknowledged effect exactly once, as the clients' own records say.
      let totalDeposits = 0
      let totalHolds = 0
      for (const [c, client] of clients.entries()) {
        const seen = results[c]!
        const deposited = seen.deposits.reduce((a, b) => a + b, 0)
        totalDeposits += deposited
        const holds = [...seen.holds.values()]
        totalHolds += holds.length
        const sum = (pred: (h: (typeof holds)[number]) => boolean) =>
          holds.filter(pred).reduce((a, h) => a + h.amount, 0)
        const buyerBalance = await call(server.url, "GET", "/settlement/balance", {
          token: client.tokens.buyer
        })
        expect(buyerBalance.body).toMatchObject({
          available: deposited - sum((h) => h.final === "released"),
          held_as_payer: 0
        })
        const executorBalance = await call(server.url, "GET", "/settlement/balance", {
          token: client.tokens.executor
        })
        expect(executorBalance.body.available).toBe(
          sum((h) => h.kind === "execute" && h.final === "released")
        )
        const reviewerBalance = await call(server.url, "GET", "/settlement/balance", {
          token: client.tokens.reviewer
        })
        expect(reviewerBalance.body.available).toBe(sum((h) => h.kind === "review" && h.final === "released"))

        const storedHolds = await allPages(server.url, "/settlement/holds?role=payer", client.tokens.buyer)
        expect(storedHolds.map((h) => h.hold_id).sort()).toEqual([...seen.holds.keys()].sort())
        for (const h of storedHolds) expect(h.status).toBe(seen.holds.get(h.hold_id)!.final)

        const entries = await allPages(server.url, "/settlement/ledger", client.tokens.buyer)
        const deposits = entries.filter((e) => e.reason === "deposit").map((e) => e.amount)
        expect(deposits).toEqual(seen.deposits)
        expect(entries.filter((e) => e.reason === "hold")).toHaveLength(seen.holds.size)
        expect(
          entries
            .filter((e) => e.reason === "refund")
            .map((e) => e.hold_id)
            .sort()
        ).toEqual(
          [...seen.holds]
            .filter(([, h]) => h.final === "refunded")
            .map(([id]) => id)
            .sort()
        )

        const execAssignments = await allPages(
          server.url,
          `/agents/${client.ids.executor}/assignments`,
          client.tokens.executor
        )
        expect(execAssignments.map((a) => a.assignment_id).sort()).toEqual(
          [...seen.executeAssignments].sort()
        )
        const reviewAssignments = await allPages(
          server.url,
          `/agents/${client.ids.reviewer}/assignments`,
          client.tokens.reviewer
        )
        expect(reviewAssignments.map((a) => a.assignment_id).sort()).toEqual(
          [...seen.reviewAssignments].sort()
        )
      }

      // The witness's deposits whose answers were lost at each kill: each applied once.
      const witnessBalance = await call(server.url, "GET", "/settlement/balance", { token: witness })
      expect(witnessBalance.body.available).toBe(WITNESS_DEPOSIT * CRASH_AFTER.length)
      totalDeposits += WITNESS_DEPOSIT * CRASH_AFTER.length

      const stopped = await server.terminate()
      expect(stopped.code).toBe(0)
      const allHolds = results.flatMap((r) => [...r.holds.keys()])
      const { audit, holdEntries } = await inspectLedger(store, allHolds)
      expect(audit.problems).toEqual([])
      expect(audit.ok).toBe(true)
      expect(audit.total_deposits).toBe(totalDeposits)
      expect(audit.total_held).toBe(0)
      for (const holdId of allHolds) {
        // One hold entry and one settlement per acknowledged hold.
        expect(
          holdEntries
            .get(holdId)!
            .map((e) => e.reason)
            .sort()
        ).toEqual(
          [
            "hold",
            results.find((r) => r.holds.has(holdId))!.holds.get(holdId)!.final === "released"
              ? "release"
              : "refund"
          ].sort()
        )
      }
      console.info(
        `crash test (${store.kind}): ${acknowledged} acknowledged operations by ${CLIENTS} clients, ` +
          `${restarts} kill -9 + restarts, ${stats.retries} re-sent requests (${stats.cutOff} cut off in flight, ` +
          `${replayedAfterCut} of them visibly committed before the kill and replayed), ${totalHolds} holds, ` +
          `deposits ${totalDeposits}, ${chaosMs} ms`
      )
    } finally {
      await killAll()
      await drop()
    }
  }

describe("crash: kill -9 during concurrent money operations with client retries", () => {
  it(
    "sqlite: every acknowledged effect exactly once after two restarts; the audit holds",
    crashTest(async () => {
      const data = tempDir("crash")
      return {
        store: { kind: "sqlite", dataDir: data.dir },
        env: { AGENT_MARKETPLACE_DATA_DIR: data.dir },
        drop: data.remove
      }
    }),
    60_000
  )

  it.skipIf(postgresSkipped)(
    "postgres: every acknowledged effect exactly once after two restarts; the audit holds",
    crashTest(async () => {
      const pg = await postgresSchema()
      return {
        store: { kind: "postgres", url: pg.url },
        env: { AGENT_MARKETPLACE_DATABASE_URL: pg.url },
        drop: pg.drop
      }
    }),
    60_000
  )
})
