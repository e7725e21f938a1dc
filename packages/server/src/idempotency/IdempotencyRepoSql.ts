import { SqlClient } from "@effect/sql"
import { Effect, Layer, Option, Schema } from "effect"
import { decodeRows, SqlInt } from "../platform/Sql"
import { IdempotencyRepo, type IdempotencyRow } from "./IdempotencyRepo"

const DeletedCountRow = Schema.Struct({ n: SqlInt })

/** `caller` is the scope as given (an agent id, or the operator's scope `@operator`). */
const IdempotencySqlRow = Schema.Struct({
  caller: Schema.String,
  key: Schema.String,
  fingerprint: Schema.String,
  status: SqlInt,
  body: Schema.String,
  created_at: SqlInt
})

/**
 * Idempotency records over `SqlClient`. `lock` is a transaction-scoped advisory lock on Postgres (a
 * 64-bit hash of caller and key; agent ids and keys contain no space, so the pair is unambiguous),
 * held until commit, so the same key arriving at two replicas is applied once; SQLite's single
 * connection already serialises transactions. The primary key (caller, key) decides `insert`.
 */
export const IdempotencyRepoSql: Layer.Layer<IdempotencyRepo, never, SqlClient.SqlClient> = Layer.effect(
  IdempotencyRepo,
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    return {
      lock: (caller, key) =>
        sql
          .onDialectOrElse({
            pg: () => sql`SELECT pg_advisory_xact_lock(hashtextextended(${`${caller} ${key}`}, 0))`,
            orElse: () => Effect.succeed([])
          })
          .pipe(Effect.asVoid, Effect.orDie),
      get: (caller, key) =>
        sql`SELECT caller, key, fingerprint, status, body, created_at FROM idempotency
            WHERE caller = ${caller} AND key = ${key}`.pipe(
          decodeRows(IdempotencySqlRow),
          Effect.map(
            (rows): Option.Option<IdempotencyRow> =>
              Option.map(Option.fromNullable(rows[0]), (row) => ({ ...row, caller }))
          ),
          Effect.orDie
        ),
      insert: (row) =>
        sql`INSERT INTO idempotency (caller, key, fingerprint, status, body, created_at)
            VALUES (${row.caller}, ${row.key}, ${row.fingerprint}, ${row.status}, ${row.body}, ${row.created_at})
            ON CONFLICT (caller, key) DO NOTHING
            RETURNING caller`.pipe(
          Effect.map((rows) => rows.length > 0),
          Effect.orDie
        ),
      deleteBefore: (before) =>
        sql
          .onDialectOrElse({
            pg: () =>
              sql`WITH deleted AS (DELETE FROM idempotency WHERE created_at < ${before} RETURNING 1)
                  SELECT COUNT(*) AS n FROM deleted`.pipe(
                decodeRows(DeletedCountRow),
                Effect.map((rows) => rows[0]!.n)
              ),
            orElse: () =>
              sql`DELETE FROM idempotency WHERE created_at < ${before} RETURNING 1 AS one`.pipe(
                Effect.map((rows) => rows.length)
              )
          })
          .pipe(Effect.orDie)
    }
  })
)
