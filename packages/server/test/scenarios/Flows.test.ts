import type { AssignmentId } from "@agent-marketplace/domain/shared/Ids"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { Settlement } from "../../src/settlement/Settlement"
import {
  type AgentHandle,
  advance,
  anonClient,
  available,
  freshKey,
  idem,
  isAlive,
  registerAgent,
  serverUrl,
  withServer as withServerOn
} from "../support/Harness"
import { storeCases } from "../support/Stores"

const criteria = { format: "plain_text", body: "check the output" } as const
const passed = { kind: "passed", score_bps: 10_000, feedback: "good" } as const
const failed = { kind: "failed", score_bps: 1_000, feedback: "bad" } as const

const expectAuditOk = Effect.gen(function* () {
  const settlement = yield* Settlement
  const audit = yield* settlement.audit
  expect(audit.problems).toEqual([])
  expect(audit.ok).toBe(true)
  return audit
})

/** Task + running session published by `buyer`. */
const openTask = (buyer: AgentHandle) =>
  Effect.gen(function* () {
    const task = yield* buyer.client.tasks.create({ headers: idem() })
    const session = yield* buyer.client.sessions.create({
      headers: idem(),
      payload: { task_id: task.task_id }
    })
    return { task, session }
  })

type Opened = Effect.Effect.Success<ReturnType<typeof openTask>>

const assignExecute = (
  buyer: AgentHandle,
  opened: Opened,
  executor: AgentHandle,
  extra: { deadline_secs?: number } = {}
) =>
  buyer.client.assignments.create({
    headers: idem(),
    payload: {
      task_id: opened.task.task_id,
      session_id: opened.session.session_id,
      agent_id: executor.id,
      kind: "execute",
      ...extra
    }
  })

const assignReview = (buyer: AgentHandle, opened: Opened, reviewer: AgentHandle, target: AssignmentId) =>
  buyer.client.assignments.create({
    headers: idem(),
    payload: {
      task_id: opened.task.task_id,
      session_id: opened.session.session_id,
      agent_id: reviewer.id,
      kind: "review",
      target_assignment_id: target
    }
  })

const hold = (
  buyer: AgentHandle,
  opened: Opened,
  assignmentId: AssignmentId,
  payee: AgentHandle,
  kind: "execute" | "review",
  amount: number
) =>
  buyer.client.settlement.hold({
    headers: idem(),
    payload: {
      amount,
      task_id: opened.task.task_id,
      assignment_id: assignmentId,
      payee_agent_id: payee.id,
      kind
    }
  })

const deposit = (agent: AgentHandle, amount: number) =>
  agent.client.settlement.deposit({ headers: idem(), payload: { amount } })

/** Buyer, executor and reviewer with a funded execute + review pair and a requested review. */
const fundedFlow = Effect.gen(function* () {
  const buyer = yield* registerAgent("buyer")
  const executor = yield* registerAgent("executor")
  const reviewer = yield* registerAgent("reviewer")
  const opened = yield* openTask(buyer)
  yield* buyer.client.tasks.addParticipant({
    path: { task_id: opened.task.task_id },
    headers: idem(),
    payload: { agent_id: executor.id }
  })
  yield* buyer.client.tasks.addParticipant({
    path: { task_id: opened.task.task_id },
    headers: idem(),
    payload: { agent_id: reviewer.id }
  })
  const exec = yield* assignExecute(buyer, opened, executor)
  const review = yield* assignReview(buyer, opened, reviewer, exec.assignment_id)
  yield* deposit(buyer, 120)
  const execHold = yield* hold(buyer, opened, exec.assignment_id, executor, "execute", 100)
  const reviewHold = yield* hold(buyer, opened, review.assignment_id, reviewer, "review", 20)
  const session = yield* buyer.client.reviews.request({
    headers: idem(),
    payload: {
      task_id: opened.task.task_id,
      target_assignment_id: exec.assignment_id,
      review_assignment_ids: [review.assignment_id],
      criteria
    }
  })
  return { buyer, executor, reviewer, opened, exec, review, execHold, reviewHold, session }
})

