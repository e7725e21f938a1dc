import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

/**
 * The anonymous relay. `relay_slots` holds exactly the slot's own fields and where its bytes live
 * (`blob_key`): never a task, assignment, agent, client address, file name, hash or key.
 * `relay_leases` marks transfers in progress (bytes are never deleted under a live lease).
 * `relay_chunks` (Postgres only) is the Postgres blob backend: the bytes in ~1 MiB rows, stored
 * uncompressed out of line (ciphertext does not compress). SQLite keeps blobs as files instead.
 */
export default Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`CREATE TABLE relay_slots (
    relay_id TEXT PRIMARY KEY,
    upload_token_hash TEXT NOT NULL,
    download_token_hash TEXT NOT NULL,
    size_bytes BIGINT NOT NULL,
    max_downloads INTEGER NOT NULL,
    download_count INTEGER NOT NULL,
    status TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    blob_key TEXT
  )`
  yield* sql`CREATE INDEX relay_slots_status_expires ON relay_slots (status, expires_at)`
  yield* sql`CREATE TABLE relay_leases (
    lease_id TEXT PRIMARY KEY,
    relay_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    lease_until BIGINT NOT NULL
  )`
  yield* sql`CREATE INDEX relay_leases_relay ON relay_leases (relay_id, lease_until)`
  yield* sql.onDialectOrElse({
    pg: () =>
      Effect.gen(function* () {
        yield* sql`CREATE TABLE relay_chunks (
          blob_key TEXT NOT NULL,
          seq INTEGER NOT NULL,
          data BYTEA NOT NULL,
          PRIMARY KEY (blob_key, seq)
        )`
        yield* sql`ALTER TABLE relay_chunks ALTER COLUMN data SET STORAGE EXTERNAL`
      }),
    orElse: () => Effect.void
  })
})
