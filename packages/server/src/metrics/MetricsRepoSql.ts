import { SqlClient } from "@effect/sql"
import { Effect, Layer, Schema } from "effect"
import { decodeRows, SqlInt } from "../platform/Sql"
import { usableStatuses } from "../relay/RelayRepo"
import { MetricsRepo } from "./MetricsRepo"

const Snapshot = Schema.Struct({
  agents_alive: SqlInt,
  active_holds: SqlInt,
  active_hold_amount: SqlInt,
  relay_stored_bytes: SqlInt,
  relay_reserved_bytes: SqlInt
})

/**
 * The gauges' counts in one statement (SQLite and Postgres): one snapshot on Postgres, so the hold
 * count and amount always agree. Alive agents use `liveness_alive_heartbeat`; holds and relay slots
 * are counted by scanning their tables (a scrape every few seconds, see design/metrics.md).
 */
export const MetricsRepoSql: Layer.Layer<MetricsRepo, never, SqlClient.SqlClient> = Layer.effect(
  MetricsRepo,
  Effect.map(SqlClient.SqlClient, (sql) => ({
    snapshot: (now) =>
      sql`SELECT
            (SELECT COUNT(*) FROM liveness WHERE alive) AS agents_alive,
            (SELECT COUNT(*) FROM holds WHERE status = 'active') AS active_holds,
            (SELECT COALESCE(SUM(amount), 0) FROM holds WHERE status = 'active') AS active_hold_amount,
            (SELECT COALESCE(SUM(size_bytes), 0) FROM relay_slots WHERE blob_key IS NOT NULL)
              AS relay_stored_bytes,
            (SELECT COALESCE(SUM(size_bytes), 0) FROM relay_slots
              WHERE status IN ${sql.in(usableStatuses)} AND expires_at > ${now}) AS relay_reserved_bytes`.pipe(
        decodeRows(Snapshot),
        Effect.map(([row]) => ({
          agentsAlive: row!.agents_alive,
          activeHolds: row!.active_holds,
          activeHoldAmount: row!.active_hold_amount,
          relayStoredBytes: row!.relay_stored_bytes,
          relayReservedBytes: row!.relay_reserved_bytes
        })),
        Effect.orDie
      )
  }))
)
