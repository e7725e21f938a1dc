import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { postgresSkipped } from "../support/Stores"
import {
  allPages,
  bareEnv,
  call,
  ensureBuilt,
  freePort,
  inspectLedger,
  jsonLines,
  key,
  killAll,
  launch,
  postgresSchema,
  register,
  type ServerProcess,
  waitFor
} from "./support"

beforeAll(() => ensureBuilt("server"))
afterAll(killAll)

const REPLICAS = 3

/** `REPLICAS` server processes started together on one Postgres schema (the migrator's lock is exercised too). */
const startReplicas = async (url: string, extra: Record<string, string> = {}) =>
  Promise.all(
    Array.from({ length: REPLICAS }, async () => {
      const port = await freePort()
      return launch({
        env: bareEnv({
          AGENT_MARKETPLACE_ADDR: `127.0.0.1:${port}`,
          AGENT_MARKETPLACE_DATABASE_URL: url,
          ...extra
        }),
        port
      })
    })
  )

const stopAll = async (replicas: ReadonlyArray<ServerProcess>) => {
  for (const r of replicas) expect((await r.terminate()).code).toBe(0)
}

/** A task and a running session of `token`'s agent, via `base`. */
const openTask = async (base: string, token: string) => {
  const task = await call(base, "POST", "/tasks", { token, key: key("task") })
  const session = await call(base, "POST", "/sessions", {
    token,
    key: key("session"),
    body: { task_id: task.body.task_id }
  })
  expect([task.status, session.status]).toEqual([201, 201])
  return { task_id: task.body.task_id as string, session_id: session.body.session_id as string }
}

/** `n` execute assignments to `agentId`, created concurrently across the replicas. */
const assignments = async (
  replicas: ReadonlyArray<ServerProcess>,
  token: string,
  opened: { task_id: string; session_id: string },
  agentId: string,
  n: number
) => {
  const replies = await Promise.all(
    Array.from({ length: n }, (_, i) =>
      call(replicas[i % replicas.length]!.url, "POST", "/assignments", {
        token,
        key: key("assign"),
        body: { ...opened, agent_id: agentId, kind: "execute" }
      })
    )
  )
  for (const r of replies) expect(r.status).toBe(201)
  const ids = replies.map((r) => r.body.assignment_id as string)
  expect(new Set(ids).size).toBe(n)
  return ids
}