describe.each(storeCases.map((store) => [store.name, store] as const))(
  "scenario flows on %s",
  (_name, store) => {
    const withServer: typeof withServerOn = (body, overrides = {}) => withServerOn(body, overrides, store)

    it.scoped("(1) buyer → executor → reviewer: a passed verdict settles everything automatically", () =>
      withServer(
        Effect.gen(function* () {
          const f = yield* fundedFlow
          expect(yield* available(f.buyer)).toBe(0)
          const ready = yield* f.executor.client.assignments.outputReady({
            path: { assignment_id: f.exec.assignment_id },
            headers: idem()
          })
          expect(ready.status).toBe("output_ready")
          const res = yield* f.reviewer.client.reviews.submitVerdict({
            path: { review_id: f.session.review_id },
            headers: idem(),
            payload: { review_assignment_id: f.review.assignment_id, verdict: passed }
          })
          expect(res.settlement.released_holds.map((h) => h.hold_id).sort()).toEqual(
            [f.execHold.hold_id, f.reviewHold.hold_id].sort()
          )
          expect(res.settlement.released_holds.every((h) => h.status === "released")).toBe(true)
          expect(yield* available(f.buyer)).toBe(0)
          expect(yield* available(f.executor)).toBe(100)
          expect(yield* available(f.reviewer)).toBe(20)
          const target = yield* f.buyer.client.assignments.get({
            path: { assignment_id: f.exec.assignment_id }
          })
          expect(target.status).toBe("approved")
          const buyerBalance = yield* f.buyer.client.settlement.balance()
          expect(buyerBalance.held_as_payer).toBe(0)
          yield* expectAuditOk
        })
      )
    )

    it.scoped("(2) a failed verdict pays the reviewer, keeps the execute hold; reject refunds it", () =>
      withServer(
        Effect.gen(function* () {
          const f = yield* fundedFlow
          yield* f.executor.client.assignments.outputReady({
            path: { assignment_id: f.exec.assignment_id },
            headers: idem()
          })
          const res = yield* f.reviewer.client.reviews.submitVerdict({
            path: { review_id: f.session.review_id },
            headers: idem(),
            payload: { review_assignment_id: f.review.assignment_id, verdict: failed }
          })
          expect(res.settlement.released_holds.map((h) => h.hold_id)).toEqual([f.reviewHold.hold_id])
          expect(yield* available(f.reviewer)).toBe(20)
          expect(yield* available(f.executor)).toBe(0)
          const active = yield* f.buyer.client.settlement.holds({
            urlParams: { role: "payer", status: "active" }
          })
          expect(active.items.map((h) => h.hold_id)).toEqual([f.execHold.hold_id])
          const target = yield* f.buyer.client.assignments.get({
            path: { assignment_id: f.exec.assignment_id }
          })
          expect(target.status).toBe("output_ready")
          yield* expectAuditOk

          const rejected = yield* f.buyer.client.assignments.reject({
            path: { assignment_id: f.exec.assignment_id },
            headers: idem()
          })
          expect(rejected.assignment.status).toBe("rejected")
          expect(yield* available(f.buyer)).toBe(100)
          expect(yield* available(f.executor)).toBe(0)
          const stillActive = yield* f.buyer.client.settlement.holds({
            urlParams: { role: "payer", status: "active" }
          })
          expect(stillActive.items).toEqual([])
          yield* expectAuditOk
        })
      )
    )

    it.scoped(
      "(3) liveness timeouts: busy executor cancelled + refunded, idle agent at 45 s, output_ready kept",
      () =>
        withServer(
          Effect.gen(function* () {
            const buyer = yield* registerAgent("buyer")
            const silent = yield* registerAgent("silent-exec")
            const done = yield* registerAgent("done-exec")
            const idle = yield* registerAgent("idle-agent")
            const opened = yield* openTask(buyer)
            yield* deposit(buyer, 300)
            const silentAssignment = yield* assignExecute(buyer, opened, silent)
            const doneAssignment = yield* assignExecute(buyer, opened, done)
            const silentHold = yield* hold(
              buyer,
              opened,
              silentAssignment.assignment_id,
              silent,
              "execute",
              100
            )
            const doneHold = yield* hold(buyer, opened, doneAssignment.assignment_id, done, "execute", 150)
            yield* silent.client.agents.heartbeat({ payload: {} })
            yield* done.client.agents.heartbeat({ payload: {} })
            yield* idle.client.agents.heartbeat({ payload: {} })
            yield* done.client.assignments.outputReady({
              path: { assignment_id: doneAssignment.assignment_id },
              headers: idem()
            })
            expect(yield* available(buyer)).toBe(50)

            // 15 s of silence is not yet "strictly greater than" the busy timeout.
            yield* advance("15 seconds")
            expect(yield* isAlive(silent.id)).toBe(true)
            expect(
              (yield* buyer.client.assignments.get({
                path: { assignment_id: silentAssignment.assignment_id }
              })).status
            ).toBe("assigned")

            // 15 s + one sweep interval: detected.
            yield* advance("5 seconds")
            expect(yield* isAlive(silent.id)).toBe(false)
            const cancelled = yield* buyer.client.assignments.get({
              path: { assignment_id: silentAssignment.assignment_id }
            })
            expect(cancelled.status).toBe("cancelled")
            const holds = yield* buyer.client.settlement.holds({ urlParams: { role: "payer" } })
            const byId = new Map(holds.items.map((h) => [h.hold_id, h]))
            expect(byId.get(silentHold.hold_id)?.status).toBe("refunded")
            expect(yield* available(buyer)).toBe(150)

            // The executor whose output is ready timed out too, but keeps its escrow.
            expect(yield* isAlive(done.id)).toBe(false)
            expect(byId.get(doneHold.hold_id)?.status).toBe("active")
            expect(
              (yield* buyer.client.assignments.get({ path: { assignment_id: doneAssignment.assignment_id } }))
                .status
            ).toBe("output_ready")

            // The idle agent: alive at 45 s, gone after 45 s + sweep.
            expect(yield* isAlive(idle.id)).toBe(true)
            yield* advance("25 seconds")
            expect(yield* isAlive(idle.id)).toBe(true)
            yield* advance("5 seconds")
            expect(yield* isAlive(idle.id)).toBe(false)

            // The next heartbeat recovers aliveness only.
            const hb = yield* silent.client.agents.heartbeat({ payload: {} })
            expect(hb.outcome).toBe("recovered")
            expect(
              (yield* buyer.client.assignments.get({
                path: { assignment_id: silentAssignment.assignment_id }
              })).status
            ).toBe("cancelled")
            yield* expectAuditOk
          })
        )
    )

    it.scoped(
      "(4) an assignment past its deadline is cancelled and refunded although its agent heartbeats",
      () =>
        withServer(
          Effect.gen(function* () {
            const buyer = yield* registerAgent("buyer")
            const executor = yield* registerAgent("executor")
            const opened = yield* openTask(buyer)
            yield* deposit(buyer, 100)
            const assignment = yield* assignExecute(buyer, opened, executor, { deadline_secs: 30 })
            const h = yield* hold(buyer, opened, assignment.assignment_id, executor, "execute", 100)
            yield* executor.client.agents.heartbeat({ payload: {} })
            for (let i = 0; i < 2; i++) {
              yield* advance("10 seconds")
              yield* executor.client.agents.heartbeat({ payload: {} })
            }
            // t = 20 s: before the deadline.
            expect(
              (yield* buyer.client.assignments.get({ path: { assignment_id: assignment.assignment_id } }))
                .status
            ).toBe("assigned")
            for (let i = 0; i < 2; i++) {
              yield* advance("10 seconds")
              yield* executor.client.agents.heartbeat({ payload: {} })
            }
            // t = 40 s: past the deadline and at least one sweep later.
            expect(yield* isAlive(executor.id)).toBe(true)
            const after = yield* buyer.client.assignments.get({
              path: { assignment_id: assignment.assignment_id }
            })
            expect(after.status).toBe("cancelled")
            const holds = yield* buyer.client.settlement.holds({ urlParams: { role: "payer" } })
            expect(holds.items.find((x) => x.hold_id === h.hold_id)?.status).toBe("refunded")
            expect(yield* available(buyer)).toBe(100)
            yield* expectAuditOk
          })
        )
    )

    it.scoped(
      "(5) a timed-out reviewer is replaced by a new review session, and the latest session settles",
      () =>
        withServer(
          Effect.gen(function* () {
            const f = yield* fundedFlow
            const reviewer2 = yield* registerAgent("reviewer-2")
            yield* f.buyer.client.settlement.deposit({ headers: idem(), payload: { amount: 20 } })
            yield* f.executor.client.agents.heartbeat({ payload: {} })
            yield* f.reviewer.client.agents.heartbeat({ payload: {} })
            yield* f.executor.client.assignments.outputReady({
              path: { assignment_id: f.exec.assignment_id },
              headers: idem()
            })
            // The reviewer goes silent; the executor keeps heartbeating.
            for (let i = 0; i < 2; i++) {
              yield* advance("10 seconds")
              yield* f.executor.client.agents.heartbeat({ payload: {} })
            }
            expect(yield* isAlive(f.reviewer.id)).toBe(false)
            expect(
              (yield* f.buyer.client.assignments.get({ path: { assignment_id: f.review.assignment_id } }))
                .status
            ).toBe("cancelled")
            expect(yield* available(f.buyer)).toBe(40)

            const review2 = yield* assignReview(f.buyer, f.opened, reviewer2, f.exec.assignment_id)
            const hold2 = yield* hold(f.buyer, f.opened, review2.assignment_id, reviewer2, "review", 20)
            const session2 = yield* f.buyer.client.reviews.request({
              headers: idem(),
              payload: {
                task_id: f.opened.task.task_id,
                target_assignment_id: f.exec.assignment_id,
                review_assignment_ids: [review2.assignment_id],
                criteria
              }
            })
            const sessions = yield* f.buyer.client.reviews.byAssignment({
              path: { assignment_id: f.exec.assignment_id }
            })
            expect(sessions.items.map((s) => s.review_id)).toEqual([f.session.review_id, session2.review_id])

            const res = yield* reviewer2.client.reviews.submitVerdict({
              path: { review_id: session2.review_id },
              headers: idem(),
              payload: { review_assignment_id: review2.assignment_id, verdict: passed }
            })
            expect(res.settlement.released_holds.map((h) => h.hold_id).sort()).toEqual(
              [f.execHold.hold_id, hold2.hold_id].sort()
            )
            expect(
              (yield* f.buyer.client.assignments.get({ path: { assignment_id: f.exec.assignment_id } }))
                .status
            ).toBe("approved")
            expect(yield* available(f.buyer)).toBe(20)
            expect(yield* available(f.executor)).toBe(100)
            expect(yield* available(f.reviewer)).toBe(0)
            expect(yield* available(reviewer2)).toBe(20)
            yield* expectAuditOk
          })
        )
    )

    it.scoped("(6) a verdict before the target is output_ready is a 409 StateConflictError", () =>
      withServer(
        Effect.gen(function* () {
          const f = yield* fundedFlow
          const error = yield* Effect.flip(
            f.reviewer.client.reviews.submitVerdict({
              path: { review_id: f.session.review_id },
              headers: idem(),
              payload: { review_assignment_id: f.review.assignment_id, verdict: passed }
            })
          )
          expect(error._tag).toBe("StateConflictError")
          expect(yield* available(f.reviewer)).toBe(0)
          const active = yield* f.buyer.client.settlement.holds({
            urlParams: { role: "payer", status: "active" }
          })
          expect(active.items).toHaveLength(2)
          yield* expectAuditOk
        })
      )
    )

    it.scoped("(7) idempotency: a replay is identical and moves no money; another body is a 422", () =>
      withServer(
        Effect.gen(function* () {
          const buyer = yield* registerAgent("buyer")
          const executor = yield* registerAgent("executor")
          const key = freshKey()
          const first = yield* buyer.client.settlement.deposit({
            headers: { "idempotency-key": key },
            payload: { amount: 100 }
          })
          const replay = yield* buyer.client.settlement.deposit({
            headers: { "idempotency-key": key },
            payload: { amount: 100 }
          })
          expect(replay).toEqual(first)
          expect(yield* available(buyer)).toBe(100)

          const reused = yield* Effect.flip(
            buyer.client.settlement.deposit({ headers: { "idempotency-key": key }, payload: { amount: 50 } })
          )
          expect(reused._tag).toBe("IdempotencyKeyReusedError")
          expect(yield* available(buyer)).toBe(100)

          // The same key is scoped per caller: another agent using it performs its own deposit.
          const other = yield* executor.client.settlement.deposit({
            headers: { "idempotency-key": key },
            payload: { amount: 100 }
          })
          expect(other.agent_id).toBe(executor.id)
          expect(yield* available(executor)).toBe(100)
          expect(yield* available(buyer)).toBe(100)

          // A business rejection (409) is stored and replayed even after the state changed.
          const withdrawKey = freshKey()
          const tooMuch = yield* Effect.flip(
            executor.client.settlement.withdraw({
              headers: { "idempotency-key": withdrawKey },
              payload: { amount: 150 }
            })
          )
          expect(tooMuch._tag).toBe("BalanceInsufficientError")
          yield* deposit(executor, 100)
          const replayedRejection = yield* Effect.flip(
            executor.client.settlement.withdraw({
              headers: { "idempotency-key": withdrawKey },
              payload: { amount: 150 }
            })
          )
          expect(replayedRejection).toEqual(tooMuch)
          expect(yield* available(executor)).toBe(200)

          // A replayed hold creates no second hold.
          const opened = yield* openTask(buyer)
          const assignment = yield* assignExecute(buyer, opened, executor)
          const holdKey = freshKey()
          const payload = {
            amount: 60,
            task_id: opened.task.task_id,
            assignment_id: assignment.assignment_id,
            payee_agent_id: executor.id,
            kind: "execute" as const
          }
          const h1 = yield* buyer.client.settlement.hold({ headers: { "idempotency-key": holdKey }, payload })
          const h2 = yield* buyer.client.settlement.hold({ headers: { "idempotency-key": holdKey }, payload })
          expect(h2).toEqual(h1)
          expect(yield* available(buyer)).toBe(40)
          const holds = yield* buyer.client.settlement.holds({ urlParams: { role: "payer" } })
          expect(holds.items).toHaveLength(1)
          yield* expectAuditOk
        })
      )
    )

    it.scoped("(8) error shapes over raw HTTP", () =>
      withServer(
        Effect.gen(function* () {
          const buyer = yield* registerAgent("buyer")
          const base = yield* serverUrl
          const call = (path: string, init: RequestInit) =>
            Effect.promise(async () => {
              const res = await fetch(`${base}${path}`, init)
              const text = await res.text()
              return { status: res.status, contentType: res.headers.get("content-type"), text }
            })
          const authed = {
            authorization: `Bearer ${buyer.token}`,
            "content-type": "application/json"
          }

          const malformed = yield* call("/settlement/deposit", {
            method: "POST",
            headers: { ...authed, "idempotency-key": freshKey() },
            body: '{"amount": 1'
          })
          expect(malformed.status).toBe(400)
          expect(malformed.contentType).toContain("application/json")
          expect(JSON.parse(malformed.text)._tag).toBe("InputInvalidError")

          const excess = yield* call("/settlement/deposit", {
            method: "POST",
            headers: { ...authed, "idempotency-key": freshKey() },
            body: JSON.stringify({ amount: 5, manifest_uri: "s3://bucket/x" })
          })
          expect(excess.status).toBe(400)
          expect(excess.contentType).toContain("application/json")
          const excessBody = JSON.parse(excess.text)
          expect(excessBody._tag).toMatch(/Error$/)
          expect(typeof excessBody.message).toBe("string")

          const noKey = yield* call("/settlement/deposit", {
            method: "POST",
            headers: authed,
            body: JSON.stringify({ amount: 5 })
          })
          expect(noKey.status).toBe(400)
          expect(JSON.parse(noKey.text)._tag).toMatch(/Error$/)

          const formEncoded = yield* call("/settlement/deposit", {
            method: "POST",
            headers: {
              authorization: `Bearer ${buyer.token}`,
              "content-type": "application/x-www-form-urlencoded",
              "idempotency-key": freshKey()
            },
            body: "amount=5"
          })
          expect(formEncoded.status).toBe(400)
          expect(JSON.parse(formEncoded.text)._tag).toBe("InputInvalidError")

          const badToken = yield* call("/settlement/balance", {
            method: "GET",
            headers: { authorization: "Bearer agent-token-nope" }
          })
          expect(badToken.status).toBe(401)
          expect(JSON.parse(badToken.text)._tag).toBe("AuthenticationFailedError")

          const unauthenticated = yield* call("/settlement/balance", { method: "GET" })
          expect(unauthenticated.status).toBe(401)
          expect(JSON.parse(unauthenticated.text)._tag).toBe("AuthenticationFailedError")

          // Nothing above moved money.
          expect(yield* available(buyer)).toBe(0)
          const anon = yield* anonClient
          expect((yield* anon.system.health()).ok).toBe(true)
          yield* expectAuditOk
        })
      )
    )
  }
)
