/**
 * The operator side over HTTP (the real server, TestClock): invites, approval, suspension, admin
 * deposits, the read-only views and the admin token itself, on memory, SQLite and Postgres.
 */
import type { AgentId, TaskId } from "@agent-marketplace/domain/shared/Ids"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, HashMap, Logger, Option, Redacted } from "effect"
import { InviteRepo } from "../../src/admin/InviteRepo"
import { sha256Hex } from "../../src/platform/SecureRandom"
import { Store } from "../../src/platform/Store"
import { Settlement } from "../../src/settlement/Settlement"
import {
  ADMIN_TOKEN,
  adminClient,
  adminClientFor,
  REGISTRATION_TOKEN,
  registerHandle,
  registerWith,
  withAdmin
} from "../support/Admin"
import {
  type AgentHandle,
  advance,
  anonClient,
  idem,
  isAlive,
  registerAgent,
  serverUrl,
  withServer as withServerOn
} from "../support/Harness"
import { storeCases } from "../support/Stores"

const expectAuditOk = Effect.gen(function* () {
  const audit = yield* (yield* Settlement).audit
  expect(audit.problems).toEqual([])
  expect(audit.ok).toBe(true)
  return audit
})

/** The error a failing call answers with (as `{_tag, message, …}`). */
const failure = <A, E>(effect: Effect.Effect<A, E, any>) =>
  Effect.map(Effect.flip(effect), (e) => e as unknown as { _tag: string; message: string })

/** A published task with a running session and one execute assignment of `executor`, held `amount`. */
const fundedAssignment = (buyer: AgentHandle, executor: { id: AgentId }, amount: number) =>
  Effect.gen(function* () {
    const task = yield* buyer.client.tasks.create({ headers: idem() })
    const session = yield* buyer.client.sessions.create({
      headers: idem(),
      payload: { task_id: task.task_id }
    })
    yield* buyer.client.tasks.addParticipant({
      path: { task_id: task.task_id },
      headers: idem(),
      payload: { agent_id: executor.id }
    })
    const assignment = yield* buyer.client.assignments.create({
      headers: idem(),
      payload: {
        task_id: task.task_id,
        session_id: session.session_id,
        agent_id: executor.id,
        kind: "execute"
      }
    })
    yield* buyer.client.settlement.deposit({ headers: idem(), payload: { amount } })
    const hold = yield* buyer.client.settlement.hold({
      headers: idem(),
      payload: {
        amount,
        task_id: task.task_id,
        assignment_id: assignment.assignment_id,
        payee_agent_id: executor.id,
        kind: "execute"
      }
    })
    return { task, session, assignment, hold }
  })

const assignTo = (buyer: AgentHandle, taskId: TaskId, sessionId: string, agentId: AgentId) =>
  buyer.client.assignments.create({
    headers: idem(),
    payload: { task_id: taskId, session_id: sessionId as any, agent_id: agentId, kind: "execute" }
  })

const discovered = (capability: string) =>
  Effect.flatMap(anonClient, (anon) =>
    Effect.map(anon.agents.discover({ urlParams: { capability } }), (r) => r.items.map((c) => c.agent_id))
  )

/** Raw POST /admin/deposits, so replays can be compared byte for byte. */
const rawAdminDeposit = (key: string, body: unknown) =>
  Effect.flatMap(serverUrl, (base) =>
    Effect.promise(async () => {
      const res = await fetch(`${base}/admin/deposits`, {
        method: "POST",
        headers: { "admin-token": ADMIN_TOKEN, "idempotency-key": key, "content-type": "application/json" },
        body: JSON.stringify(body)
      })
      return { status: res.status, text: await res.text() }
    })
  )

