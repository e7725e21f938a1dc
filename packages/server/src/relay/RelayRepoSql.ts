import { SqlClient } from "@effect/sql"
import { Effect, Layer, Option, Schema } from "effect"
import { decodeRows, forUpdate, SqlInt } from "../platform/Sql"
import { finalStatuses, RelayRepo, type RelayRow, usableStatuses } from "./RelayRepo"

const RelaySqlRow = Schema.Struct({
  relay_id: Schema.String,
  upload_token_hash: Schema.String,
  download_token_hash: Schema.String,
  size_bytes: SqlInt,
  max_downloads: SqlInt,
  download_count: SqlInt,
  status: Schema.Literal("created", "uploading", "uploaded", "consumed", "expired", "deleted"),
  created_at: SqlInt,
  expires_at: SqlInt,
  blob_key: Schema.NullOr(Schema.String)
})

const Count = Schema.Struct({ n: SqlInt })

/**
 * Relay slots and leases over `SqlClient` (one implementation for SQLite and Postgres). `lock` is
 * `SELECT … FOR UPDATE` on Postgres; `lockQuota` a transaction-scoped advisory lock, so creations on
 * several replicas check the global quota one at a time. SQLite's single connection already
 * serialises transactions.
 */
export const RelayRepoSql: Layer.Layer<RelayRepo, never, SqlClient.SqlClient> = Layer.effect(
  RelayRepo,
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const columns = sql.literal(
      "relay_id, upload_token_hash, download_token_hash, size_bytes, max_downloads, download_count, status, created_at, expires_at, blob_key"
    )
    const usable = sql.in(usableStatuses)
    const final = sql.in(finalStatuses)
    const one = (forLock: boolean) => (relayId: string) =>
      sql`SELECT ${columns} FROM relay_slots WHERE relay_id = ${relayId}${forLock ? forUpdate(sql) : sql.literal("")}`.pipe(
        decodeRows(RelaySqlRow),
        Effect.map((rows): Option.Option<RelayRow> => Option.fromNullable(rows[0])),
        Effect.orDie
      )
    const noLiveLease = (now: number) =>
      sql`NOT EXISTS (SELECT 1 FROM relay_leases l WHERE l.relay_id = s.relay_id AND l.lease_until > ${now})`
    const count = (statement: Effect.Effect<ReadonlyArray<unknown>, unknown>) =>
      statement.pipe(
        decodeRows(Count),
        Effect.map((rows) => rows[0]?.n ?? 0),
        Effect.orDie
      )
    /** A data-modifying statement's `RETURNING 1` rows, counted (Postgres via a CTE, SQLite directly). */
    const countReturning = (
      pg: () => Effect.Effect<ReadonlyArray<unknown>, unknown>,
      sqlite: () => Effect.Effect<ReadonlyArray<unknown>, unknown>
    ) =>
      sql
        .onDialectOrElse({
          pg: () => count(pg()),
          orElse: () => Effect.map(sqlite(), (rows) => rows.length)
        })
        .pipe(Effect.orDie)
    return {
      insert: (row) =>
        sql`INSERT INTO relay_slots ${sql.insert({ ...row })}`.pipe(Effect.asVoid, Effect.orDie),
      get: one(false),
      lock: one(true),
      update: (row) =>
        sql`UPDATE relay_slots SET download_count = ${row.download_count}, status = ${row.status},
              expires_at = ${row.expires_at}, blob_key = ${row.blob_key}
            WHERE relay_id = ${row.relay_id}`.pipe(Effect.asVoid, Effect.orDie),
      lockQuota: sql
        .onDialectOrElse({
          pg: () => sql`SELECT pg_advisory_xact_lock(hashtextextended('relay-quota', 0))`,
          orElse: () => Effect.succeed([])
        })
        .pipe(Effect.asVoid, Effect.orDie),
      activeBytes: (now, relayIds) =>
        relayIds !== undefined && relayIds.length === 0
          ? Effect.succeed(0)
          : count(
              sql`SELECT COALESCE(SUM(size_bytes), 0) AS n FROM relay_slots
                  WHERE status IN ${usable} AND expires_at > ${now}
                  ${relayIds === undefined ? sql.literal("") : sql`AND relay_id IN ${sql.in([...new Set(relayIds)])}`}`
            ),
      expireDue: (now) =>
        countReturning(
          () =>
            sql`WITH changed AS (
                  UPDATE relay_slots SET status = 'expired'
                  WHERE status IN ${usable} AND expires_at <= ${now} RETURNING 1)
                SELECT COUNT(*) AS n FROM changed`,
          () =>
            sql`UPDATE relay_slots SET status = 'expired'
                WHERE status IN ${usable} AND expires_at <= ${now} RETURNING 1 AS one`
        ),
      staleUploads: (now) =>
        sql`SELECT ${columns} FROM relay_slots s WHERE status = 'uploading' AND ${noLiveLease(now)}`.pipe(
          decodeRows(RelaySqlRow),
          Effect.orDie
        ),
      bytesToDelete: (now) =>
        sql`SELECT ${columns} FROM relay_slots s
            WHERE status IN ${final} AND blob_key IS NOT NULL AND ${noLiveLease(now)}`.pipe(
          decodeRows(RelaySqlRow),
          Effect.orDie
        ),
      removeUnusableBefore: (before) =>
        countReturning(
          () =>
            sql`WITH removed AS (
                  DELETE FROM relay_slots
                  WHERE status IN ${final} AND blob_key IS NULL AND expires_at <= ${before} RETURNING 1)
                SELECT COUNT(*) AS n FROM removed`,
          () =>
            sql`DELETE FROM relay_slots
                WHERE status IN ${final} AND blob_key IS NULL AND expires_at <= ${before} RETURNING 1 AS one`
        ),
      blobKeys: sql`SELECT blob_key FROM relay_slots WHERE blob_key IS NOT NULL`.pipe(
        decodeRows(Schema.Struct({ blob_key: Schema.String })),
        Effect.map((rows): ReadonlySet<string> => new Set(rows.map((r) => r.blob_key))),
        Effect.orDie
      ),
      putLease: (lease) =>
        sql`INSERT INTO relay_leases ${sql.insert({ ...lease })}`.pipe(Effect.asVoid, Effect.orDie),
      renewLease: (leaseId, until) =>
        sql`UPDATE relay_leases SET lease_until = ${until} WHERE lease_id = ${leaseId} RETURNING lease_id`.pipe(
          Effect.map((rows) => rows.length > 0),
          Effect.orDie
        ),
      deleteLease: (leaseId) =>
        sql`DELETE FROM relay_leases WHERE lease_id = ${leaseId}`.pipe(Effect.asVoid, Effect.orDie),
      leaseLive: (leaseId, now) =>
        count(
          sql`SELECT COUNT(*) AS n FROM relay_leases WHERE lease_id = ${leaseId} AND lease_until > ${now}`
        ).pipe(Effect.map((n) => n > 0)),
      liveLeases: (relayId, now) =>
        count(
          sql`SELECT COUNT(*) AS n FROM relay_leases WHERE relay_id = ${relayId} AND lease_until > ${now}`
        ),
      deleteLapsedLeases: (now) =>
        countReturning(
          () =>
            sql`WITH removed AS (DELETE FROM relay_leases WHERE lease_until <= ${now} RETURNING 1)
                SELECT COUNT(*) AS n FROM removed`,
          () => sql`DELETE FROM relay_leases WHERE lease_until <= ${now} RETURNING 1 AS one`
        )
    }
  })
)
