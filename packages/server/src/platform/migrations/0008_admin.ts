import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

/**
 * Operator invites (`AGENT_MARKETPLACE_REGISTRATION=invite`): only the SHA-256 hex of each code is
 * kept. `used_at`/`used_by` are set once, by the registration that consumes the invite.
 */
export default Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`CREATE TABLE invites (
    code_hash TEXT PRIMARY KEY,
    agent_id TEXT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT NULL,
    used_by TEXT NULL
  )`
})
