import { AgentId } from "@agent-marketplace/domain/shared/Ids"
import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Option } from "effect"
import { InviteRepo, type InviteRow } from "../../src/admin/InviteRepo"
import { Store } from "../../src/platform/Store"
import { blockedOnLock, postgresWithClient } from "../support/PgLocks"
import { postgresSkipped, storeCases } from "../support/Stores"

const id = AgentId.make

const invite = (code_hash: string, overrides: Partial<InviteRow> = {}): InviteRow => ({
  code_hash,
  agent_id: null,
  created_at: 1_000,
  expires_at: 10_000,
  used_at: null,
  used_by: null,
  ...overrides
})

describe.each(storeCases)("InviteRepo contract ($name)", (storeCase) => {
  const run = <A, E>(effect: Effect.Effect<A, E, InviteRepo | Store>) =>
    Effect.provide(effect, storeCase.layer())

  it.effect("insert and get; unknown hashes are none", () =>
    run(
      Effect.gen(function* () {
        const repo = yield* InviteRepo
        yield* repo.insert(invite("h1"))
        yield* repo.insert(invite("h2", { agent_id: id("bound") }))
        expect(yield* repo.get("h1")).toEqual(Option.some(invite("h1")))
        expect(yield* repo.get("h2")).toEqual(Option.some(invite("h2", { agent_id: id("bound") })))
        expect(yield* repo.get("nope")).toEqual(Option.none())
      })
    )
  )

  it.effect("consume: once, before expiry (strict), only by the bound agent", () =>
    run(
      Effect.gen(function* () {
        const repo = yield* InviteRepo
        yield* repo.insert(invite("open"))
        yield* repo.insert(invite("bound", { agent_id: id("chosen") }))
        yield* repo.insert(invite("edge"))
        expect(yield* repo.consume("unknown", id("a"), 5_000)).toEqual(Option.none())
        const used = invite("open", { used_at: 5_000, used_by: id("a") })
        expect(yield* repo.consume("open", id("a"), 5_000)).toEqual(Option.some(used))
        expect(yield* repo.consume("open", id("b"), 5_001)).toEqual(Option.none())
        expect(yield* repo.get("open")).toEqual(Option.some(used))
        expect(yield* repo.consume("bound", id("other"), 5_000)).toEqual(Option.none())
        expect(Option.map(yield* repo.consume("bound", id("chosen"), 5_000), (r) => r.used_by)).toEqual(
          Option.some("chosen")
        )
        // expires_at is the first instant it no longer works.
        expect(yield* repo.consume("edge", id("a"), 10_000)).toEqual(Option.none())
        expect(Option.isSome(yield* repo.consume("edge", id("a"), 9_999))).toBe(true)
      })
    )
  )

  it.effect("a failed transaction gives a consumed invite back", () =>
    run(
      Effect.gen(function* () {
        const repo = yield* InviteRepo
        const store = yield* Store
        yield* repo.insert(invite("h"))
        const exit = yield* Effect.exit(
          store.transaction(
            Effect.zipRight(repo.consume("h", id("a"), 5_000), Effect.fail("registration failed"))
          )
        )
        expect(exit._tag).toBe("Failure")
        expect(yield* repo.get("h")).toEqual(Option.some(invite("h")))
        expect(Option.isSome(yield* repo.consume("h", id("b"), 5_000))).toBe(true)
      })
    )
  )
})

describe.skipIf(postgresSkipped)("InviteRepo on Postgres, two concurrent transactions", () => {
  /** Transaction A consumes and holds its row lock; B consumes the same code and must wait for A. */
  const race = (aCommits: boolean) =>
    Effect.gen(function* () {
      const repo = yield* InviteRepo
      const store = yield* Store
      const sql = yield* SqlClient.SqlClient
      yield* repo.insert(invite("shared"))
      const consumedByA = yield* Deferred.make<boolean>()
      const finishA = yield* Deferred.make<void>()
      const a = yield* Effect.fork(
        Effect.exit(
          store.transaction(
            Effect.gen(function* () {
              const got = yield* repo.consume("shared", id("a"), 5_000)
              yield* Deferred.succeed(consumedByA, Option.isSome(got))
              yield* Deferred.await(finishA)
              if (!aCommits) return yield* Effect.fail("a's registration failed")
              return got
            })
          )
        )
      )
      expect(yield* Deferred.await(consumedByA)).toBe(true)
      const pidOfB = yield* Deferred.make<number>()
      const b = yield* Effect.fork(
        store.transaction(
          Effect.gen(function* () {
            const [row] = yield* sql<{ pid: number }>`SELECT pg_backend_pid() AS pid`.pipe(Effect.orDie)
            yield* Deferred.succeed(pidOfB, row!.pid)
            return yield* repo.consume("shared", id("b"), 5_001)
          })
        )
      )
      yield* blockedOnLock(yield* Deferred.await(pidOfB))
      yield* Deferred.succeed(finishA, undefined)
      yield* Fiber.join(a)
      return { b: yield* Fiber.join(b), row: yield* repo.get("shared") }
    })

  it.effect("the winner commits: the waiting consumer gets nothing", () =>
    Effect.gen(function* () {
      const { b, row } = yield* race(true)
      expect(b).toEqual(Option.none())
      expect(Option.map(row, (r) => r.used_by)).toEqual(Option.some("a"))
    }).pipe(Effect.provide(postgresWithClient()))
  )

  it.effect("the winner rolls back: the waiting consumer gets the invite", () =>
    Effect.gen(function* () {
      const { b, row } = yield* race(false)
      expect(Option.map(b, (r) => r.used_by)).toEqual(Option.some("b"))
      expect(Option.map(row, (r) => r.used_by)).toEqual(Option.some("b"))
    }).pipe(Effect.provide(postgresWithClient()))
  )
})
