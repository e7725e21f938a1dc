import type { HeartbeatResponse } from "@agent-marketplace/domain/heartbeat/Heartbeat"
import type { AgentId } from "@agent-marketplace/domain/shared/Ids"
import { Clock, Context, Duration, Effect, Layer, Option } from "effect"
import { Idempotency } from "../idempotency/Idempotency"
import { NonceRepo } from "../identity/NonceRepo"
import { Metrics } from "../metrics/Metrics"
import { ServerConfig } from "../platform/ServerConfig"
import { Store } from "../platform/Store"
import { fixedTicks } from "../platform/Ticker"
import { TaskRepo } from "../tasks/TaskRepo"
import { Tasks } from "../tasks/Tasks"
import { LivenessRepo } from "./LivenessRepo"

export interface SweepReport {
  readonly timedOut: ReadonlyArray<AgentId>
  readonly overdue: ReadonlyArray<string>
  readonly idempotencyCollected: number
  /** Signature nonces past their expiry, deleted. */
  readonly noncesCollected: number
}

/** Liveness: heartbeats, timeouts with their cleanup, assignment deadlines. */
export class Heartbeat extends Context.Tag("Heartbeat")<
  Heartbeat,
  {
    readonly beat: (caller: AgentId, busy: boolean) => Effect.Effect<HeartbeatResponse>
    /**
     * One sweep: timeouts (each cleaned up exactly once per outage), overdue assignments, old
     * idempotency records, expired signature nonces.
     */
    readonly sweep: Effect.Effect<SweepReport>
  }
>() {}

