import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Exit, Fiber, Ref, TestClock } from "effect"
import { RetryPolicy } from "../src/RetryPolicy"

describe("RetryPolicy.backoff", () => {
  it.effect("backs off exponentially and gives up within the budget (~30 s), never sleeping for real", () =>
    Effect.gen(function* () {
      const attempts = yield* Ref.make<Array<number>>([])
      const attempt = Effect.gen(function* () {
        const now = yield* TestClock.currentTimeMillis
        yield* Ref.update(attempts, (list) => [...list, now])
        return yield* Effect.fail("network down")
      })
      const fiber = yield* Effect.fork(Effect.retry(attempt, RetryPolicy.backoff("30 seconds")))
      yield* Effect.yieldNow()
      // Still retrying after 20 s …
      for (let i = 0; i < 20; i++) yield* TestClock.adjust("1 second")
      expect(yield* Fiber.poll(fiber)).toEqual(expect.objectContaining({ _tag: "None" }))
      // … and given up by 40 s.
      for (let i = 0; i < 20; i++) yield* TestClock.adjust("1 second")
      const exit = yield* Fiber.await(fiber)
      expect(Exit.isFailure(exit)).toBe(true)
      const times = yield* Ref.get(attempts)
      expect(times.length).toBeGreaterThanOrEqual(6)
      expect(times.at(-1)!).toBeLessThanOrEqual(36_000)
      const gaps = times.slice(1).map((t, i) => t - times[i]!)
      // Growing gaps (jitter aside), each at most 5 s (jittered up to +20%).
      expect(gaps[0]!).toBeLessThan(gaps[3]!)
      for (const gap of gaps) expect(gap).toBeLessThanOrEqual(Duration.toMillis("6 seconds"))
    })
  )
})
