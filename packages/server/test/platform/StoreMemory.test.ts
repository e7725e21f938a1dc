import { describe, expect, it } from "@effect/vitest"
import { Cause, Deferred, Effect, Exit, Fiber, Option } from "effect"
import { recordUndo, Store, setUndoable } from "../../src/platform/Store"

const run = <A, E>(effect: Effect.Effect<A, E, Store>) => Effect.provide(effect, Store.layerMemory)

describe("the memory store's transactions", () => {
  it.effect("one writer at a time: a transaction waits while another holds the lock", () =>
    run(
      Effect.gen(function* () {
        const store = yield* Store
        const events: Array<string> = []
        const gate = yield* Deferred.make<void>()
        const inside = yield* Deferred.make<void>()
        const first = yield* Effect.fork(
          store.transaction(
            Effect.gen(function* () {
              events.push("first starts")
              yield* Deferred.succeed(inside, undefined)
              yield* Deferred.await(gate)
              events.push("first ends")
            })
          )
        )
        yield* Deferred.await(inside)
        const second = yield* Effect.fork(store.transaction(Effect.sync(() => events.push("second runs"))))
        yield* Effect.yieldNow()
        expect(events).toEqual(["first starts"])
        yield* Deferred.succeed(gate, undefined)
        yield* Fiber.join(first)
        yield* Fiber.join(second)
        expect(events).toEqual(["first starts", "first ends", "second runs"])
      })
    )
  )

  it.effect("an interrupted waiter stops waiting and never holds the lock", () =>
    run(
      Effect.gen(function* () {
        const store = yield* Store
        const gate = yield* Deferred.make<void>()
        const inside = yield* Deferred.make<void>()
        const holder = yield* Effect.fork(
          store.transaction(Effect.zipRight(Deferred.succeed(inside, undefined), Deferred.await(gate)))
        )
        yield* Deferred.await(inside)
        let waiterRan = false
        const waiter = yield* Effect.fork(store.transaction(Effect.sync(() => (waiterRan = true))))
        yield* Effect.yieldNow()
        expect(Exit.isInterrupted(yield* Fiber.interrupt(waiter))).toBe(true)
        yield* Deferred.succeed(gate, undefined)
        yield* Fiber.join(holder)
        expect(waiterRan).toBe(false)
        // The lock is free again.
        expect(yield* store.transaction(Effect.succeed("after"))).toBe("after")
      })
    )
  )

  it.effect(
    "a transaction's body is not interrupted: interrupting its fiber waits for it, then frees the lock",
    () =>
      run(
        Effect.gen(function* () {
          const store = yield* Store
          const gate = yield* Deferred.make<void>()
          const inside = yield* Deferred.make<void>()
          let finished = false
          const holder = yield* Effect.fork(
            store.transaction(
              Effect.gen(function* () {
                yield* Deferred.succeed(inside, undefined)
                yield* Deferred.await(gate)
                finished = true
              })
            )
          )
          yield* Deferred.await(inside)
          const interrupting = yield* Effect.fork(Fiber.interrupt(holder))
          yield* Effect.yieldNow()
          expect(finished).toBe(false)
          yield* Deferred.succeed(gate, undefined)
          yield* Fiber.join(interrupting)
          expect(finished).toBe(true)
          expect(yield* store.transaction(Effect.succeed(1))).toBe(1)
        })
      )
  )

  it.effect("a failure undoes the transaction's writes; a failed savepoint undoes only its own", () =>
    run(
      Effect.gen(function* () {
        const store = yield* Store
        const map = new Map<string, number>([["a", 1]])
        const failed = yield* Effect.exit(
          store.transaction(Effect.zipRight(setUndoable(map, "a", 2), Effect.fail("no")))
        )
        expect(Exit.isFailure(failed)).toBe(true)
        expect(map.get("a")).toBe(1)
        yield* store.transaction(
          Effect.gen(function* () {
            yield* setUndoable(map, "b", 1)
            const inner = yield* Effect.exit(
              store.transaction(Effect.zipRight(setUndoable(map, "c", 1), Effect.fail("inner")))
            )
            expect(Exit.isFailure(inner)).toBe(true)
          })
        )
        expect([...map.keys()].sort()).toEqual(["a", "b"])
        // A later failure of the outer transaction also undoes what a successful savepoint wrote.
        yield* Effect.exit(
          store.transaction(
            Effect.zipRight(store.transaction(setUndoable(map, "d", 1)), Effect.fail("outer"))
          )
        )
        expect(Option.fromNullable(map.get("d"))).toEqual(Option.none())
      })
    )
  )

  it.effect("an undo step that throws is a defect of its transaction, and the lock is still released", () =>
    run(
      Effect.gen(function* () {
        const store = yield* Store
        const exit = yield* Effect.exit(
          store.transaction(
            Effect.zipRight(
              recordUndo(() => {
                throw new Error("broken undo")
              }),
              Effect.fail("no")
            )
          )
        )
        expect(Exit.isFailure(exit) && Cause.isDie(exit.cause)).toBe(true)
        expect(yield* store.transaction(Effect.succeed("free"))).toBe("free")
      })
    )
  )
})
