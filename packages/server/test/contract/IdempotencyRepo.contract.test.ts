import { AgentId } from "@agent-marketplace/domain/shared/Ids"
import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Option, Ref } from "effect"
import { IdempotencyRepo, type IdempotencyRow } from "../../src/idempotency/IdempotencyRepo"
import { Store } from "../../src/platform/Store"
import { blockedOnLock, postgresWithClient } from "../support/PgLocks"
import { postgresSkipped, storeCases } from "../support/Stores"

const alpha = AgentId.make("alpha")
const beta = AgentId.make("beta")

const record = (caller: AgentId, key: string, overrides: Partial<IdempotencyRow> = {}): IdempotencyRow => ({
  caller,
  key,
  fingerprint: `fp-${key}`,
  status: 201,
  body: `{"key":"${key}","note":"é ✓ \\u0000"}`,
  created_at: 1_000,
  ...overrides
})

describe.each(storeCases)("IdempotencyRepo contract ($name)", (storeCase) => {
  const run = <A, E>(effect: Effect.Effect<A, E, IdempotencyRepo | Store>) =>
    Effect.provide(effect, storeCase.layer())

  it.effect("insert stores a record that get returns exactly; a duplicate (caller, key) is refused", () =>
    run(
      Effect.gen(function* () {
        const repo = yield* IdempotencyRepo
        const row = record(alpha, "k-1", { status: 409, created_at: 1_700_000_000_000 })
        expect(yield* repo.insert(row)).toBe(true)
        expect(yield* repo.get(alpha, "k-1")).toEqual(Option.some(row))
        expect(yield* repo.insert({ ...row, fingerprint: "other", status: 200, body: "{}" })).toBe(false)
        expect(yield* repo.get(alpha, "k-1")).toEqual(Option.some(row))
      })
    )
  )

  it.effect("records are keyed by caller and key together", () =>
    run(
      Effect.gen(function* () {
        const repo = yield* IdempotencyRepo
        expect(yield* repo.insert(record(alpha, "k"))).toBe(true)
        expect(yield* repo.insert(record(beta, "k", { body: "beta" }))).toBe(true)
        expect(yield* repo.insert(record(alpha, "K"))).toBe(true)
        expect(Option.map(yield* repo.get(beta, "k"), (r) => r.body)).toEqual(Option.some("beta"))
        expect(Option.map(yield* repo.get(alpha, "K"), (r) => r.key)).toEqual(Option.some("K"))
        expect(yield* repo.get(alpha, "missing")).toEqual(Option.none())
        expect(yield* repo.get(AgentId.make("gamma"), "k")).toEqual(Option.none())
      })
    )
  )

  it.effect("deleteBefore deletes records created strictly before the instant and counts them", () =>
    run(
      Effect.gen(function* () {
        const repo = yield* IdempotencyRepo
        for (const [key, at] of [
          ["a", 100],
          ["b", 199],
          ["c", 200],
          ["d", 300]
        ] as const)
          yield* repo.insert(record(alpha, key, { created_at: at }))
        yield* repo.insert(record(beta, "e", { created_at: 50 }))
        expect(yield* repo.deleteBefore(200)).toBe(3)
        expect(yield* repo.deleteBefore(200)).toBe(0)
        for (const [caller, key] of [
          [alpha, "a"],
          [alpha, "b"],
          [beta, "e"]
        ] as const)
          expect(yield* repo.get(caller, key)).toEqual(Option.none())
        expect(Option.isSome(yield* repo.get(alpha, "c"))).toBe(true)
        expect(Option.isSome(yield* repo.get(alpha, "d"))).toBe(true)
        // A deleted key can be used again.
        expect(yield* repo.insert(record(alpha, "a", { created_at: 400 }))).toBe(true)
        expect(yield* repo.deleteBefore(1_000)).toBe(3)
      })
    )
  )

  it.effect("lock inside a transaction, then get and insert, commits the record", () =>
    run(
      Effect.gen(function* () {
        const repo = yield* IdempotencyRepo
        const store = yield* Store
        const first = yield* store.transaction(
          Effect.gen(function* () {
            yield* repo.lock(alpha, "k")
            const existing = yield* repo.get(alpha, "k")
            return Option.isNone(existing) ? yield* repo.insert(record(alpha, "k")) : false
          })
        )
        const second = yield* store.transaction(
          Effect.gen(function* () {
            yield* repo.lock(alpha, "k")
            const existing = yield* repo.get(alpha, "k")
            return Option.isNone(existing) ? yield* repo.insert(record(alpha, "k")) : false
          })
        )
        expect([first, second]).toEqual([true, false])
        // Outside a transaction lock is harmless too.
        yield* repo.lock(beta, "k")
        expect(yield* repo.get(alpha, "k")).toEqual(Option.some(record(alpha, "k")))
      })
    )
  )

  it.effect("a failed transaction stores nothing; a failed savepoint keeps the outer record", () =>
    run(
      Effect.gen(function* () {
        const repo = yield* IdempotencyRepo
        const store = yield* Store
        yield* repo.insert(record(alpha, "old", { created_at: 10 }))
        const error = yield* store
          .transaction(
            Effect.gen(function* () {
              yield* repo.insert(record(alpha, "k"))
              expect(yield* repo.deleteBefore(100)).toBe(1)
              return yield* Effect.fail("boom")
            })
          )
          .pipe(Effect.flip)
        expect(error).toBe("boom")
        expect(yield* repo.get(alpha, "k")).toEqual(Option.none())
        expect(Option.isSome(yield* repo.get(alpha, "old"))).toBe(true)

        yield* store.transaction(
          Effect.gen(function* () {
            expect(yield* repo.insert(record(alpha, "outer"))).toBe(true)
            const inner = yield* store
              .transaction(Effect.zipRight(repo.insert(record(alpha, "inner")), Effect.fail("inner")))
              .pipe(Effect.flip)
            expect(inner).toBe("inner")
          })
        )
        expect(Option.isSome(yield* repo.get(alpha, "outer"))).toBe(true)
        expect(yield* repo.get(alpha, "inner")).toEqual(Option.none())
        // The key of the undone insert is free again.
        expect(yield* repo.insert(record(alpha, "inner"))).toBe(true)
      })
    )
  )
})

