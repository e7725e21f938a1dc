import { SqlClient } from "@effect/sql"
import { Chunk, Effect, Exit, Layer, Option, Schema, Stream } from "effect"
import { decodeRows } from "../platform/Sql"
import { BlobStore } from "./BlobStore"

/** Bytes per `relay_chunks` row. */
export const CHUNK_BYTES = 1024 * 1024

const ChunkRow = Schema.Struct({ data: Schema.Uint8ArrayFromSelf })

/**
 * Blobs as rows of `relay_chunks` (about 1 MiB each, numbered from 0), so every replica serves every
 * slot. A write collects the incoming pieces until a row is full and inserts it at once (each insert
 * is its own statement: an upload never holds a transaction or a pooled connection while it waits
 * for the client); a failed or interrupted write deletes the rows it wrote. A read fetches one row
 * per query, only when the previous one has been sent on, so at most a couple of rows are in memory
 * per transfer. The relay only reads a blob it has seen completed.
 */
export const BlobStorePostgres: Layer.Layer<BlobStore, never, SqlClient.SqlClient> = Layer.effect(
  BlobStore,
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const remove = (key: string) =>
      sql`DELETE FROM relay_chunks WHERE blob_key = ${key}`.pipe(Effect.asVoid, Effect.orDie)
    const insert = (key: string, seq: number, data: Buffer) =>
      sql`INSERT INTO relay_chunks (blob_key, seq, data) VALUES (${key}, ${seq}, ${data})`.pipe(
        Effect.asVoid,
        Effect.orDie
      )
    return {
      kind: "postgres",
      write: (key, bytes) =>
        Effect.suspend(() => {
          let pending: Array<Uint8Array> = []
          let pendingBytes = 0
          let seq = 0
          const flush = Effect.suspend(() => {
            if (pendingBytes === 0) return Effect.void
            const data = Buffer.concat(pending, pendingBytes)
            pending = []
            pendingBytes = 0
            return insert(key, seq++, data)
          })
          return Stream.runForEach(bytes, (chunk) =>
            Effect.suspend(() => {
              pending.push(chunk)
              pendingBytes += chunk.length
              return pendingBytes >= CHUNK_BYTES ? flush : Effect.void
            })
          ).pipe(
            Effect.zipRight(flush),
            Effect.onExit((exit) => (Exit.isFailure(exit) ? remove(key) : Effect.void))
          )
        }),
      read: (key) =>
        Stream.paginateChunkEffect(0, (seq) =>
          sql`SELECT data FROM relay_chunks WHERE blob_key = ${key} AND seq = ${seq}`.pipe(
            decodeRows(ChunkRow),
            Effect.orDie,
            Effect.flatMap((rows) =>
              rows.length === 0
                ? seq === 0
                  ? Effect.dieMessage(`no relay blob ${key}`)
                  : Effect.succeed([Chunk.empty<Uint8Array>(), Option.none<number>()] as const)
                : Effect.succeed([Chunk.of<Uint8Array>(rows[0]!.data), Option.some(seq + 1)] as const)
            )
          )
        ),
      remove,
      keys: sql`SELECT DISTINCT blob_key FROM relay_chunks`.pipe(
        decodeRows(Schema.Struct({ blob_key: Schema.String })),
        Effect.map((rows) => rows.map((r) => r.blob_key)),
        Effect.orDie
      )
    }
  })
)