describe.each(storeCases.map((store) => [store.name, store] as const))(
  "operator actions on %s",
  (_name, store) => {
    const withServer: typeof withServerOn = (body, overrides = {}) => withServerOn(body, overrides, store)

    describe("invite mode", () => {
      const invite = withAdmin({ registration: "invite" })

      it.scoped(
        "a new id needs a single-use invite: used once, then refused; unknown and missing codes are 401",
        () =>
          withServer(
            Effect.gen(function* () {
              const admin = yield* adminClient
              const created = yield* admin.admin.createInvite({ payload: { expires_in_secs: 3600 } })
              expect(created.invite_code).toMatch(/^invite-[0-9a-f]{64}$/)
              expect(created).toMatchObject({ agent_id: null, expires_at: "2026-01-01T01:00:00.000Z" })

              const missing = yield* failure(registerWith("no-code"))
              expect(missing._tag).toBe("AuthenticationFailedError")
              expect(missing.message).toContain("invite")
              const unknown = yield* failure(registerWith("guess", { invite: "invite-0000" }))
              expect(unknown).toMatchObject({
                _tag: "AuthenticationFailedError",
                message: "unknown invite code"
              })

              const joined = yield* registerWith("invited", { invite: created.invite_code })
              expect(joined).toMatchObject({
                agent_id: "invited",
                outcome: "registered",
                lifecycle: "registered"
              })
              const again = yield* failure(registerWith("second", { invite: created.invite_code }))
              expect(again).toMatchObject({
                _tag: "AuthenticationFailedError",
                message: "this invite code has already been used"
              })
              // The refused ids were not created.
              const listed = yield* admin.admin.agents({ urlParams: {} })
              expect(listed.items.map((a) => a.agent_id)).toEqual(["invited"])

              // Only the hash is stored.
              const repo = yield* InviteRepo
              const row = Option.getOrThrow(yield* repo.get(sha256Hex(created.invite_code)))
              expect(row).toMatchObject({ agent_id: null, used_by: "invited" })
              expect(Object.keys(row).sort()).toEqual(
                ["agent_id", "code_hash", "created_at", "expires_at", "used_at", "used_by"].sort()
              )
              expect(JSON.stringify(row)).not.toContain(created.invite_code.slice("invite-".length))
            }),
            invite
          )
      )

      it.scoped("two registrations racing with one code: exactly one succeeds", () =>
        withServer(
          Effect.gen(function* () {
            const admin = yield* adminClient
            for (let round = 0; round < 5; round++) {
              const { invite_code } = yield* admin.admin.createInvite({ payload: { expires_in_secs: 60 } })
              const results = yield* Effect.all(
                [`racer-${round}-a`, `racer-${round}-b`].map((id) =>
                  Effect.either(registerWith(id, { invite: invite_code }))
                ),
                { concurrency: "unbounded" }
              )
              expect(results.filter(Either.isRight)).toHaveLength(1)
              const refused = results.filter(Either.isLeft).map((r) => (r.left as { _tag: string })._tag)
              expect(refused).toEqual(["AuthenticationFailedError"])
            }
            const page = yield* admin.admin.agents({ urlParams: {} })
            expect(page.items).toHaveLength(5)
          }),
          invite
        )
      )

      it.scoped("an expired invite is refused; a bound invite admits only its agent id", () =>
        withServer(
          Effect.gen(function* () {
            const admin = yield* adminClient
            const short = yield* admin.admin.createInvite({ payload: { expires_in_secs: 10 } })
            yield* advance("10 seconds")
            const expired = yield* failure(registerWith("late", { invite: short.invite_code }))
            expect(expired).toMatchObject({
              _tag: "AuthenticationFailedError",
              message: "this invite code expired at 2026-01-01T00:00:10.000Z"
            })

            const bound = yield* admin.admin.createInvite({
              payload: { expires_in_secs: 600, agent_id: "chosen" as AgentId }
            })
            expect(bound.agent_id).toBe("chosen")
            const other = yield* failure(registerWith("intruder", { invite: bound.invite_code }))
            expect(other).toMatchObject({
              _tag: "AuthenticationFailedError",
              message: "this invite code is for another agent id"
            })
            // The refusal did not spend it.
            const chosen = yield* registerWith("chosen", { invite: bound.invite_code })
            expect(chosen.lifecycle).toBe("registered")
            // Invites are for new ids only.
            const exists = yield* failure(
              admin.admin.createInvite({ payload: { expires_in_secs: 60, agent_id: "chosen" as AgentId } })
            )
            expect(exists._tag).toBe("StateConflictError")
          }),
          invite
        )
      )

      it.scoped("the admin token registers without an invite; the registration token does not", () =>
        withServer(
          Effect.gen(function* () {
            expect((yield* registerWith("by-operator", { token: ADMIN_TOKEN })).lifecycle).toBe("registered")
            const shared = yield* failure(registerWith("by-shared", { token: REGISTRATION_TOKEN }))
            expect(shared._tag).toBe("AuthenticationFailedError")
            expect(shared.message).toContain("invite")
            // A re-registration of an existing id never needs an invite (its own token, as usual).
            const me = yield* registerHandle("by-operator", { token: ADMIN_TOKEN })
            expect(me.lifecycle).toBe("registered")
          }),
          withAdmin({
            registration: "invite",
            registrationToken: Option.some(Redacted.make(REGISTRATION_TOKEN))
          })
        )
      )
    })

    it.scoped("token mode: a new id needs the registration token (or the admin token)", () =>
      withServer(
        Effect.gen(function* () {
          expect((yield* failure(registerWith("none")))._tag).toBe("AuthenticationFailedError")
          expect((yield* failure(registerWith("wrong", { token: "nope" })))._tag).toBe(
            "AuthenticationFailedError"
          )
          expect((yield* registerWith("shared", { token: REGISTRATION_TOKEN })).lifecycle).toBe("registered")
          expect((yield* registerWith("operator", { token: ADMIN_TOKEN })).lifecycle).toBe("registered")
        }),
        withAdmin({ registrationToken: Option.some(Redacted.make(REGISTRATION_TOKEN)) })
      )
    )

    describe("approval mode", () => {
      it.scoped("with a registration token configured, a new id needs it too and is pending", () =>
        withServer(
          Effect.gen(function* () {
            expect((yield* failure(registerWith("none")))._tag).toBe("AuthenticationFailedError")
            expect((yield* registerWith("applicant", { token: REGISTRATION_TOKEN })).lifecycle).toBe(
              "pending"
            )
            expect((yield* registerWith("direct", { token: ADMIN_TOKEN })).lifecycle).toBe("registered")
          }),
          withAdmin({
            registration: "approval",
            registrationToken: Option.some(Redacted.make(REGISTRATION_TOKEN))
          })
        )
      )

      it.scoped("a pending agent is neither discoverable nor assignable, and is after approval", () =>
        withServer(
          Effect.gen(function* () {
            const admin = yield* adminClient
            const buyer = yield* registerHandle("buyer", { token: ADMIN_TOKEN })
            expect(buyer.lifecycle).toBe("registered")
            const worker = yield* registerHandle("worker")
            expect(worker.lifecycle).toBe("pending")
            expect(worker.token).toMatch(/^agent-token-[0-9a-f]{64}$/)

            // Its token works on its own /agents/* endpoints: capabilities, heartbeat, whoami.
            yield* worker.client.agents.declareCapabilities({
              payload: { capabilities: [{ name: "summarize", max_concurrency: 2 }] }
            })
            expect((yield* worker.client.agents.heartbeat({ payload: {} })).outcome).toBe("first_seen")
            const me = yield* worker.client.agents.me()
            expect(me).toMatchObject({ lifecycle: "pending", alive: false })
            // Nowhere else.
            const refused = yield* failure(worker.client.tasks.create({ headers: idem() }))
            expect(refused._tag).toBe("AuthenticationFailedError")
            expect(refused.message).toContain("pending operator approval")
            expect((yield* failure(worker.client.settlement.balance()))._tag).toBe(
              "AuthenticationFailedError"
            )

            expect(yield* discovered("summarize")).toEqual([])
            expect(yield* isAlive("worker")).toBe(false)
            const task = yield* buyer.client.tasks.create({ headers: idem() })
            const session = yield* buyer.client.sessions.create({
              headers: idem(),
              payload: { task_id: task.task_id }
            })
            const notYet = yield* failure(assignTo(buyer, task.task_id, session.session_id, worker.id))
            expect(notYet).toMatchObject({
              _tag: "StateConflictError",
              message: "agent worker is pending operator approval"
            })
            const noParticipant = yield* failure(
              buyer.client.tasks.addParticipant({
                path: { task_id: task.task_id },
                headers: idem(),
                payload: { agent_id: worker.id }
              })
            )
            expect(noParticipant._tag).toBe("StateConflictError")
            const pending = yield* admin.admin.agents({ urlParams: { lifecycle: "pending" } })
            expect(pending.items.map((a) => a.agent_id)).toEqual(["worker"])

            const approved = yield* admin.admin.approve({ path: { agent_id: worker.id } })
            expect(approved).toMatchObject({ agent_id: "worker", lifecycle: "registered", alive: true })
            // Approval is repeatable.
            expect((yield* admin.admin.approve({ path: { agent_id: worker.id } })).lifecycle).toBe(
              "registered"
            )
            expect(yield* discovered("summarize")).toEqual(["worker"])
            const assignment = yield* assignTo(buyer, task.task_id, session.session_id, worker.id)
            expect(assignment.status).toBe("assigned")
            // The same token now works everywhere.
            expect((yield* worker.client.settlement.balance()).agent_id).toBe("worker")

            expect(
              (yield* failure(admin.admin.approve({ path: { agent_id: "nobody" as AgentId } })))._tag
            ).toBe("ObjectNotFoundError")
          }),
          withAdmin({ registration: "approval" })
        )
      )
    })

    describe("suspension", () => {
      it.scoped(
        "a suspended agent's tokens fail, it is not alive, discoverable or assignable, and its assigned work is refunded",
        () =>
          withServer(
            Effect.gen(function* () {
              const admin = yield* adminClient
              const buyer = yield* registerAgent("buyer")
              const executor = yield* registerAgent("executor")
              yield* executor.client.agents.declareCapabilities({
                payload: { capabilities: [{ name: "summarize", max_concurrency: 3 }] }
              })
              yield* executor.client.agents.heartbeat({ payload: {} })
              const f = yield* fundedAssignment(buyer, executor, 100)
              // Work already in output_ready stays as it is.
              const ready = yield* assignTo(buyer, f.task.task_id, f.session.session_id, executor.id)
              yield* executor.client.assignments.outputReady({
                path: { assignment_id: ready.assignment_id },
                headers: idem()
              })
              expect((yield* buyer.client.settlement.balance()).held_as_payer).toBe(100)
              expect(yield* discovered("summarize")).toEqual(["executor"])

              const suspended = yield* admin.admin.suspend({ path: { agent_id: executor.id } })
              expect(suspended.agent).toMatchObject({
                agent_id: "executor",
                lifecycle: "suspended",
                alive: false
              })
              expect(suspended.cancelled_assignments).toEqual([f.assignment.assignment_id])
              const balance = yield* buyer.client.settlement.balance()
              expect(balance).toMatchObject({ available: 100, held_as_payer: 0 })
              const cancelled = yield* buyer.client.assignments.get({
                path: { assignment_id: f.assignment.assignment_id }
              })
              expect(cancelled.status).toBe("cancelled")
              const kept = yield* buyer.client.assignments.get({
                path: { assignment_id: ready.assignment_id }
              })
              expect(kept.status).toBe("output_ready")
              const task = yield* buyer.client.tasks.get({ path: { task_id: f.task.task_id } })
              expect(task.active_participants).toEqual([])
              yield* expectAuditOk

              const refused = yield* failure(executor.client.agents.me())
              expect(refused._tag).toBe("AuthenticationFailedError")
              expect((yield* failure(executor.client.agents.heartbeat({ payload: {} })))._tag).toBe(
                "AuthenticationFailedError"
              )
              expect(yield* isAlive("executor")).toBe(false)
              expect(yield* discovered("summarize")).toEqual([])
              const notAssignable = yield* failure(
                assignTo(buyer, f.task.task_id, f.session.session_id, executor.id)
              )
              expect(notAssignable).toMatchObject({
                _tag: "StateConflictError",
                message: "agent executor is suspended"
              })
              // Suspending again changes nothing.
              const again = yield* admin.admin.suspend({ path: { agent_id: executor.id } })
              expect(again.cancelled_assignments).toEqual([])

              // Re-registration (even by the operator) keeps it suspended; its new token does not work yet.
              const reissued = yield* registerHandle("executor", { token: ADMIN_TOKEN })
              expect(reissued.lifecycle).toBe("suspended")
              expect((yield* failure(reissued.client.agents.me()))._tag).toBe("AuthenticationFailedError")

              const restored = yield* admin.admin.unsuspend({ path: { agent_id: executor.id } })
              expect(restored).toMatchObject({ lifecycle: "registered", alive: false })
              // The tokens revoked by the suspension stay revoked; the re-issued one works.
              expect((yield* failure(executor.client.agents.me()))._tag).toBe("AuthenticationFailedError")
              expect((yield* reissued.client.agents.heartbeat({ payload: {} })).outcome).toBe("recovered")
              expect(yield* discovered("summarize")).toEqual(["executor"])
              const assignable = yield* assignTo(buyer, f.task.task_id, f.session.session_id, executor.id)
              expect(assignable.status).toBe("assigned")
              yield* expectAuditOk
            }),
            withAdmin()
          )
      )

      it.scoped(
        "lifecycle rules: suspend a deregistered agent 409; unsuspend registered 200, pending 409",
        () =>
          withServer(
            Effect.gen(function* () {
              const admin = yield* adminClient
              const leaver = yield* registerHandle("leaver")
              yield* leaver.client.agents.deregister()
              const gone = yield* failure(admin.admin.suspend({ path: { agent_id: leaver.id } }))
              expect(gone).toMatchObject({
                _tag: "StateConflictError",
                message: "cannot suspend agent leaver: it is deregistered"
              })
              const registered = yield* registerHandle("registered", { token: ADMIN_TOKEN })
              expect((yield* admin.admin.unsuspend({ path: { agent_id: registered.id } })).lifecycle).toBe(
                "registered"
              )
              const pending = yield* registerHandle("pending")
              expect((yield* failure(admin.admin.unsuspend({ path: { agent_id: pending.id } })))._tag).toBe(
                "StateConflictError"
              )
              // A pending agent can be suspended (and then cannot use even its /agents/* endpoints).
              expect((yield* admin.admin.suspend({ path: { agent_id: pending.id } })).agent.lifecycle).toBe(
                "suspended"
              )
              expect((yield* failure(pending.client.agents.me()))._tag).toBe("AuthenticationFailedError")
              expect(
                (yield* failure(admin.admin.suspend({ path: { agent_id: "nobody" as AgentId } })))._tag
              ).toBe("ObjectNotFoundError")
            }),
            withAdmin({ registration: "approval" })
          )
      )
    })

    describe("admin deposits", () => {
      it.scoped("with DEPOSITS=admin self-service is 403 and the operator credits agents, idempotently", () =>
        withServer(
          Effect.gen(function* () {
            const admin = yield* adminClient
            const agent = yield* registerAgent("agent")
            const self = yield* failure(
              agent.client.settlement.deposit({ headers: idem(), payload: { amount: 5 } })
            )
            expect(self._tag).toBe("PermissionDeniedError")
            const out = yield* failure(
              agent.client.settlement.withdraw({ headers: idem(), payload: { amount: 5 } })
            )
            expect(out._tag).toBe("PermissionDeniedError")

            const first = yield* rawAdminDeposit("credit-1", { agent_id: "agent", amount: 250 })
            expect(first.status).toBe(200)
            expect(JSON.parse(first.text)).toEqual({
              agent_id: "agent",
              currency: "credits",
              available: 250,
              held_as_payer: 0,
              pending_as_payee: 0
            })
            const replay = yield* rawAdminDeposit("credit-1", { agent_id: "agent", amount: 250 })
            expect(replay).toEqual(first)
            const changed = yield* rawAdminDeposit("credit-1", { agent_id: "agent", amount: 251 })
            expect(changed.status).toBe(422)
            expect(JSON.parse(changed.text)._tag).toBe("IdempotencyKeyReusedError")
            expect((yield* agent.client.settlement.balance()).available).toBe(250)

            // The operator's keys are its own scope: the agent's key of the same name is another request.
            const typed = yield* admin.admin.deposit({
              headers: { "idempotency-key": "credit-2" },
              payload: { agent_id: agent.id, amount: 50 }
            })
            expect(typed.available).toBe(300)
            const unknown = yield* failure(
              admin.admin.deposit({ headers: idem(), payload: { agent_id: "nobody" as AgentId, amount: 5 } })
            )
            expect(unknown).toMatchObject({ _tag: "ObjectNotFoundError", kind: "agent", id: "nobody" })
            const audit = yield* expectAuditOk
            expect(audit).toMatchObject({ total_deposits: 300, total_available: 300, total_held: 0 })
            const entries = yield* admin.admin.agentLedger({ path: { agent_id: agent.id }, urlParams: {} })
            expect(entries.items.map((e) => [e.debit_account, e.credit_account, e.amount, e.reason])).toEqual(
              [
                ["external", "agent:agent", 250, "deposit"],
                ["external", "agent:agent", 50, "deposit"]
              ]
            )
          }),
          withAdmin({ deposits: "admin" })
        )
      )

      it.scoped("an agent's Idempotency-Key never replays the operator's request of the same key", () =>
        withServer(
          Effect.gen(function* () {
            const admin = yield* adminClient
            const agent = yield* registerAgent("agent")
            const own = yield* agent.client.settlement.deposit({
              headers: { "idempotency-key": "same" },
              payload: { amount: 7 }
            })
            expect(own.available).toBe(7)
            const byOperator = yield* admin.admin.deposit({
              headers: { "idempotency-key": "same" },
              payload: { agent_id: agent.id, amount: 7 }
            })
            expect(byOperator.available).toBe(14)
          }),
          withAdmin()
        )
      )
    })

    it.scoped(
      "the views: agents, online agents, tasks, one task, the ledger, one agent's ledger, the audit",
      () =>
        withServer(
          Effect.gen(function* () {
            const admin = yield* adminClient
            const a = yield* registerAgent("a")
            const b = yield* registerAgent("b")
            const c = yield* registerAgent("c")
            const gone = yield* registerAgent("gone")
            yield* gone.client.agents.deregister()
            yield* a.client.agents.heartbeat({ payload: {} })
            yield* c.client.agents.heartbeat({ payload: {} })
            yield* admin.admin.suspend({ path: { agent_id: c.id } })

            const all = yield* admin.admin.agents({ urlParams: {} })
            expect(all.items.map((x) => [x.agent_id, x.lifecycle])).toEqual([
              ["a", "registered"],
              ["b", "registered"],
              ["c", "suspended"],
              ["gone", "deregistered"]
            ])
            expect(all.next).toBeNull()
            const first = yield* admin.admin.agents({ urlParams: { limit: 2 } })
            expect(first.items.map((x) => x.agent_id)).toEqual(["a", "b"])
            expect(first.next).toBe("b")
            const second = yield* admin.admin.agents({
              urlParams: { limit: 2, after: first.next as AgentId }
            })
            expect(second.items.map((x) => x.agent_id)).toEqual(["c", "gone"])
            const suspended = yield* admin.admin.agents({ urlParams: { lifecycle: "suspended" } })
            expect(suspended.items.map((x) => x.agent_id)).toEqual(["c"])
            const online = yield* admin.admin.onlineAgents({ urlParams: {} })
            expect(online.items.map((x) => [x.agent_id, x.alive])).toEqual([["a", true]])
            // Past the idle timeout, one sweep interval at a time (each due sweep finishes before the next step).
            for (let step = 0; step < 10; step++) yield* advance("5 seconds")
            expect((yield* admin.admin.onlineAgents({ urlParams: {} })).items).toEqual([])

            // Tasks of every publisher, in creation order.
            const t1 = yield* a.client.tasks.create({ headers: idem() })
            const t2 = yield* b.client.tasks.create({ headers: idem() })
            const t3 = yield* a.client.tasks.create({ headers: idem() })
            yield* b.client.tasks.cancel({ path: { task_id: t2.task_id }, headers: idem() })
            const tasks = yield* admin.admin.tasks({ urlParams: {} })
            expect(tasks.items.map((t) => [t.task_id, t.publisher, t.status])).toEqual([
              [t1.task_id, "a", "active"],
              [t2.task_id, "b", "cancelled"],
              [t3.task_id, "a", "active"]
            ])
            const pageOne = yield* admin.admin.tasks({ urlParams: { limit: 1 } })
            expect(pageOne).toMatchObject({ items: [{ task_id: t1.task_id }], next: t1.task_id })
            const rest = yield* admin.admin.tasks({ urlParams: { after: t1.task_id } })
            expect(rest.items.map((t) => t.task_id)).toEqual([t2.task_id, t3.task_id])
            const active = yield* admin.admin.tasks({ urlParams: { status: "active" } })
            expect(active.items.map((t) => t.task_id)).toEqual([t1.task_id, t3.task_id])
            expect(yield* admin.admin.task({ path: { task_id: t2.task_id } })).toEqual(
              yield* b.client.tasks.get({ path: { task_id: t2.task_id } })
            )
            const missing = yield* failure(admin.admin.task({ path: { task_id: "task-99" as TaskId } }))
            expect(missing).toMatchObject({ _tag: "ObjectNotFoundError", kind: "task", id: "task-99" })

            // The whole ledger and one agent's.
            yield* a.client.settlement.deposit({ headers: idem(), payload: { amount: 30 } })
            yield* b.client.settlement.deposit({ headers: idem(), payload: { amount: 20 } })
            yield* a.client.settlement.withdraw({ headers: idem(), payload: { amount: 5 } })
            const ledger = yield* admin.admin.ledger({ urlParams: {} })
            expect(
              ledger.items.map((e) => [e.entry_id, e.debit_account, e.credit_account, e.amount])
            ).toEqual([
              ["entry-1", "external", "agent:a", 30],
              ["entry-2", "external", "agent:b", 20],
              ["entry-3", "agent:a", "external", 5]
            ])
            const ledgerPage = yield* admin.admin.ledger({ urlParams: { limit: 2 } })
            expect(ledgerPage.next).toBe("entry-2")
            const ofA = yield* admin.admin.agentLedger({ path: { agent_id: a.id }, urlParams: {} })
            expect(ofA.items.map((e) => e.entry_id)).toEqual(["entry-1", "entry-3"])
            expect(ofA).toEqual(yield* a.client.settlement.ledger({ urlParams: {} }))
            const ofAByQuery = yield* admin.admin.ledger({ urlParams: { agent_id: a.id } })
            expect(ofAByQuery).toEqual(ofA)
            const nobody = yield* failure(
              admin.admin.agentLedger({ path: { agent_id: "nobody" as AgentId }, urlParams: {} })
            )
            expect(nobody._tag).toBe("ObjectNotFoundError")

            const audit = yield* admin.admin.audit()
            expect(audit).toEqual({
              ok: true,
              accounts: 3,
              total_deposits: 50,
              total_withdrawals: 5,
              total_available: 45,
              total_held: 0,
              problems: []
            })
          }),
          withAdmin()
        )
    )
  }
)

