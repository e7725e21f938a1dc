import { AgentId, type SessionId, type TaskId } from "@agent-marketplace/domain/shared/Ids"
import type { AssignmentKind, AssignmentStatus } from "@agent-marketplace/domain/tasks/Task"
import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Option } from "effect"
import { LivenessRepo } from "../../src/heartbeat/LivenessRepo"
import { Store } from "../../src/platform/Store"
import { TaskRepo } from "../../src/tasks/TaskRepo"
import { blockedOnLock, postgresWithClient } from "../support/PgLocks"
import { postgresSkipped, storeCases } from "../support/Stores"

const id = AgentId.make

const beat = (agentId: string, lastHeartbeatAt: number, options: { alive?: boolean; busy?: boolean } = {}) =>
  Effect.flatMap(LivenessRepo, (repo) =>
    repo.put({
      agent_id: id(agentId),
      alive: options.alive ?? true,
      busy: options.busy ?? false,
      last_heartbeat_at: lastHeartbeatAt
    })
  )

const assign = (agentId: string, kind: AssignmentKind, status: AssignmentStatus) =>
  Effect.gen(function* () {
    const tasks = yield* TaskRepo
    yield* tasks.putAssignment({
      assignment_id: yield* tasks.nextAssignmentId,
      task_id: "task-1" as TaskId,
      session_id: "session-1" as SessionId,
      agent_id: id(agentId),
      kind,
      target_assignment_id: null,
      deadline_at: null,
      status,
      created_at: 0,
      updated_at: 0
    })
  })

// now = 100 000 with an idle timeout of 45 000 and a busy timeout of 15 000.
const cutoffs = { idleCutoff: 55_000, busyCutoff: 85_000 }

