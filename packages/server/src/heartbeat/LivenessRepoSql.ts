import { AgentId } from "@agent-marketplace/domain/shared/Ids"
import { SqlClient } from "@effect/sql"
import type { Fragment } from "@effect/sql/Statement"
import { Effect, Layer, Option, Schema } from "effect"
import { batchedRead, boolParam, decodeRows, inList, SqlBool, SqlInt } from "../platform/Sql"
import type { LivenessRow } from "../registry/AgentRepo"
import { hasLoad } from "../registry/AgentRepoSql"
import { LivenessRepo } from "./LivenessRepo"

const ExpiredRow = Schema.Struct({ agent_id: AgentId })

const TouchedRow = Schema.Struct({ loaded: SqlBool })

const LivenessSqlRow = Schema.Struct({
  agent_id: AgentId,
  alive: SqlBool,
  busy: SqlBool,
  last_heartbeat_at: SqlInt
})

const LivenessPeekSqlRow = Schema.Struct({ ...LivenessSqlRow.fields, loaded: SqlBool })

const chunksOf = <A>(items: ReadonlyArray<A>, size: number): Array<ReadonlyArray<A>> => {
  const out: Array<ReadonlyArray<A>> = []
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size))
  return out
}

interface Cutoffs {
  readonly idleCutoff: number
  readonly busyCutoff: number
}

/**
 * Liveness over `SqlClient`. `expired` lists in first-heartbeat order (`seq`), the memory store's
 * order; `claimTimeout` is one conditional `UPDATE … RETURNING`, so of several replicas sweeping the
 * same outage exactly one gets the row back.
 */
export const LivenessRepoSql: Layer.Layer<LivenessRepo, never, SqlClient.SqlClient> = Layer.effect(
  LivenessRepo,
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient

    /**
     * Alive and silent past its cutoff (strictly): the busy cutoff when it said busy or has load,
     * else the idle cutoff. The first comparison lets the `(alive, last_heartbeat_at)` index bound
     * the scan.
     */
    const silentPast = (table: "l" | "liveness", { busyCutoff, idleCutoff }: Cutoffs): Fragment => {
      const t = sql.literal(table)
      const effectivelyBusy = sql`(${t}.busy OR ${hasLoad(sql, `${table}.agent_id`)})`
      return sql`${t}.alive AND ${t}.last_heartbeat_at < ${Math.max(busyCutoff, idleCutoff)}
        AND ((${t}.last_heartbeat_at < ${busyCutoff} AND ${effectivelyBusy})
          OR (${t}.last_heartbeat_at < ${idleCutoff} AND NOT ${effectivelyBusy}))`
    }

    /** The stored row and whether the agent has load, for each of `agentIds` that has a row. */
    const peeksOf = (agentIds: ReadonlyArray<AgentId>) =>
      sql`SELECT agent_id, alive, busy, last_heartbeat_at, ${hasLoad(sql, "liveness.agent_id")} AS loaded
          FROM liveness WHERE agent_id IN ${inList(sql, agentIds)}`.pipe(
        decodeRows(LivenessPeekSqlRow),
        Effect.map((rows) => new Map(rows.map(({ loaded, ...row }) => [row.agent_id, { row, loaded }]))),
        Effect.orDie
      )
    const peek = yield* batchedRead(peeksOf)

    return {
      get: (agentId) =>
        sql`SELECT agent_id, alive, busy, last_heartbeat_at FROM liveness WHERE agent_id = ${agentId}`.pipe(
          decodeRows(LivenessSqlRow),
          Effect.map((rows): Option.Option<LivenessRow> => Option.fromNullable(rows[0])),
          Effect.orDie
        ),
      put: (row) =>
        sql`INSERT INTO liveness (agent_id, alive, busy, last_heartbeat_at)
            VALUES (${row.agent_id}, ${boolParam(sql, row.alive)}, ${boolParam(sql, row.busy)},
              ${row.last_heartbeat_at})
            ON CONFLICT (agent_id) DO UPDATE SET
              alive = excluded.alive, busy = excluded.busy, last_heartbeat_at = excluded.last_heartbeat_at`.pipe(
          Effect.asVoid,
          Effect.orDie
        ),
      // One statement: the row's own lock makes it atomic against a sweep's `claimTimeout` (whichever
      // commits second re-checks its condition against the other's row).
      touch: (agentId, busy, now) =>
        sql`UPDATE liveness SET busy = ${boolParam(sql, busy)}, last_heartbeat_at = ${now}
            WHERE liveness.agent_id = ${agentId} AND liveness.alive
            RETURNING ${hasLoad(sql, "liveness.agent_id")} AS loaded`.pipe(
          decodeRows(TouchedRow),
          Effect.map((rows) => Option.fromNullable(rows[0])),
          Effect.orDie
        ),
      // Asked by every coalesced beat: the peeks of one event-loop turn share one query
      // (`batchedRead`; never a cache).
      peek,
      // One statement per chunk of agents; `at` is cast so Postgres compares it as a number.
      writeLastSeen: (batch) =>
        Effect.forEach(
          chunksOf(batch, 500),
          (chunk) =>
            sql`UPDATE liveness SET last_heartbeat_at = v.at
                FROM (SELECT column1 AS agent_id, CAST(column2 AS BIGINT) AS at FROM (VALUES ${sql.join(
                  ", ",
                  false
                )(chunk.map((e) => sql`(${e.agent_id}, ${e.at})`))}) AS t) AS v
                WHERE liveness.agent_id = v.agent_id AND liveness.last_heartbeat_at < v.at`,
          { discard: true }
        ).pipe(Effect.orDie),
      expired: (cutoffs) =>
        sql`SELECT l.agent_id FROM liveness l WHERE ${silentPast("l", cutoffs)} ORDER BY l.seq`.pipe(
          decodeRows(ExpiredRow),
          Effect.map((rows) => rows.map((r) => r.agent_id)),
          Effect.orDie
        ),
      // The conditions name the updated row itself, so on Postgres a claimer that waited for another's
      // row lock re-checks them against the committed row (alive is false by then) and gets nothing.
      claimTimeout: (agentId, cutoffs) =>
        sql`UPDATE liveness SET alive = ${boolParam(sql, false)}
            WHERE liveness.agent_id = ${agentId} AND ${silentPast("liveness", cutoffs)}
            RETURNING agent_id`.pipe(
          Effect.map((rows) => rows.length > 0),
          Effect.orDie
        )
    }
  })
)
