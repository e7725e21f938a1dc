import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

/**
 * Discover without a scan (performance.md): each `agent_capabilities` row carries a copy of its
 * agent's liveness (`alive`, `busy`, `last_heartbeat_at`), so one partial index over the alive rows
 * of a capability, in heartbeat order, yields discover's page directly — with 100k agents as with
 * 10k. Triggers keep the copy: every write of a `liveness` row updates its agent's capability rows,
 * and a capability row is inserted with its agent's current liveness (no row yet: not alive). The
 * copy is never written by the application.
 */
export default Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`ALTER TABLE agent_capabilities ADD COLUMN alive BOOLEAN NOT NULL DEFAULT false`
  yield* sql`ALTER TABLE agent_capabilities ADD COLUMN busy BOOLEAN NOT NULL DEFAULT false`
  yield* sql`ALTER TABLE agent_capabilities ADD COLUMN last_heartbeat_at BIGINT NOT NULL DEFAULT 0`
  yield* sql`UPDATE agent_capabilities SET
      alive = (SELECT l.alive FROM liveness l WHERE l.agent_id = agent_capabilities.agent_id),
      busy = (SELECT l.busy FROM liveness l WHERE l.agent_id = agent_capabilities.agent_id),
      last_heartbeat_at = (SELECT l.last_heartbeat_at FROM liveness l WHERE l.agent_id = agent_capabilities.agent_id)
    WHERE EXISTS (SELECT 1 FROM liveness l WHERE l.agent_id = agent_capabilities.agent_id)`

  // Discover's page: the alive candidates of one capability, most recent heartbeat first, ties by
  // agent id in code-unit order (Postgres: the C collation, as the query's ORDER BY); `busy` and
  // `max_concurrency` ride along so the filters need no table row.
  yield* sql.onDialectOrElse({
    pg: () => sql`CREATE INDEX agent_capabilities_discover
      ON agent_capabilities (name, last_heartbeat_at DESC, agent_id COLLATE "C", busy, max_concurrency)
      WHERE alive`,
    orElse: () => sql`CREATE INDEX agent_capabilities_discover
      ON agent_capabilities (name, last_heartbeat_at DESC, agent_id, busy, max_concurrency)
      WHERE alive`
  })

  yield* sql.onDialectOrElse({
    pg: () =>
      Effect.gen(function* () {
        yield* sql`CREATE FUNCTION liveness_to_capabilities() RETURNS trigger LANGUAGE plpgsql AS $$
          BEGIN
            UPDATE agent_capabilities
              SET alive = NEW.alive, busy = NEW.busy, last_heartbeat_at = NEW.last_heartbeat_at
              WHERE agent_id = NEW.agent_id;
            RETURN NULL;
          END
        $$`
        yield* sql`CREATE TRIGGER liveness_to_capabilities
          AFTER INSERT OR UPDATE OF alive, busy, last_heartbeat_at ON liveness
          FOR EACH ROW EXECUTE FUNCTION liveness_to_capabilities()`
        yield* sql`CREATE FUNCTION capability_from_liveness() RETURNS trigger LANGUAGE plpgsql AS $$
          DECLARE l RECORD;
          BEGIN
            SELECT alive, busy, last_heartbeat_at INTO l FROM liveness WHERE agent_id = NEW.agent_id;
            IF FOUND THEN
              NEW.alive := l.alive;
              NEW.busy := l.busy;
              NEW.last_heartbeat_at := l.last_heartbeat_at;
            END IF;
            RETURN NEW;
          END
        $$`
        yield* sql`CREATE TRIGGER capability_from_liveness
          BEFORE INSERT ON agent_capabilities
          FOR EACH ROW EXECUTE FUNCTION capability_from_liveness()`
      }),
    orElse: () =>
      Effect.gen(function* () {
        for (const event of ["INSERT", "UPDATE OF alive, busy, last_heartbeat_at"]) {
          const name =
            event === "INSERT" ? "liveness_to_capabilities_insert" : "liveness_to_capabilities_update"
          yield* sql.unsafe(`CREATE TRIGGER ${name} AFTER ${event} ON liveness
            BEGIN
              UPDATE agent_capabilities
                SET alive = NEW.alive, busy = NEW.busy, last_heartbeat_at = NEW.last_heartbeat_at
                WHERE agent_id = NEW.agent_id;
            END`)
        }
        yield* sql`CREATE TRIGGER capability_from_liveness AFTER INSERT ON agent_capabilities
          WHEN EXISTS (SELECT 1 FROM liveness WHERE agent_id = NEW.agent_id)
          BEGIN
            UPDATE agent_capabilities SET
                alive = (SELECT alive FROM liveness WHERE agent_id = NEW.agent_id),
                busy = (SELECT busy FROM liveness WHERE agent_id = NEW.agent_id),
                last_heartbeat_at = (SELECT last_heartbeat_at FROM liveness WHERE agent_id = NEW.agent_id)
              WHERE agent_id = NEW.agent_id AND name = NEW.name;
          END`
      })
  })
})