describe.each(storeCases)("LivenessRepo contract ($name)", (storeCase) => {
  const run = <A, E>(effect: Effect.Effect<A, E, LivenessRepo | TaskRepo | Store>) =>
    Effect.provide(effect, storeCase.layer())

  it.effect("get is none before the first put; put inserts, then replaces", () =>
    run(
      Effect.gen(function* () {
        const repo = yield* LivenessRepo
        expect(yield* repo.get(id("alpha"))).toEqual(Option.none())
        yield* beat("alpha", 1_700_000_000_000, { busy: true })
        expect(yield* repo.get(id("alpha"))).toEqual(
          Option.some({ agent_id: "alpha", alive: true, busy: true, last_heartbeat_at: 1_700_000_000_000 })
        )
        yield* beat("alpha", 1_700_000_000_500, { alive: false, busy: false })
        expect(yield* repo.get(id("alpha"))).toEqual(
          Option.some({ agent_id: "alpha", alive: false, busy: false, last_heartbeat_at: 1_700_000_000_500 })
        )
        expect(yield* repo.get(id("beta"))).toEqual(Option.none())
      })
    )
  )

  it.effect("expired: strict cutoffs, busy cutoff when said busy or loaded, in first-heartbeat order", () =>
    run(
      Effect.gen(function* () {
        const repo = yield* LivenessRepo
        yield* beat("zeta-busy-old", 84_999, { busy: true })
        yield* beat("idle-edge", 55_000)
        yield* beat("output-ready", 84_000)
        yield* beat("busy-edge", 85_000, { busy: true })
        yield* beat("b-idle-old", 54_999)
        yield* beat("review-ready", 84_000)
        yield* beat("loaded", 84_000)
        yield* beat("dead", 0, { alive: false })
        yield* beat("idle-recent", 84_000)
        yield* beat("a-idle-old", 10)
        yield* assign("output-ready", "execute", "output_ready")
        yield* assign("loaded", "review", "assigned")
        // A review in output_ready and finished work are not load: this agent is idle.
        yield* assign("review-ready", "review", "output_ready")
        yield* assign("review-ready", "execute", "approved")
        yield* assign("review-ready", "execute", "cancelled")
        // Beating again keeps the first-heartbeat position.
        yield* beat("zeta-busy-old", 84_999, { busy: true })
        expect(yield* repo.expired(cutoffs)).toEqual([
          "zeta-busy-old",
          "output-ready",
          "b-idle-old",
          "loaded",
          "a-idle-old"
        ])
        // Cutoffs are independent: an idle cutoff later than the busy one is honoured too.
        expect(yield* repo.expired({ idleCutoff: 84_001, busyCutoff: 0 })).toEqual([
          "idle-edge",
          "b-idle-old",
          "review-ready",
          "idle-recent",
          "a-idle-old"
        ])
        expect(yield* repo.expired({ idleCutoff: 0, busyCutoff: 0 })).toEqual([])
      })
    )
  )

  it.effect("claimTimeout marks an expired agent not alive once: true, then false", () =>
    run(
      Effect.gen(function* () {
        const repo = yield* LivenessRepo
        yield* beat("silent", 1_000, { busy: true })
        yield* beat("fresh", 90_000)
        yield* beat("edge", 55_000)
        yield* beat("dead", 0, { alive: false })
        expect(yield* repo.claimTimeout(id("silent"), cutoffs)).toBe(true)
        expect(yield* repo.claimTimeout(id("silent"), cutoffs)).toBe(false)
        expect(yield* repo.get(id("silent"))).toEqual(
          Option.some({ agent_id: "silent", alive: false, busy: true, last_heartbeat_at: 1_000 })
        )
        expect(yield* repo.claimTimeout(id("fresh"), cutoffs)).toBe(false)
        expect(yield* repo.claimTimeout(id("edge"), cutoffs)).toBe(false)
        expect(yield* repo.claimTimeout(id("dead"), cutoffs)).toBe(false)
        expect(yield* repo.claimTimeout(id("never-beat"), cutoffs)).toBe(false)
        expect(yield* repo.expired(cutoffs)).toEqual([])
        for (const agent of ["fresh", "edge"])
          expect(Option.map(yield* repo.get(id(agent)), (l) => l.alive)).toEqual(Option.some(true))
        // A new beat starts a new outage: it can be claimed again once silent.
        yield* beat("silent", 2_000)
        expect(yield* repo.claimTimeout(id("silent"), cutoffs)).toBe(true)
      })
    )
  )

  it.effect("claimTimeout uses the busy cutoff for an agent with load", () =>
    run(
      Effect.gen(function* () {
        const repo = yield* LivenessRepo
        yield* beat("loaded", 60_000)
        expect(yield* repo.claimTimeout(id("loaded"), cutoffs)).toBe(false)
        yield* assign("loaded", "execute", "assigned")
        expect(yield* repo.claimTimeout(id("loaded"), cutoffs)).toBe(true)
      })
    )
  )

  it.effect("touch: only an alive row, setting busy and the time; answers whether the agent has load", () =>
    run(
      Effect.gen(function* () {
        const repo = yield* LivenessRepo
        expect(yield* repo.touch(id("unknown"), false, 7_000)).toEqual(Option.none())
        expect(yield* repo.get(id("unknown"))).toEqual(Option.none())
        yield* beat("dead", 1_000, { alive: false })
        expect(yield* repo.touch(id("dead"), true, 7_000)).toEqual(Option.none())
        expect(yield* repo.get(id("dead"))).toEqual(
          Option.some({ agent_id: "dead", alive: false, busy: false, last_heartbeat_at: 1_000 })
        )
        yield* beat("alpha", 1_000)
        expect(yield* repo.touch(id("alpha"), true, 7_000)).toEqual(Option.some({ loaded: false }))
        expect(yield* repo.get(id("alpha"))).toEqual(
          Option.some({ agent_id: "alpha", alive: true, busy: true, last_heartbeat_at: 7_000 })
        )
        yield* assign("alpha", "review", "output_ready")
        expect(yield* repo.touch(id("alpha"), false, 8_000)).toEqual(Option.some({ loaded: false }))
        yield* assign("alpha", "execute", "output_ready")
        expect(yield* repo.touch(id("alpha"), false, 9_000)).toEqual(Option.some({ loaded: true }))
        expect(yield* repo.get(id("alpha"))).toEqual(
          Option.some({ agent_id: "alpha", alive: true, busy: false, last_heartbeat_at: 9_000 })
        )
      })
    )
  )

  it.effect("peek reads the row with whether the agent has load", () =>
    run(
      Effect.gen(function* () {
        const repo = yield* LivenessRepo
        expect(yield* repo.peek(id("unknown"))).toEqual(Option.none())
        yield* beat("alpha", 1_000, { busy: true })
        expect(yield* repo.peek(id("alpha"))).toEqual(
          Option.some({
            row: { agent_id: "alpha", alive: true, busy: true, last_heartbeat_at: 1_000 },
            loaded: false
          })
        )
        yield* assign("alpha", "execute", "assigned")
        yield* beat("dead", 2_000, { alive: false })
        expect(yield* repo.peek(id("alpha"))).toEqual(
          Option.some({
            row: { agent_id: "alpha", alive: true, busy: true, last_heartbeat_at: 1_000 },
            loaded: true
          })
        )
        expect(yield* repo.peek(id("dead"))).toEqual(
          Option.some({
            row: { agent_id: "dead", alive: false, busy: false, last_heartbeat_at: 2_000 },
            loaded: false
          })
        )
      })
    )
  )

  it.effect("concurrent peeks (one query per event-loop turn on SQL) each answer their own agent", () =>
    run(
      Effect.gen(function* () {
        const repo = yield* LivenessRepo
        for (let i = 0; i < 70; i++)
          yield* beat(`agent-${i}`, 1_000 + i, { busy: i % 2 === 0, alive: i % 5 !== 0 })
        yield* assign("agent-3", "execute", "assigned")
        // 70 agents (more than one query's 64 keys), one asked twice, and one without a row.
        const asked = [...Array.from({ length: 70 }, (_, i) => `agent-${i}`), "agent-7", "nobody"]
        const peeks = yield* Effect.all(
          asked.map((a) => repo.peek(id(a))),
          { concurrency: "unbounded" }
        )
        peeks.forEach((peek, n) => {
          const i = n < 70 ? n : n === 70 ? 7 : -1
          expect(peek).toEqual(
            i === -1
              ? Option.none()
              : Option.some({
                  row: {
                    agent_id: `agent-${i}`,
                    alive: i % 5 !== 0,
                    busy: i % 2 === 0,
                    last_heartbeat_at: 1_000 + i
                  },
                  loaded: i === 3
                })
          )
        })
        // A write is seen by the next peek (nothing is kept between turns).
        yield* beat("agent-1", 5_000)
        expect(Option.map(yield* repo.peek(id("agent-1")), (p) => p.row.last_heartbeat_at)).toEqual(
          Option.some(5_000)
        )
        // Inside a transaction the peek reads on the transaction's connection (its own writes).
        const store = yield* Store
        const inside = yield* store.transaction(
          Effect.zipRight(beat("agent-2", 6_000), repo.peek(id("agent-2")))
        )
        expect(Option.map(inside, (p) => p.row.last_heartbeat_at)).toEqual(Option.some(6_000))
      })
    )
  )

  it.effect("writeLastSeen raises only older times and touches nothing else", () =>
    run(
      Effect.gen(function* () {
        const repo = yield* LivenessRepo
        yield* beat("alpha", 1_000, { busy: true })
        yield* beat("beta", 9_000)
        yield* beat("dead", 1_000, { alive: false })
        yield* repo.writeLastSeen([])
        yield* repo.writeLastSeen([
          { agent_id: id("alpha"), at: 5_000 },
          { agent_id: id("beta"), at: 5_000 },
          { agent_id: id("dead"), at: 5_000 },
          { agent_id: id("unknown"), at: 5_000 }
        ])
        expect(yield* repo.get(id("alpha"))).toEqual(
          Option.some({ agent_id: "alpha", alive: true, busy: true, last_heartbeat_at: 5_000 })
        )
        expect(yield* repo.get(id("beta"))).toEqual(
          Option.some({ agent_id: "beta", alive: true, busy: false, last_heartbeat_at: 9_000 })
        )
        expect(yield* repo.get(id("dead"))).toEqual(
          Option.some({ agent_id: "dead", alive: false, busy: false, last_heartbeat_at: 5_000 })
        )
        expect(yield* repo.get(id("unknown"))).toEqual(Option.none())
        // More agents than one statement's chunk.
        const many = Array.from({ length: 1_203 }, (_, i) => `agent-${i}`)
        yield* Effect.forEach(many, (agentId) => beat(agentId, 1_000), { discard: true })
        yield* repo.writeLastSeen(many.map((agentId, i) => ({ agent_id: id(agentId), at: 2_000 + i })))
        for (const i of [0, 499, 500, 1_202]) {
          expect(Option.map(yield* repo.get(id(`agent-${i}`)), (r) => r.last_heartbeat_at)).toEqual(
            Option.some(2_000 + i)
          )
        }
      })
    )
  )

  it.effect("touch waits for a transaction in progress on the row, and sees how it ended", () =>
    run(
      Effect.gen(function* () {
        const repo = yield* LivenessRepo
        const store = yield* Store
        yield* beat("dead", 1_000, { alive: false })
        const written = yield* Deferred.make<void>()
        const release = yield* Deferred.make<void>()
        // A first beat after the outage that is then rolled back.
        const writer = yield* Effect.fork(
          store.transaction(
            Effect.gen(function* () {
              yield* beat("dead", 5_000)
              yield* Deferred.succeed(written, undefined)
              yield* Deferred.await(release)
              return yield* Effect.fail("rolled back")
            })
          )
        )
        yield* Deferred.await(written)
        const toucher = yield* Effect.fork(repo.touch(id("dead"), false, 6_000))
        for (let i = 0; i < 20; i++) yield* Effect.yieldNow()
        expect(Option.isNone(yield* Fiber.poll(toucher))).toBe(true)
        yield* Deferred.succeed(release, undefined)
        expect(yield* Effect.flip(Fiber.join(writer))).toBe("rolled back")
        expect(yield* Fiber.join(toucher)).toEqual(Option.none())
        expect(yield* repo.get(id("dead"))).toEqual(
          Option.some({ agent_id: "dead", alive: false, busy: false, last_heartbeat_at: 1_000 })
        )
      })
    )
  )

  it.effect(
    "a failed transaction undoes a claim and a first beat; a failed savepoint keeps the outer writes",
    () =>
      run(
        Effect.gen(function* () {
          const repo = yield* LivenessRepo
          const store = yield* Store
          yield* beat("silent", 1_000)
          const error = yield* store
            .transaction(
              Effect.gen(function* () {
                expect(yield* repo.claimTimeout(id("silent"), cutoffs)).toBe(true)
                yield* beat("new", 5_000)
                return yield* Effect.fail("boom")
              })
            )
            .pipe(Effect.flip)
          expect(error).toBe("boom")
          expect(Option.map(yield* repo.get(id("silent")), (l) => l.alive)).toEqual(Option.some(true))
          expect(yield* repo.get(id("new"))).toEqual(Option.none())

          yield* store.transaction(
            Effect.gen(function* () {
              expect(yield* repo.claimTimeout(id("silent"), cutoffs)).toBe(true)
              const inner = yield* store
                .transaction(Effect.zipRight(beat("inner", 5_000), Effect.fail("inner")))
                .pipe(Effect.flip)
              expect(inner).toBe("inner")
            })
          )
          expect(Option.map(yield* repo.get(id("silent")), (l) => l.alive)).toEqual(Option.some(false))
          expect(yield* repo.get(id("inner"))).toEqual(Option.none())
          // Undone first beats leave no trace in the order either.
          yield* beat("later", 1_000)
          yield* beat("inner", 1_000)
          expect(yield* repo.expired(cutoffs)).toEqual(["later", "inner"])
        })
      )
  )
})

