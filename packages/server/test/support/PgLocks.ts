import { SqlClient } from "@effect/sql"
import { SqlError } from "@effect/sql/SqlError"
import { expect } from "@effect/vitest"
import { Cause, Deferred, Effect, Exit, Fiber, Layer, Redacted } from "effect"
import { Store } from "../../src/platform/Store"
import { PgClientLive, StoreSqlLive } from "../../src/platform/StoreLayers"
import { freshPostgresSchema } from "./Stores"

/** Row-lock checks for the Postgres repository contract tests. */

/** The Postgres store of a fresh schema, with its `SqlClient` (to bound lock waits in the tests). */
export const postgresWithClient = () =>
  Layer.unwrapScoped(
    Effect.map(freshPostgresSchema, ({ url }) =>
      StoreSqlLive.pipe(Layer.provideMerge(PgClientLive(Redacted.make(url))), Layer.orDie)
    )
  )

/**
 * While one transaction holds `lock`'s row locks, whether `attempt` in a second transaction (with
 * `lock_timeout` set, so a wait becomes an error instead of a hang) fails on a lock timeout.
 */
export const blockedWhileHeld = (lock: Effect.Effect<unknown>, attempt: Effect.Effect<unknown>) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const store = yield* Store
    const held = yield* Deferred.make<void>()
    const release = yield* Deferred.make<void>()
    const holder = yield* Effect.fork(
      store.transaction(
        lock.pipe(
          Effect.zipRight(Deferred.succeed(held, undefined)),
          Effect.zipRight(Deferred.await(release))
        )
      )
    )
    yield* Deferred.await(held)
    const exit = yield* Effect.exit(
      store.transaction(Effect.zipRight(sql`SET LOCAL lock_timeout = '200ms'`.pipe(Effect.orDie), attempt))
    )
    yield* Deferred.succeed(release, undefined)
    yield* Fiber.join(holder)
    if (Exit.isSuccess(exit)) return false
    // the defect is the SqlError of a lock timeout (55P03), not some other failure
    const error = Cause.squash(exit.cause)
    expect(error).toBeInstanceOf(SqlError)
    expect((error as SqlError).cause).toMatchObject({ code: "55P03" })
    return true
  })

/** Waits (without sleeping) until the backend `pid` is blocked on a lock. */
export const blockedOnLock = (pid: number) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql<{
      wait_event_type: string | null
    }>`SELECT wait_event_type FROM pg_stat_activity WHERE pid = ${pid}`.pipe(
      Effect.map((rows) => rows[0]?.wait_event_type === "Lock"),
      Effect.repeat({ until: (blocked) => blocked }),
      Effect.orDie
    )
  )
