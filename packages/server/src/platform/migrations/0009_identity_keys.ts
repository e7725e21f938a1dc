import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

/**
 * Key-bound agents (identity spec): the agent's Ed25519 public key (unpadded base64url; never a
 * private key) and whether its bearer tokens still work; and the signature nonces seen, one row per
 * (agent, nonce) until its expiry, shared by every replica and collected by the sweep.
 */
export default Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`ALTER TABLE agents ADD COLUMN public_key TEXT NULL`
  yield* sql`ALTER TABLE agents ADD COLUMN allow_bearer BOOLEAN NOT NULL DEFAULT FALSE`
  yield* sql`CREATE TABLE nonces (
    agent_id TEXT NOT NULL,
    nonce TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (agent_id, nonce)
  )`
  // The sweep's deletes.
  yield* sql`CREATE INDEX nonces_expires_at ON nonces (expires_at)`
})