describe.skipIf(postgresSkipped)("LivenessRepo on Postgres, two replicas", () => {
  it.effect("a claimer that waited on the winner's row lock gets false", () =>
    Effect.gen(function* () {
      const repo = yield* LivenessRepo
      const store = yield* Store
      const sql = yield* SqlClient.SqlClient
      yield* beat("silent", 1_000)
      const claimedByA = yield* Deferred.make<boolean>()
      const releaseA = yield* Deferred.make<void>()
      const replicaA = yield* Effect.fork(
        store.transaction(
          Effect.gen(function* () {
            const claimed = yield* repo.claimTimeout(id("silent"), cutoffs)
            yield* Deferred.succeed(claimedByA, claimed)
            yield* Deferred.await(releaseA)
            return claimed
          })
        )
      )
      expect(yield* Deferred.await(claimedByA)).toBe(true)
      const pidOfB = yield* Deferred.make<number>()
      const replicaB = yield* Effect.fork(
        store.transaction(
          Effect.gen(function* () {
            const [row] = yield* sql<{ pid: number }>`SELECT pg_backend_pid() AS pid`.pipe(Effect.orDie)
            yield* Deferred.succeed(pidOfB, row!.pid)
            return yield* repo.claimTimeout(id("silent"), cutoffs)
          })
        )
      )
      yield* blockedOnLock(yield* Deferred.await(pidOfB))
      yield* Deferred.succeed(releaseA, undefined)
      expect(yield* Fiber.join(replicaA)).toBe(true)
      expect(yield* Fiber.join(replicaB)).toBe(false)
      expect(Option.map(yield* repo.get(id("silent")), (l) => l.alive)).toEqual(Option.some(false))
    }).pipe(Effect.provide(postgresWithClient()))
  )
})
