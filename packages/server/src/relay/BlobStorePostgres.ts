import { SqlClient } from "@effect/sql"
import { Chunk, Effect, Exit, Layer, Option, Schema, Stream } from "effect"
import type pg from "pg"
import { from as copyFrom, to as copyTo } from "pg-copy-streams"
import {
  CopyBinaryColumnReader,
  copyBinaryHeader,
  copyBinaryTrailer,
  copyBinaryTuple
} from "../platform/PgCopyBinary"
import { PgPool } from "../platform/PgPool"
import { decodeRows } from "../platform/Sql"
import { BlobStore, gatherPieces } from "./BlobStore"

/** A `relay_chunks` row holds about this many bytes (rows of other sizes, such as older 1 MiB ones, read back too). */
export const CHUNK_BYTES = 256 * 1024

/** Rows written by one `COPY … FROM` (at most). */
export const WRITE_ROWS = 4

/** Rows read by one `COPY … TO`. */
export const READ_ROWS = 4

/** Keys are the relay's own (`<relay_id>.<hex>`); anything else never reaches a statement. */
const KEY = /^[A-Za-z0-9_.-]{1,200}$/

/**
 * Blobs as rows of `relay_chunks` (about 256 KiB each, numbered from 0), so every replica serves
 * every slot.
 *
 * The bytes move with binary `COPY` (pg-copy-streams, platform/PgCopyBinary.ts), not with `INSERT`
 * and `SELECT`: the query protocol would send `bytea` back as hex text (twice the size, decoded
 * again) and copy every parameter into one message buffer, garbage that a 50 MiB transfer multiplies
 * and V8 keeps until a major GC. `COPY` passes the upload's pieces to the socket as they came and
 * hands the download the socket's own chunks.
 *
 * A write gathers the incoming pieces, uncopied, into rows of at least `CHUNK_BYTES`
 * (`gatherPieces`: each piece is a slice that keeps the socket's whole read buffer alive until it is
 * sent, so what a write holds is bounded by one `COPY`'s rows, never by the blob) and copies
 * `WRITE_ROWS` rows (≤ ~1 MiB) per `COPY`, once all of them have been received, on a pooled
 * connection taken for just that `COPY`, and a read fetches `READ_ROWS` rows per `COPY` into memory
 * before sending them: no connection or transaction is ever held while the HTTP client is slow. (One row per `COPY` made an upload wait for a round trip and a commit every 256 KiB: four
 * rows moved uploads from ~140 to ~195 MiB/s, design/relay.md.) A failed or interrupted write
 * deletes the rows it wrote (a `COPY` cut midway rolls back by itself). The relay only reads a blob
 * it has seen completed.
 */
export const BlobStorePostgres: Layer.Layer<BlobStore, never, SqlClient.SqlClient | PgPool> = Layer.effect(
  BlobStore,
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const pool = yield* PgPool

    /**
     * Runs `f` on a connection of the pool. A connection whose `COPY` failed or was cut is destroyed
     * rather than returned, so no half-finished protocol exchange reaches the next user.
     */
    const withConnection = <A>(f: (client: pg.PoolClient) => Promise<A>) =>
      Effect.acquireUseRelease(
        Effect.promise(() => pool.connect()),
        (client) => Effect.promise(() => f(client)),
        (client, exit) => Effect.sync(() => client.release(Exit.isFailure(exit)))
      )

    const remove = (key: string) =>
      sql`DELETE FROM relay_chunks WHERE blob_key = ${key}`.pipe(Effect.asVoid, Effect.orDie)

    const copyRows = (key: string, seq: number, rows: ReadonlyArray<ReadonlyArray<Uint8Array>>) =>
      withConnection(
        (client) =>
          new Promise<void>((resolve, reject) => {
            // The stream buffers these writes until Postgres has answered the COPY, then sends them.
            const stream = client.query(
              copyFrom("COPY relay_chunks (blob_key, seq, data) FROM STDIN (FORMAT binary)")
            )
            stream.on("finish", () => resolve())
            stream.on("error", reject)
            stream.write(copyBinaryHeader)
            rows.forEach((pieces, i) => {
              for (const buffer of copyBinaryTuple([
                { _tag: "text", value: key },
                { _tag: "int4", value: seq + i },
                { _tag: "bytes", pieces }
              ]))
                stream.write(buffer)
            })
            stream.write(copyBinaryTrailer)
            stream.end()
          })
      )

    const readRows = (key: string, from: number) =>
      withConnection(
        (client) =>
          new Promise<{ readonly pieces: Array<Uint8Array>; readonly rows: number }>((resolve, reject) => {
            const reader = new CopyBinaryColumnReader()
            const pieces: Array<Uint8Array> = []
            const stream = client.query(
              copyTo(
                `COPY (SELECT data FROM relay_chunks WHERE blob_key = '${key}' AND seq >= ${from} AND seq < ${from + READ_ROWS} ORDER BY seq) TO STDOUT (FORMAT binary)`
              )
            )
            stream.on("data", (chunk: Buffer) => {
              try {
                for (const piece of reader.push(chunk)) pieces.push(piece)
              } catch (error) {
                stream.destroy(error as Error)
              }
            })
            stream.on("end", () =>
              reader.done
                ? resolve({ pieces, rows: reader.rows })
                : reject(new Error("a binary COPY cut short"))
            )
            stream.on("error", reject)
          })
      )

    return {
      kind: "postgres",
      write: (key, bytes) =>
        Effect.suspend(() => {
          let seq = 0
          return Stream.runForEach(Stream.grouped(gatherPieces(bytes, CHUNK_BYTES), WRITE_ROWS), (rows) => {
            const first = seq
            seq += rows.length
            return copyRows(key, first, Chunk.toReadonlyArray(rows))
          }).pipe(Effect.onExit((exit) => (Exit.isFailure(exit) ? remove(key) : Effect.void)))
        }),
      read: (key) =>
        KEY.test(key)
          ? Stream.paginateChunkEffect(0, (from) =>
              Effect.flatMap(readRows(key, from), ({ pieces, rows }) =>
                rows === 0 && from === 0
                  ? Effect.dieMessage(`no relay blob ${key}`)
                  : Effect.succeed([
                      Chunk.unsafeFromArray(pieces),
                      rows === READ_ROWS ? Option.some(from + READ_ROWS) : Option.none<number>()
                    ] as const)
              )
            )
          : Stream.dieMessage(`not a relay blob key: ${key}`),
      remove,
      keys: sql`SELECT DISTINCT blob_key FROM relay_chunks`.pipe(
        decodeRows(Schema.Struct({ blob_key: Schema.String })),
        Effect.map((rows) => rows.map((r) => r.blob_key)),
        Effect.orDie
      )
    }
  })
)
