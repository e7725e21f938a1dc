import { Capability, Lifecycle } from "@agent-marketplace/domain/registry/Agent"
import { AgentId } from "@agent-marketplace/domain/shared/Ids"
import { SqlClient } from "@effect/sql"
import type { Fragment } from "@effect/sql/Statement"
import { Effect, Layer, Option, Schema } from "effect"
import { boolParam, decodeRows, nextSequence, SqlBool, SqlInt, SqlIntOrNull, SqlJson } from "../platform/Sql"
import { AgentRepo, type AgentRow, type AgentWithLiveness, type DiscoverHit } from "./AgentRepo"

/**
 * An agent's load as a correlated subquery over `assignments` (owned by the tasks tables): its
 * `assigned` assignments plus its execute assignments in `output_ready`. Written so the
 * `(agent_id, status)` index answers it.
 */
export const loadSubquery = (sql: SqlClient.SqlClient, agentColumn: string): Fragment =>
  sql.literal(
    `(SELECT COUNT(*) FROM assignments s WHERE s.agent_id = ${agentColumn}` +
      ` AND s.status IN ('assigned', 'output_ready') AND (s.status = 'assigned' OR s.kind = 'execute'))`
  )

/** True when the agent has load (an index probe that stops at the first row). */
export const hasLoad = (sql: SqlClient.SqlClient, agentColumn: string): Fragment =>
  sql.literal(
    `EXISTS (SELECT 1 FROM assignments s WHERE s.agent_id = ${agentColumn}` +
      ` AND s.status IN ('assigned', 'output_ready') AND (s.status = 'assigned' OR s.kind = 'execute'))`
  )

const AgentColumns = {
  agent_id: AgentId,
  seq: SqlInt,
  name: Schema.NullOr(Schema.String),
  endpoint: Schema.NullOr(Schema.String),
  metadata: SqlJson(Schema.Record({ key: Schema.String, value: Schema.String })),
  lifecycle: Lifecycle,
  capabilities: SqlJson(Schema.Array(Capability)),
  public_key: Schema.NullOr(Schema.String),
  allow_bearer: SqlBool,
  created_at: SqlInt,
  updated_at: SqlInt
}

const AgentSqlRow = Schema.Struct(AgentColumns)

/**
 * The agent columns by name (never `a.*`, so a prepared statement's result keeps its shape when a
 * later migration adds a column).
 */
const agentColumnsOf = (alias: string) =>
  Object.keys(AgentColumns)
    .map((column) => `${alias}.${column}`)
    .join(", ")

const AgentWithLivenessSqlRow = Schema.Struct({
  ...AgentColumns,
  live_alive: Schema.NullOr(SqlBool),
  live_busy: Schema.NullOr(SqlBool),
  live_last_heartbeat_at: SqlIntOrNull,
  load: SqlInt
})

/**
 * A discovery row: only what the answer shows. `capabilities` stays JSON text, and only the matched
 * capability is decoded (discovery answers up to `limit` rows per request; decoding every agent's
 * metadata and every capability was most of its CPU).
 */
const DiscoverSqlRow = Schema.Struct({
  agent_id: AgentId,
  name: Schema.NullOr(Schema.String),
  endpoint: Schema.NullOr(Schema.String),
  capabilities: Schema.String,
  last_heartbeat_at: SqlInt,
  load: SqlInt
})
const discoverColumns = "a.agent_id, a.name, a.endpoint, a.capabilities"
const decodeCapability = Schema.decodeUnknownSync(Capability)

const toAgent = (row: typeof AgentSqlRow.Type): AgentRow => ({
  agent_id: row.agent_id,
  seq: row.seq,
  name: row.name,
  endpoint: row.endpoint,
  metadata: row.metadata,
  lifecycle: row.lifecycle,
  capabilities: row.capabilities,
  public_key: row.public_key,
  allow_bearer: row.allow_bearer,
  created_at: row.created_at,
  updated_at: row.updated_at
})

const toAgentWithLiveness = (row: typeof AgentWithLivenessSqlRow.Type): AgentWithLiveness => ({
  agent: toAgent(row),
  liveness:
    row.live_alive === null || row.live_busy === null || row.live_last_heartbeat_at === null
      ? Option.none()
      : Option.some({
          agent_id: row.agent_id,
          alive: row.live_alive,
          busy: row.live_busy,
          last_heartbeat_at: row.live_last_heartbeat_at
        }),
  load: row.load
})

