import { Clock, Effect, type Scope, Stream, SubscriptionRef } from "effect"

/**
 * Runs `task` for the life of the scope at fixed ticks, start + k × `intervalMs`. A run that ends
 * after the next tick has passed is followed at once by one more (missed ticks are not replayed one
 * by one), so after any pause — a slow database, a TestClock jump — the last run has seen the
 * current instant. `idle` completes once no run is due at the current instant: TestClock-driven
 * tests wait on it instead of racing a run's store work.
 */
export const fixedTicks = <E, R>(
  task: Effect.Effect<void, E, R>,
  intervalMs: number
): Effect.Effect<{ readonly idle: Effect.Effect<void> }, never, R | Scope.Scope> =>
  Effect.gen(function* () {
    const start = yield* Clock.currentTimeMillis
    const nextDue = yield* SubscriptionRef.make(start + intervalMs)
    yield* Effect.gen(function* () {
      const due = yield* SubscriptionRef.get(nextDue)
      const now = yield* Clock.currentTimeMillis
      if (due > now) yield* Effect.sleep(due - now)
      yield* Effect.ignore(task)
      const after = yield* Clock.currentTimeMillis
      yield* SubscriptionRef.set(nextDue, Math.max(due + intervalMs, after))
    }).pipe(Effect.forever, Effect.forkScoped)
    return {
      idle: Effect.flatMap(Clock.currentTimeMillis, (now) =>
        nextDue.changes.pipe(
          Stream.filter((due) => due > now),
          Stream.take(1),
          Stream.runDrain
        )
      )
    }
  })