describe.skipIf(postgresSkipped)("IdempotencyRepo on Postgres, two replicas", () => {
  it.effect("lock holds a second transaction on the same (caller, key) until the first commits", () =>
    Effect.gen(function* () {
      const repo = yield* IdempotencyRepo
      const store = yield* Store
      const sql = yield* SqlClient.SqlClient
      const lockedByA = yield* Deferred.make<void>()
      const releaseA = yield* Deferred.make<void>()
      const replicaA = yield* Effect.fork(
        store.transaction(
          Effect.gen(function* () {
            yield* repo.lock(alpha, "k")
            yield* Deferred.succeed(lockedByA, undefined)
            yield* Deferred.await(releaseA)
            return yield* repo.insert(record(alpha, "k"))
          })
        )
      )
      yield* Deferred.await(lockedByA)
      const pidOfB = yield* Deferred.make<number>()
      const bHasLock = yield* Ref.make(false)
      const replicaB = yield* Effect.fork(
        store.transaction(
          Effect.gen(function* () {
            const [row] = yield* sql<{ pid: number }>`SELECT pg_backend_pid() AS pid`.pipe(Effect.orDie)
            yield* Deferred.succeed(pidOfB, row!.pid)
            yield* repo.lock(alpha, "k")
            yield* Ref.set(bHasLock, true)
            return yield* repo.get(alpha, "k")
          })
        )
      )
      yield* blockedOnLock(yield* Deferred.await(pidOfB))
      expect(yield* Ref.get(bHasLock)).toBe(false)
      // Other keys and other callers are not held up (this would hang otherwise).
      yield* store.transaction(Effect.zipRight(repo.lock(alpha, "other"), repo.lock(beta, "k")))
      yield* Deferred.succeed(releaseA, undefined)
      expect(yield* Fiber.join(replicaA)).toBe(true)
      // B got the lock only after A committed, so it sees A's record and would replay it.
      expect(yield* Fiber.join(replicaB)).toEqual(Option.some(record(alpha, "k")))
    }).pipe(Effect.provide(postgresWithClient()))
  )
})
