import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

/**
 * Idempotency records, one per (caller, key): the primary key decides which of two concurrent first
 * requests stores its response. `created_at` is indexed for the retention sweep.
 */
export default Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`CREATE TABLE idempotency (
    caller TEXT NOT NULL,
    key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    status INTEGER NOT NULL,
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (caller, key)
  )`
  yield* sql`CREATE INDEX idempotency_created_at ON idempotency (created_at)`
})
