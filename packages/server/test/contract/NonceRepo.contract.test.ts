import { AgentId } from "@agent-marketplace/domain/shared/Ids"
import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Fiber } from "effect"
import { NonceRepo } from "../../src/identity/NonceRepo"
import { Store } from "../../src/platform/Store"
import { blockedOnLock, postgresWithClient } from "../support/PgLocks"
import { postgresSkipped, storeCases } from "../support/Stores"

const alpha = AgentId.make("alpha")
const beta = AgentId.make("beta")
const NOW = 1_700_000_000_000

const seen = (agent_id: AgentId, nonce: string, expires_at = NOW + 120_000, now = NOW) =>
  Effect.flatMap(NonceRepo, (repo) => repo.insert({ agent_id, nonce, expires_at, now }))

describe.each(storeCases)("NonceRepo contract ($name)", (storeCase) => {
  const run = <A, E>(effect: Effect.Effect<A, E, NonceRepo | Store>) =>
    Effect.provide(effect, storeCase.layer())

  it.effect(
    "insert is true for a new (agent, nonce) and false for a replay; agents have their own nonces",
    () =>
      run(
        Effect.gen(function* () {
          expect(yield* seen(alpha, "n-1")).toBe(true)
          expect(yield* seen(alpha, "n-1")).toBe(false)
          // A replay with another expiry is still a replay.
          expect(yield* seen(alpha, "n-1", NOW + 999_999)).toBe(false)
          expect(yield* seen(beta, "n-1")).toBe(true)
          expect(yield* seen(alpha, "N-1")).toBe(true)
          expect(yield* seen(alpha, "n-2")).toBe(true)
        })
      )
  )

  it.effect("a nonce whose expiry has passed (not yet collected) is taken over; one still valid is not", () =>
    run(
      Effect.gen(function* () {
        expect(yield* seen(alpha, "old", NOW + 1)).toBe(true)
        expect(yield* seen(alpha, "old", NOW + 120_000, NOW)).toBe(false)
        expect(yield* seen(alpha, "old", NOW + 120_001, NOW + 1)).toBe(true)
        // Taken over with the new expiry: still a replay until then.
        expect(yield* seen(alpha, "old", NOW + 300_000, NOW + 120_000)).toBe(false)
      })
    )
  )

  it.effect("deleteExpired deletes the nonces expired at the instant, counts them, keeps the others", () =>
    run(
      Effect.gen(function* () {
        const repo = yield* NonceRepo
        yield* seen(alpha, "a", NOW - 1)
        yield* seen(alpha, "b", NOW)
        yield* seen(beta, "c", NOW + 1)
        expect(yield* repo.deleteExpired(NOW)).toBe(2)
        expect(yield* repo.deleteExpired(NOW)).toBe(0)
        // "c" is still remembered at NOW; "a" is free again.
        expect(yield* seen(beta, "c", NOW + 5, NOW)).toBe(false)
        expect(yield* seen(alpha, "a", NOW + 5, NOW)).toBe(true)
      })
    )
  )

  it.effect("an insert inside a failed transaction is undone", () =>
    run(
      Effect.gen(function* () {
        const store = yield* Store
        const failed = yield* Effect.either(
          store.transaction(Effect.zipRight(seen(alpha, "t"), Effect.fail("no")))
        )
        expect(failed._tag).toBe("Left")
        expect(yield* seen(alpha, "t")).toBe(true)
      })
    )
  )
})

describe.skipIf(postgresSkipped)("NonceRepo on Postgres, two replicas", () => {
  it.effect(
    "the same nonce from two connections at once: the second waits for the first and is refused",
    () =>
      Effect.gen(function* () {
        const store = yield* Store
        const sql = yield* SqlClient.SqlClient
        const insertedByA = yield* Deferred.make<void>()
        const releaseA = yield* Deferred.make<void>()
        const replicaA = yield* Effect.fork(
          store.transaction(
            Effect.gen(function* () {
              const fresh = yield* seen(alpha, "race")
              yield* Deferred.succeed(insertedByA, undefined)
              yield* Deferred.await(releaseA)
              return fresh
            })
          )
        )
        yield* Deferred.await(insertedByA)
        const pidOfB = yield* Deferred.make<number>()
        const replicaB = yield* Effect.fork(
          store.transaction(
            Effect.gen(function* () {
              const [row] = yield* sql<{ pid: number }>`SELECT pg_backend_pid() AS pid`.pipe(Effect.orDie)
              yield* Deferred.succeed(pidOfB, row!.pid)
              return yield* seen(alpha, "race")
            })
          )
        )
        yield* blockedOnLock(yield* Deferred.await(pidOfB))
        yield* Deferred.succeed(releaseA, undefined)
        expect(yield* Fiber.join(replicaA)).toBe(true)
        expect(yield* Fiber.join(replicaB)).toBe(false)
      }).pipe(Effect.provide(postgresWithClient()))
  )
})
