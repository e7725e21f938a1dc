import { AgentId } from "@agent-marketplace/domain/shared/Ids"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Option, TestClock } from "effect"
import { LivenessRepo } from "../../src/heartbeat/LivenessRepo"
import { advance, makeServer, registerAgent, START, withServer } from "../support/Harness"
import { storeCases } from "../support/Stores"

/**
 * Heartbeat write coalescing (storage-and-deploy.md): a replica may buffer last-seen times for at
 * most 1 s before one batched write, provided the sweep adds that second to every timeout and a
 * heartbeat's outcome is still computed from the stored state. Run on every store with a 1 s window
 * and a sweep every second (TestClock).
 */
const coalescing = { heartbeatCoalesceMs: 1000, sweepIntervalMs: 1000 }

/** The stored liveness row, read until `until` holds (a flush is real I/O that can outlive `TestClock.adjust`). */
const storedUntil = (
  agentId: string,
  until: (row: Option.Option<{ readonly last_heartbeat_at: number }>) => boolean
) =>
  Effect.flatMap(LivenessRepo, (repo) =>
    repo.get(AgentId.make(agentId)).pipe(Effect.repeat({ until, times: 10_000 }))
  )

const lastSeen = (agentId: string) =>
  Effect.flatMap(LivenessRepo, (repo) =>
    Effect.map(
      repo.get(AgentId.make(agentId)),
      Option.map((row) => row.last_heartbeat_at)
    )
  )

describe.each(storeCases.map((store) => [store.name, store] as const))(
  "heartbeat coalescing (%s)",
  (_name, store) => {
    it.scoped(
      "an alive agent's unchanged beat is buffered, answered from the stored state, written within the window",
      () =>
        withServer(
          Effect.gen(function* () {
            const agent = yield* registerAgent("coalesced")
            expect((yield* agent.client.agents.heartbeat({ payload: {} })).outcome).toBe("first_seen")
            expect(yield* lastSeen("coalesced")).toEqual(Option.some(START))
            yield* TestClock.adjust(2_200)
            const beat = yield* agent.client.agents.heartbeat({ payload: {} })
            expect(beat).toEqual({ agent_id: "coalesced", outcome: "updated", timeout_ms: 45_000 })
            // Buffered: the store still has the first beat until the next flush (every 500 ms).
            expect(yield* lastSeen("coalesced")).toEqual(Option.some(START))
            yield* TestClock.adjust(500)
            yield* storedUntil(
              "coalesced",
              (row) => Option.isSome(row) && row.value.last_heartbeat_at === START + 2_200
            )
          }),
          coalescing,
          store
        )
    )

    it.scoped("a beat that changes busy, or of an agent that is not alive, is written at once", () =>
      withServer(
        Effect.gen(function* () {
          const agent = yield* registerAgent("changing")
          yield* agent.client.agents.heartbeat({ payload: {} })
          yield* TestClock.adjust(300)
          expect(yield* agent.client.agents.heartbeat({ payload: { busy: true } })).toEqual({
            agent_id: "changing",
            outcome: "updated",
            timeout_ms: 15_000
          })
          const repo = yield* LivenessRepo
          expect(yield* repo.get(AgentId.make("changing"))).toEqual(
            Option.some({ agent_id: "changing", alive: true, busy: true, last_heartbeat_at: START + 300 })
          )
        }),
        coalescing,
        store
      )
    )

    it.scoped("the sweep adds the window to the timeout; the next beat is recovered", () =>
      withServer(
        Effect.gen(function* () {
          const agent = yield* registerAgent("silent")
          yield* agent.client.agents.heartbeat({ payload: {} })
          yield* TestClock.adjust(500)
          // Buffered at START + 500, written by the flush at START + 1 000.
          expect((yield* agent.client.agents.heartbeat({ payload: {} })).outcome).toBe("updated")
          yield* advance(500)
          yield* storedUntil(
            "silent",
            (row) => Option.isSome(row) && row.value.last_heartbeat_at === START + 500
          )
          // 45 500 ms of silence: past the idle timeout (45 000) but not past it plus the window.
          yield* advance(45_000)
          const repo = yield* LivenessRepo
          expect(Option.map(yield* repo.get(AgentId.make("silent")), (r) => r.alive)).toEqual(
            Option.some(true)
          )
          // The sweep due at START + 46 000 may read the clock at 46 000 (cutoff 500: not yet) or later;
          // the one due at 47 000 reads at least 47 000, and `advance` waits for it: timed out.
          yield* advance(1_500)
          expect(Option.map(yield* repo.get(AgentId.make("silent")), (r) => r.alive)).toEqual(
            Option.some(false)
          )
          expect((yield* agent.client.agents.heartbeat({ payload: {} })).outcome).toBe("recovered")
        }),
        coalescing,
        store
      )
    )

    it.scoped("a beat whose stored time is not well inside the timeout is written at once", () =>
      withServer(
        Effect.gen(function* () {
          const agent = yield* registerAgent("late")
          yield* agent.client.agents.heartbeat({ payload: {} })
          // 14 001 ms after the stored beat: within the shorter (busy) timeout of 15 000, but not by the
          // window, so it is not buffered.
          yield* TestClock.adjust(14_001)
          expect((yield* agent.client.agents.heartbeat({ payload: {} })).outcome).toBe("updated")
          expect(yield* lastSeen("late")).toEqual(Option.some(START + 14_001))
        }),
        { ...coalescing, sweepIntervalMs: 60_000 },
        store
      )
    )

    it.scoped("buffered times are written when the server stops", () =>
      Effect.gen(function* () {
        yield* TestClock.setTime(START)
        const storeContext = yield* Layer.build(store.layer())
        const onStore = Layer.succeedContext(storeContext)
        yield* Effect.scoped(
          Effect.gen(function* () {
            const agent = yield* registerAgent("stopping")
            yield* agent.client.agents.heartbeat({ payload: {} })
            yield* TestClock.adjust(200)
            expect((yield* agent.client.agents.heartbeat({ payload: {} })).outcome).toBe("updated")
            expect(yield* lastSeen("stopping")).toEqual(Option.some(START))
          }).pipe(Effect.provide(makeServer(coalescing, { name: store.name, layer: () => onStore })))
        )
        expect(yield* lastSeen("stopping").pipe(Effect.provide(onStore))).toEqual(Option.some(START + 200))
      })
    )
  }
)