describe("the admin token", () => {
  const call = (headers: Record<string, string>, path = "/admin/ledger/audit") =>
    Effect.flatMap(serverUrl, (base) =>
      Effect.promise(async () => {
        const res = await fetch(`${base}${path}`, { headers })
        return { status: res.status, body: (await res.json()) as { _tag: string; message: string } }
      })
    )

  it.scoped("missing, wrong or an agent's bearer token: 401; the right one: 200", () =>
    withServerOn(
      Effect.gen(function* () {
        const agent = yield* registerAgent("agent")
        const missing = yield* call({})
        expect(missing).toEqual({
          status: 401,
          body: {
            _tag: "AuthenticationFailedError",
            message: "missing credential: send Admin-Token: <operator secret>"
          }
        })
        expect((yield* call({ "admin-token": `${ADMIN_TOKEN}x` })).body).toEqual({
          _tag: "AuthenticationFailedError",
          message: "wrong admin token"
        })
        expect((yield* call({ authorization: `Bearer ${agent.token}` })).status).toBe(401)
        expect((yield* call({ "admin-token": agent.token })).status).toBe(401)
        // The admin token is not a bearer token either.
        expect((yield* Effect.flip((yield* adminClientFor(ADMIN_TOKEN)).settlement.balance()))._tag).toBe(
          "AuthenticationFailedError"
        )
        expect((yield* call({ "admin-token": ADMIN_TOKEN })).status).toBe(200)
      }),
      withAdmin()
    )
  )

  it.scoped(
    "without AGENT_MARKETPLACE_ADMIN_TOKEN every admin endpoint is a 401, whatever is presented",
    () =>
      withServerOn(
        Effect.gen(function* () {
          const attempts: Array<Record<string, string>> = [
            {},
            { "admin-token": ADMIN_TOKEN },
            { "admin-token": "" }
          ]
          for (const headers of attempts) {
            const res = yield* call(headers)
            expect(res).toEqual({
              status: 401,
              body: {
                _tag: "AuthenticationFailedError",
                message: "the admin endpoints are disabled: this server has no AGENT_MARKETPLACE_ADMIN_TOKEN"
              }
            })
          }
          const created = yield* Effect.flip(
            (yield* adminClient).admin.createInvite({ payload: { expires_in_secs: 60 } })
          )
          expect(created._tag).toBe("AuthenticationFailedError")
        })
      )
  )

  it.scoped("is never logged, not even with the access log on", () => {
    const lines: Array<string> = []
    const logger = Logger.make(({ annotations, message }) => {
      lines.push(JSON.stringify({ message, annotations: Object.fromEntries(HashMap.toEntries(annotations)) }))
    })
    return withServerOn(
      Effect.gen(function* () {
        yield* call({ "admin-token": ADMIN_TOKEN })
        yield* call({ "admin-token": `${ADMIN_TOKEN}-wrong` })
        yield* (yield* adminClient).admin.createInvite({ payload: { expires_in_secs: 60 } })
        expect(lines.length).toBeGreaterThan(0)
        expect(lines.join("\n")).not.toContain(ADMIN_TOKEN)
      }),
      withAdmin({ accessLog: true })
    ).pipe(Effect.provide(Logger.replace(Logger.defaultLogger, logger)))
  })

  it.scoped("a registration that fails after consuming its invite gives it back (one transaction)", () =>
    withServerOn(
      Effect.gen(function* () {
        const admin = yield* adminClient
        const { invite_code } = yield* admin.admin.createInvite({ payload: { expires_in_secs: 60 } })
        const repo = yield* InviteRepo
        const store = yield* Store
        const hash = sha256Hex(invite_code)
        const exit = yield* Effect.exit(
          store.transaction(
            Effect.zipRight(
              repo.consume(hash, "someone" as AgentId, Date.parse("2026-01-01T00:00:01Z")),
              Effect.fail("boom")
            )
          )
        )
        expect(exit._tag).toBe("Failure")
        expect(Option.getOrThrow(yield* repo.get(hash)).used_at).toBeNull()
        expect((yield* registerWith("someone", { invite: invite_code })).lifecycle).toBe("registered")
      }),
      withAdmin({ registration: "invite" })
    )
  )
})