/** The first declaration of each capability name (the memory store's `find` answers the first). */
const capabilityIndexRows = (row: AgentRow) => {
  const seen = new Set<string>()
  const out: Array<{ name: string; agent_id: string; max_concurrency: number }> = []
  for (const c of row.capabilities) {
    if (seen.has(c.name)) continue
    seen.add(c.name)
    out.push({ name: c.name, agent_id: row.agent_id, max_concurrency: c.max_concurrency })
  }
  return out
}

/**
 * Agents over `SqlClient` (SQLite and Postgres). The declared capabilities are kept as JSON on the
 * agent row and indexed by name in `agent_capabilities`, which `put` rewrites in the same transaction.
 */
export const AgentRepoSql: Layer.Layer<AgentRepo, never, SqlClient.SqlClient> = Layer.effect(
  AgentRepo,
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const agentColumns = sql.literal(agentColumnsOf("a"))
    /** Agent ids compare by code unit, as in memory (SQLite's default; Postgres needs the C collation). */
    const collateC = (column: string) =>
      sql.onDialectOrElse({
        pg: () => sql.literal(`${column} COLLATE "C"`),
        orElse: () => sql.literal(column)
      })

    const selectWithLiveness = (where: Fragment) =>
      sql`SELECT ${agentColumns}, l.alive AS live_alive, l.busy AS live_busy,
            l.last_heartbeat_at AS live_last_heartbeat_at, ${loadSubquery(sql, "a.agent_id")} AS load
          FROM agents a LEFT JOIN liveness l ON l.agent_id = a.agent_id
          WHERE ${where}`

    const toHits =
      (capability: string) =>
      (rows: ReadonlyArray<typeof DiscoverSqlRow.Type>): ReadonlyArray<DiscoverHit> =>
        rows.map((row) => ({
          agent: { agent_id: row.agent_id, name: row.name, endpoint: row.endpoint },
          // A stored capability that does not decode is a defect, as any undecodable row.
          capability: decodeCapability(
            (JSON.parse(row.capabilities) as ReadonlyArray<{ readonly name: unknown }>).find(
              (c) => c.name === capability
            )
          ),
          load: row.load,
          last_heartbeat_at: row.last_heartbeat_at
        }))

    /**
     * Candidates without load, best first: a walk of the partial index `agent_capabilities_discover`
     * (the alive rows of the capability, in heartbeat order, carrying a copy of their liveness) that
     * probes `agents` and `assignments` per row and stops once `limit` rows qualify.
     */
    const discoverIdle = (capability: string, includeBusy: boolean, limit: number) =>
      sql`SELECT ${sql.literal(discoverColumns)}, c.last_heartbeat_at, 0 AS load
          FROM agent_capabilities c JOIN agents a ON a.agent_id = c.agent_id
          WHERE c.name = ${capability} AND c.alive
            ${includeBusy ? sql.literal("") : sql.literal("AND NOT c.busy AND c.max_concurrency > 0")}
            AND a.lifecycle = 'registered' AND NOT ${hasLoad(sql, "c.agent_id")}
          ORDER BY c.last_heartbeat_at DESC, ${collateC("c.agent_id")}
          LIMIT ${limit}`.pipe(decodeRows(DiscoverSqlRow), Effect.map(toHits(capability)))

    /**
     * Every alive candidate of the capability with its load (the same index, all of its rows),
     * ordered by load, heartbeat (most recent first), agent id.
     */
    const discoverAll = (capability: string, includeBusy: boolean, limit: number) =>
      sql`SELECT ${sql.literal(discoverColumns)}, h.last_heartbeat_at, h.load FROM (
            SELECT c.agent_id, c.max_concurrency, c.last_heartbeat_at, ${loadSubquery(sql, "c.agent_id")} AS load
            FROM agent_capabilities c
            WHERE c.name = ${capability} AND c.alive
              ${includeBusy ? sql.literal("") : sql.literal("AND NOT c.busy")}
            ${sql.onDialectOrElse({ pg: () => sql.literal("OFFSET 0"), orElse: () => sql.literal("LIMIT -1 OFFSET 0") })}
          ) h JOIN agents a ON a.agent_id = h.agent_id
          WHERE a.lifecycle = 'registered'
            ${includeBusy ? sql.literal("") : sql.literal("AND h.load < h.max_concurrency")}
          ORDER BY h.load ASC, h.last_heartbeat_at DESC, ${collateC("h.agent_id")}
          LIMIT ${limit}`.pipe(decodeRows(DiscoverSqlRow), Effect.map(toHits(capability)))

    return {
      get: (agentId) =>
        sql`SELECT ${agentColumns} FROM agents a WHERE a.agent_id = ${agentId}`.pipe(
          decodeRows(AgentSqlRow),
          Effect.map((rows) => Option.map(Option.fromNullable(rows[0]), toAgent)),
          Effect.orDie
        ),

      put: (row) =>
        Effect.gen(function* () {
          const seq =
            row.seq > 0
              ? row.seq
              : yield* Effect.provideService(nextSequence("agent"), SqlClient.SqlClient, sql)
          const stored: AgentRow = { ...row, seq }
          yield* sql`INSERT INTO agents
              (agent_id, seq, name, endpoint, metadata, lifecycle, capabilities, public_key, allow_bearer,
               created_at, updated_at)
            VALUES (${row.agent_id}, ${seq}, ${row.name}, ${row.endpoint}, ${JSON.stringify(row.metadata)},
              ${row.lifecycle}, ${JSON.stringify(row.capabilities)}, ${row.public_key},
              ${boolParam(sql, row.allow_bearer)}, ${row.created_at}, ${row.updated_at})
            ON CONFLICT (agent_id) DO UPDATE SET
              seq = excluded.seq, name = excluded.name, endpoint = excluded.endpoint,
              metadata = excluded.metadata, lifecycle = excluded.lifecycle,
              capabilities = excluded.capabilities, public_key = excluded.public_key,
              allow_bearer = excluded.allow_bearer, created_at = excluded.created_at,
              updated_at = excluded.updated_at`
          yield* sql`DELETE FROM agent_capabilities WHERE agent_id = ${row.agent_id}`
          const capabilityRows = capabilityIndexRows(row)
          if (capabilityRows.length > 0) {
            yield* sql`INSERT INTO agent_capabilities ${sql.insert(capabilityRows)}`
          }
          return stored
        }).pipe(sql.withTransaction, Effect.orDie),

      getWithLiveness: (agentId) =>
        selectWithLiveness(sql`a.agent_id = ${agentId}`).pipe(
          decodeRows(AgentWithLivenessSqlRow),
          Effect.map((rows) => Option.map(Option.fromNullable(rows[0]), toAgentWithLiveness)),
          Effect.orDie
        ),

      list: ({ after, aliveOnly, includeDeregistered, lifecycle, limit }) => {
        const conditions: Array<Fragment> = []
        // An unknown `after` id compares with NULL: an empty page, as in memory.
        if (Option.isSome(after))
          conditions.push(sql`a.seq > (SELECT p.seq FROM agents p WHERE p.agent_id = ${after.value})`)
        if (!includeDeregistered) conditions.push(sql`a.lifecycle <> 'deregistered'`)
        if (lifecycle !== undefined) conditions.push(sql`a.lifecycle = ${lifecycle}`)
        if (aliveOnly) conditions.push(sql`l.alive`)
        const where = conditions.length > 0 ? sql.and(conditions) : sql.literal("1 = 1")
        return sql`${selectWithLiveness(where)} ORDER BY a.seq LIMIT ${limit}`.pipe(
          decodeRows(AgentWithLivenessSqlRow),
          Effect.map((rows) => rows.map(toAgentWithLiveness)),
          Effect.orDie
        )
      },

      discover: ({ capability, includeBusy, limit }) =>
        Effect.gen(function* () {
          // Agents without load sort first: when there are `limit` of them, the answer is the first
          // `limit` idle candidates in heartbeat order, probing load only until enough are found.
          const idle = yield* discoverIdle(capability, includeBusy, limit)
          if (idle.length >= limit) return idle
          return yield* discoverAll(capability, includeBusy, limit)
        }).pipe(Effect.orDie)
    }
  })
)
