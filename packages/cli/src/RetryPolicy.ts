import { Config, Context, Duration, Effect, Layer, Option, Schedule } from "effect"

/**
 * How long one invocation keeps retrying network failures, 5xx answers and 409
 * `IdempotencyInProgressError` (always with the same request, so the same idempotency key).
 */
export class RetryPolicy extends Context.Tag("cli/RetryPolicy")<
  RetryPolicy,
  {
    /** Delays between attempts; the schedule ends when the retry budget is spent. */
    readonly schedule: Schedule.Schedule<unknown, unknown>
    /** Upper bound for one attempt (connect + answer); a timed-out attempt is retried too. */
    readonly attemptTimeout: Duration.Duration
  }
>() {
  /** Exponential backoff 250 ms × 2 (jittered), each delay at most 5 s, for at most `budget` in total. */
  static readonly backoff = (budget: Duration.DurationInput): Schedule.Schedule<unknown, unknown> =>
    Schedule.exponential("250 millis", 2).pipe(
      Schedule.modifyDelay((delay) => Duration.min(delay, Duration.seconds(5))),
      Schedule.jittered,
      Schedule.upTo(budget)
    )

  static readonly make = (
    budget: Duration.DurationInput,
    attemptTimeout: Duration.DurationInput = "20 seconds"
  ) =>
    Layer.succeed(RetryPolicy, {
      schedule: RetryPolicy.backoff(budget),
      attemptTimeout: Duration.decode(attemptTimeout)
    })

  /**
   * The default budget is 30 s; `AGENT_MARKETPLACE_RETRY_SECS` changes it (0 disables retries), which
   * scripts and tests use to fail fast against a server that is down.
   */
  static readonly layer = Layer.unwrapEffect(
    Config.option(Config.number("AGENT_MARKETPLACE_RETRY_SECS")).pipe(
      Effect.orElseSucceed(() => Option.none<number>()),
      Effect.map((secs) => {
        const budget = Option.getOrElse(secs, () => 30)
        return budget <= 0 ? RetryPolicy.none : RetryPolicy.make(Duration.seconds(budget))
      })
    )
  )

  /** No retries at all. */
  static readonly none = Layer.succeed(RetryPolicy, {
    schedule: Schedule.stop,
    attemptTimeout: Duration.seconds(20)
  })

  /** Retries immediately, a few times (for tests that must not wait). */
  static readonly layerTest = (attempts = 5) =>
    Layer.succeed(RetryPolicy, {
      schedule: Schedule.recurs(attempts),
      attemptTimeout: Duration.seconds(5)
    })
}
