import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

/**
 * Agents, their capabilities, bearer tokens and liveness.
 *
 * - `agents.capabilities` is the declared list as JSON (order and contracts kept); `agent_capabilities`
 *   repeats each declared name with its `max_concurrency` so discover starts from an index on the
 *   capability name instead of scanning agents.
 * - `tokens` holds SHA-256 hex hashes only.
 * - `liveness.seq` is the order in which agents first beat (the memory store's iteration order),
 *   assigned by the database and kept by the heartbeat upsert.
 */
export default Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`CREATE TABLE agents (
    agent_id TEXT PRIMARY KEY,
    seq BIGINT NOT NULL,
    name TEXT NULL,
    endpoint TEXT NULL,
    metadata TEXT NOT NULL,
    lifecycle TEXT NOT NULL,
    capabilities TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
  )`
  yield* sql`CREATE INDEX agents_seq ON agents (seq)`

  yield* sql`CREATE TABLE agent_capabilities (
    agent_id TEXT NOT NULL,
    name TEXT NOT NULL,
    max_concurrency BIGINT NOT NULL,
    PRIMARY KEY (agent_id, name)
  )`
  // Discover's entry point; covering, so the candidates of one capability come from the index alone.
  yield* sql`CREATE INDEX agent_capabilities_name ON agent_capabilities (name, agent_id, max_concurrency)`

  yield* sql`CREATE TABLE tokens (
    token_hash TEXT PRIMARY KEY,
    agent_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT NULL
  )`
  yield* sql`CREATE INDEX tokens_agent ON tokens (agent_id)`

  yield* sql.onDialectOrElse({
    pg: () => sql`CREATE TABLE liveness (
      agent_id TEXT PRIMARY KEY,
      seq BIGINT GENERATED ALWAYS AS IDENTITY,
      alive BOOLEAN NOT NULL,
      busy BOOLEAN NOT NULL,
      last_heartbeat_at BIGINT NOT NULL
    )`,
    orElse: () => sql`CREATE TABLE liveness (
      seq INTEGER PRIMARY KEY AUTOINCREMENT,
      agent_id TEXT NOT NULL UNIQUE,
      alive BOOLEAN NOT NULL,
      busy BOOLEAN NOT NULL,
      last_heartbeat_at BIGINT NOT NULL
    )`
  })
  // The sweep's candidates: alive rows silent since before a cutoff.
  yield* sql`CREATE INDEX liveness_alive_heartbeat ON liveness (alive, last_heartbeat_at)`
})