describe.skipIf(postgresSkipped)(`${REPLICAS} replicas on one Postgres`, () => {
  it("race on one payer's balance: no overdraft; one key on two replicas applies once", async () => {
    const pg = await postgresSchema()
    try {
      const replicas = await startReplicas(pg.url)
      const base = replicas[0]!.url
      const payer = await register(base, "race-payer")
      await register(base, "race-executor")
      expect(
        (
          await call(base, "POST", "/settlement/deposit", {
            token: payer,
            key: key("d"),
            body: { amount: 1000 }
          })
        ).status
      ).toBe(200)
      const opened = await openTask(base, payer)
      const targets = await assignments(replicas, payer, opened, "race-executor", 60)

      // 50 holds of 30 against 1000, spread over the replicas, all at once.
      const holdBody = (assignment_id: string, amount: number) => ({
        amount,
        task_id: opened.task_id,
        assignment_id,
        payee_agent_id: "race-executor",
        kind: "execute"
      })
      const raced = await Promise.all(
        targets.slice(0, 50).map((assignment_id, i) =>
          call(replicas[i % REPLICAS]!.url, "POST", "/settlement/hold", {
            token: payer,
            key: key("hold"),
            body: holdBody(assignment_id, 30)
          })
        )
      )
      const granted = raced.filter((r) => r.status === 201)
      const refused = raced.filter((r) => r.status === 409)
      expect(granted).toHaveLength(Math.floor(1000 / 30))
      expect(refused).toHaveLength(50 - 33)
      for (const r of refused) expect(r.body._tag).toBe("BalanceInsufficientError")
      const perReplica = replicas.map(
        (_, k) => raced.filter((r, i) => i % REPLICAS === k && r.status === 201).length
      )
      let balance = await call(replicas[1]!.url, "GET", "/settlement/balance", { token: payer })
      expect(balance.body).toMatchObject({ available: 10, held_as_payer: 990 })

      // The same key and body to two replicas at once: one effect, two identical answers.
      let overlapping = 0
      for (let i = 0; i < 10; i++) {
        const a = replicas[i % REPLICAS]!.url
        const b = replicas[(i + 1) % REPLICAS]!.url
        const depositKey = key("twin-deposit")
        const timed = (url: string, path: string, k: string, body: unknown) => {
          const started = performance.now()
          return call(url, "POST", path, { token: payer, key: k, body }).then((reply) => ({
            reply,
            started,
            ended: performance.now()
          }))
        }
        const deposits = await Promise.all([
          timed(a, "/settlement/deposit", depositKey, { amount: 3 }),
          timed(b, "/settlement/deposit", depositKey, { amount: 3 })
        ])
        const holdKey = key("twin-hold")
        const holds = await Promise.all([
          timed(a, "/settlement/hold", holdKey, holdBody(targets[50 + i]!, 3)),
          timed(b, "/settlement/hold", holdKey, holdBody(targets[50 + i]!, 3))
        ])
        for (const [x, y] of [deposits, holds] as const) {
          expect(x.reply.text).toBe(y.reply.text)
          expect(x.reply.status).toBe(y.reply.status)
          if (x.started < y.ended && y.started < x.ended) overlapping++
        }
        expect(deposits[0].reply.status).toBe(200)
        expect(holds[0].reply.status).toBe(201)
      }
      balance = await call(replicas[2]!.url, "GET", "/settlement/balance", { token: payer })
      // 10 twin deposits of 3 and 10 twin holds of 3, each counted once.
      expect(balance.body).toMatchObject({ available: 10, held_as_payer: 990 + 30 })
      const entries = await allPages(base, "/settlement/ledger", payer)
      expect(entries.filter((e) => e.reason === "deposit").map((e) => e.amount)).toEqual([
        1000,
        ...Array(10).fill(3)
      ])
      expect(entries.filter((e) => e.reason === "hold")).toHaveLength(33 + 10)
      const holds = await allPages(base, "/settlement/holds?role=payer", payer)
      expect(holds).toHaveLength(43)
      expect(new Set(holds.map((h) => h.assignment_id)).size).toBe(43)

      const { audit } = await inspectLedger({ kind: "postgres", url: pg.url })
      expect(audit.problems).toEqual([])
      expect(audit).toMatchObject({ ok: true, total_deposits: 1030, total_available: 10, total_held: 1020 })
      console.info(
        `replicas: 50 holds of 30 against 1000 → ${granted.length} granted (per replica ${perReplica.join("/")}), ` +
          `${refused.length} refused; 20 twin requests, ${overlapping} overlapping in time, each applied once`
      )
      await stopAll(replicas)
    } finally {
      await killAll()
      await pg.drop()
    }
  }, 60_000)

  it("a silent executor's timeout is cleaned up once although every replica sweeps", async () => {
    const pg = await postgresSchema()
    try {
      const replicas = await startReplicas(pg.url, {
        AGENT_MARKETPLACE_HEARTBEAT_BUSY_TIMEOUT_MS: "300",
        AGENT_MARKETPLACE_HEARTBEAT_IDLE_TIMEOUT_MS: "600",
        AGENT_MARKETPLACE_SWEEP_INTERVAL_MS: "100"
      })
      const base = replicas[0]!.url
      const buyer = await register(base, "sweep-buyer")
      const executors = ["sweep-exec-0", "sweep-exec-1", "sweep-exec-2", "sweep-exec-3"]
      const execTokens = await Promise.all(executors.map((id) => register(base, id)))
      await call(base, "POST", "/settlement/deposit", { token: buyer, key: key("d"), body: { amount: 400 } })
      const opened = await openTask(base, buyer)
      const holdIds: Array<string> = []
      const assignmentIds: Array<string> = []
      for (const [i, agentId] of executors.entries()) {
        const [assignment_id] = await assignments(replicas, buyer, opened, agentId, 1)
        const hold = await call(replicas[i % REPLICAS]!.url, "POST", "/settlement/hold", {
          token: buyer,
          key: key("hold"),
          body: {
            amount: 50,
            task_id: opened.task_id,
            assignment_id,
            payee_agent_id: agentId,
            kind: "execute"
          }
        })
        expect(hold.status).toBe(201)
        holdIds.push(hold.body.hold_id)
        assignmentIds.push(assignment_id!)
      }
      // Each executor is seen once, then goes silent.
      for (const [i, token] of execTokens.entries()) {
        const beat = await call(replicas[i % REPLICAS]!.url, "POST", "/agents/heartbeat", { token, body: {} })
        expect(beat.status).toBe(200)
      }
      await waitFor(
        "every silent executor's assignment to be cancelled",
        async () => {
          const states = await Promise.all(
            assignmentIds.map((id) => call(base, "GET", `/assignments/${id}`, { token: buyer }))
          )
          return states.every((s) => s.body.status === "cancelled")
        },
        20_000
      )

      // A second outage of every executor (recovered, then silent again): once the sweeps have claimed
      // it, every replica has swept long past the first outage, so a second cleanup would have happened.
      for (const [i, token] of execTokens.entries()) {
        const beat = await call(replicas[(i + 1) % REPLICAS]!.url, "POST", "/agents/heartbeat", {
          token,
          body: {}
        })
        expect(beat.body.outcome).toBe("recovered")
      }
      const timedOut = () =>
        replicas.map((r) =>
          jsonLines(r.logs())
            .filter((l) => l.message === "sweep")
            .reduce((n, l) => n + Number(l.annotations?.timed_out ?? 0), 0)
        )
      await waitFor(
        "the second outage of every executor to be claimed",
        () => timedOut().reduce((a, b) => a + b, 0) >= 2 * executors.length,
        20_000
      )
      // Each outage was claimed by exactly one replica.
      const perReplica = timedOut()
      expect(perReplica.reduce((a, b) => a + b, 0)).toBe(2 * executors.length)

      const entries = await allPages(base, "/settlement/ledger", buyer)
      for (const holdId of holdIds) {
        expect(entries.filter((e) => e.hold_id === holdId && e.reason === "refund")).toHaveLength(1)
      }
      const holds = await allPages(base, "/settlement/holds?role=payer", buyer)
      expect(holds.map((h) => h.status)).toEqual(executors.map(() => "refunded"))
      const balance = await call(base, "GET", "/settlement/balance", { token: buyer })
      expect(balance.body).toMatchObject({ available: 400, held_as_payer: 0 })

      const { audit, holdEntries } = await inspectLedger({ kind: "postgres", url: pg.url }, holdIds)
      expect(audit.problems).toEqual([])
      expect(audit.ok).toBe(true)
      for (const holdId of holdIds) {
        expect(holdEntries.get(holdId)!.map((e) => e.reason)).toEqual(["hold", "refund"])
      }
      console.info(
        `replicas: ${executors.length} executors × 2 outages claimed ${perReplica.join("/")} by the ${REPLICAS} replicas; one refund per hold`
      )
      await stopAll(replicas)
    } finally {
      await killAll()
      await pg.drop()
    }
  }, 60_000)
})
