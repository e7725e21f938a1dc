import { describe, expect, it } from "@effect/vitest"
import { Cause, Effect, Exit, Option } from "effect"
import { makeBatchedLookup } from "../../src/platform/Batch"

/** A lookup that records the keys of every query it is sent, answering `key * 10` for even keys. */
const recording = () => {
  const queries: Array<ReadonlyArray<number>> = []
  const lookup = (keys: ReadonlyArray<number>) =>
    Effect.sync(() => {
      queries.push(keys)
      return new Map(keys.filter((k) => k % 2 === 0).map((k) => [k, k * 10]))
    })
  return { queries, lookup }
}

describe("makeBatchedLookup", () => {
  it.effect("reads asked in one turn share one query of their distinct keys; each gets its own answer", () =>
    Effect.gen(function* () {
      const { queries, lookup } = recording()
      const read = yield* makeBatchedLookup(lookup, { maxKeys: 64 })
      const answers = yield* Effect.all([read(2), read(3), read(2), read(4)], { concurrency: "unbounded" })
      expect(answers).toEqual([Option.some(20), Option.none(), Option.some(20), Option.some(40)])
      expect(queries).toEqual([[2, 3, 4]])
      // A later read is a new query (nothing is kept).
      expect(yield* read(2)).toEqual(Option.some(20))
      expect(queries).toEqual([[2, 3, 4], [2]])
    })
  )

  it.effect("more distinct keys than maxKeys go out as several queries of at most maxKeys", () =>
    Effect.gen(function* () {
      const { queries, lookup } = recording()
      const read = yield* makeBatchedLookup(lookup, { maxKeys: 3 })
      const keys = [1, 2, 3, 4, 5, 6, 7, 8]
      const answers = yield* Effect.all(keys.map(read), { concurrency: "unbounded" })
      expect(answers).toEqual(keys.map((k) => (k % 2 === 0 ? Option.some(k * 10) : Option.none())))
      expect(queries).toEqual([
        [1, 2, 3],
        [4, 5, 6],
        [7, 8]
      ])
    })
  )

  it.effect("a failed query fails every read of its batch, and the next turn queries again", () =>
    Effect.gen(function* () {
      let fail = true
      const read = yield* makeBatchedLookup(
        (keys: ReadonlyArray<number>) =>
          fail ? Effect.die(new Error("database down")) : Effect.succeed(new Map(keys.map((k) => [k, k]))),
        { maxKeys: 64 }
      )
      const exits = yield* Effect.all([Effect.exit(read(1)), Effect.exit(read(2))], {
        concurrency: "unbounded"
      })
      for (const exit of exits) {
        expect(Exit.isFailure(exit) && Cause.isDie(exit.cause)).toBe(true)
      }
      fail = false
      expect(yield* read(1)).toEqual(Option.some(1))
    })
  )
})