export const HeartbeatLive = Layer.scoped(
  Heartbeat,
  Effect.gen(function* () {
    const liveness = yield* LivenessRepo
    const taskRepo = yield* TaskRepo
    const tasks = yield* Tasks
    const store = yield* Store
    const idempotency = yield* Idempotency
    const nonces = yield* NonceRepo
    const config = yield* ServerConfig
    const window = config.heartbeatCoalesceMs

    // With coalescing, a last-seen time may reach the store up to `window` late: the sweep adds it to
    // every timeout (storage-and-deploy.md).
    const cutoffs = (now: number) => ({
      idleCutoff: now - config.idleTimeoutMs - window,
      busyCutoff: now - config.busyTimeoutMs - window
    })

    const answer = (
      caller: AgentId,
      outcome: HeartbeatResponse["outcome"],
      effectivelyBusy: boolean
    ): HeartbeatResponse => ({
      agent_id: caller,
      outcome,
      timeout_ms: effectivelyBusy ? config.busyTimeoutMs : config.idleTimeoutMs
    })

    /** First beat, or the first after a timeout or deregistration: read, decide, write, together. */
    const beatInTransaction = (caller: AgentId, busy: boolean) =>
      store.transaction(
        Effect.gen(function* () {
          const now = yield* Clock.currentTimeMillis
          const previous = yield* liveness.get(caller)
          const outcome = Option.match(previous, {
            onNone: () => "first_seen" as const,
            onSome: (p) => (p.alive ? ("updated" as const) : ("recovered" as const))
          })
          yield* liveness.put({ agent_id: caller, alive: true, busy, last_heartbeat_at: now })
          const effectivelyBusy = busy || (yield* taskRepo.loadOf(caller)) > 0
          return answer(caller, outcome, effectivelyBusy)
        })
      )

    /** An alive agent's beat is one atomic `touch` (a single statement on SQL), else the transaction. */
    const writeThrough = (caller: AgentId, busy: boolean, now: number) =>
      Effect.flatMap(liveness.touch(caller, busy, now), (touched) =>
        Option.isSome(touched)
          ? Effect.succeed(answer(caller, "updated", busy || touched.value.loaded))
          : beatInTransaction(caller, busy)
      )

    /**
     * Coalescing: last-seen times of alive agents waiting for the next batched write (the latest per
     * agent). Only a beat that changes nothing but the time is buffered, and only while the stored
     * time is at least `window` inside the shorter timeout, so no sweep can find the agent silent
     * before its buffered time is written (at most `window` later, given a flush every `window / 2`
     * that takes less than `1.5 × window`). Answers always come from the stored state.
     */
    let pending = new Map<AgentId, number>()
    const horizon = Math.min(config.idleTimeoutMs, config.busyTimeoutMs) - window
    const flush = Effect.suspend(() => {
      if (pending.size === 0) return Effect.void
      const batch = pending
      pending = new Map()
      return liveness.writeLastSeen(Array.from(batch, ([agent_id, at]) => ({ agent_id, at }))).pipe(
        Effect.catchAllCause((cause) =>
          Effect.zipRight(
            Effect.sync(() => {
              // Kept for the next flush (a newer time for the same agent wins).
              for (const [agentId, at] of batch) pending.set(agentId, Math.max(pending.get(agentId) ?? 0, at))
            }),
            Effect.logError("heartbeat flush failed", cause)
          )
        ),
        Effect.uninterruptible
      )
    })
    if (window > 0) {
      // Added before the loop, so it runs after the loop is interrupted: the last buffered times are
      // written at shutdown.
      yield* Effect.addFinalizer(() => flush)
      yield* Effect.sleep(Duration.millis(window / 2)).pipe(
        Effect.zipRight(flush),
        Effect.forever,
        Effect.forkScoped
      )
    }

    const coalesced = (caller: AgentId, busy: boolean, now: number) =>
      Effect.flatMap(liveness.peek(caller), (peeked) => {
        if (Option.isNone(peeked) || !peeked.value.row.alive) return beatInTransaction(caller, busy)
        const { loaded, row } = peeked.value
        if (row.busy !== busy || now - row.last_heartbeat_at > horizon) return writeThrough(caller, busy, now)
        pending.set(caller, Math.max(pending.get(caller) ?? 0, now))
        return Effect.succeed(answer(caller, "updated", busy || loaded))
      })

    return {
      beat: (caller, busy) =>
        Effect.flatMap(Clock.currentTimeMillis, (now) =>
          window > 0 ? coalesced(caller, busy, now) : writeThrough(caller, busy, now)
        ),
      sweep: Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        const timedOut: Array<AgentId> = []
        for (const agentId of yield* liveness.expired(cutoffs(now))) {
          const claimed = yield* store.transaction(
            Effect.gen(function* () {
              if (!(yield* liveness.claimTimeout(agentId, cutoffs(now)))) return false
              yield* tasks.releaseAgent(agentId)
              return true
            })
          )
          if (claimed) timedOut.push(agentId)
        }
        const overdue: Array<string> = []
        for (const a of yield* taskRepo.overdue(now)) {
          const done = yield* store.transaction(
            Effect.gen(function* () {
              const current = yield* taskRepo.lockAssignment(a.assignment_id)
              if (Option.isNone(current) || current.value.status !== "assigned") return false
              if (current.value.deadline_at === null || current.value.deadline_at > now) return false
              yield* tasks.finalize(current.value, "cancelled")
              return true
            })
          )
          if (done) overdue.push(a.assignment_id)
        }
        const idempotencyCollected = yield* idempotency.collect
        const noncesCollected = yield* nonces.deleteExpired(now)
        if (timedOut.length > 0 || overdue.length > 0) {
          yield* Effect.logInfo("sweep").pipe(
            Effect.annotateLogs({ timed_out: timedOut.length, overdue: overdue.length })
          )
        }
        return { timedOut, overdue, idempotencyCollected, noncesCollected }
      }).pipe(Effect.withSpan("Heartbeat.sweep"))
    }
  })
)

/**
 * The background sweep: runs `Heartbeat.sweep` every `AGENT_MARKETPLACE_SWEEP_INTERVAL_MS` (measured
 * from the end of the previous sweep) for the life of the server.
 */
export class Sweeper extends Context.Tag("Sweeper")<
  Sweeper,
  {
    /**
     * Completes once no sweep is due at the current instant: every sweep whose time has come has
     * finished. Lets TestClock-driven tests wait for a sweep's database work instead of sleeping.
     */
    readonly idle: Effect.Effect<void>
  }
>() {}

export const SweeperLive = Layer.scoped(
  Sweeper,
  Effect.gen(function* () {
    const heartbeat = yield* Heartbeat
    const metrics = yield* Metrics
    const config = yield* ServerConfig
    return yield* fixedTicks(
      heartbeat.sweep.pipe(
        metrics.timeSweep("heartbeat"),
        Effect.catchAllCause((cause) => Effect.logError("sweep failed", cause))
      ),
      config.sweepIntervalMs
    )
  })
)
