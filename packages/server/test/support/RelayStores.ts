import { mkdtempSync, readdirSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { SqlClient } from "@effect/sql"
import { Effect, Layer, Redacted, Schema, type Scope } from "effect"
import { SqlInt } from "../../src/platform/Sql"
import { PgClientLive, SqliteClientLive, StoreSqlLive } from "../../src/platform/StoreLayers"
import { BlobStore } from "../../src/relay/BlobStore"
import { BlobStoreDisk } from "../../src/relay/BlobStoreDisk"
import { BlobStorePostgres } from "../../src/relay/BlobStorePostgres"
import { StoreMemoryLive, type StoreServices } from "../../src/ServerLive"
import { freshPostgresSchema, postgresSkipped, type StoreCase, type StoreName } from "./Stores"

/**
 * The three stores for the relay's tests, each with a view of where its blob bytes physically are,
 * read past the `BlobStore` interface: the files in the SQLite store's blob directory, the
 * `relay_chunks` rows on Postgres (the memory backend has only its own listing).
 */
export interface RelayStore {
  readonly name: StoreName
  /** The store (fresh, migrated); its `SqlClient` too on the SQL stores. */
  readonly layer: Layer.Layer<StoreServices>
  /** As a `StoreCase` for the HTTP harness (`withServer(…, overrides, store.storeCase)`). */
  readonly storeCase: StoreCase
  /**
   * What holds blob bytes right now: file names (`<key>` or `<key>.tmp`) on disk, `<key>#<rows>` on
   * Postgres, keys in memory.
   */
  readonly physical: Effect.Effect<ReadonlyArray<string>, never, BlobStore>
  /** Postgres: rows, total bytes and largest row of `relay_chunks`. */
  readonly chunkStats: Effect.Effect<{ rows: number; bytes: number; largest: number }>
  /** Postgres: writes `relay_chunks` rows of a blob directly (as an older release would have). */
  readonly insertRows: (key: string, rows: ReadonlyArray<Uint8Array>) => Effect.Effect<void>
}

export interface RelayStoreCase {
  readonly name: StoreName
  /** Builds a fresh store for the scope (its directory / schema is removed with it). */
  readonly make: Effect.Effect<RelayStore, never, Scope.Scope>
}

const tempDir = Effect.acquireRelease(
  Effect.sync(() => mkdtempSync(join(tmpdir(), "relay-test-"))),
  (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
)

const noChunks = Effect.succeed({ rows: 0, bytes: 0, largest: 0 })
const noRows = () => Effect.dieMessage("only the Postgres store has relay_chunks rows")

const asCase = (name: StoreName, layer: Layer.Layer<StoreServices>): StoreCase => ({
  name,
  layer: () => layer
})

export const relayMemory: RelayStoreCase = {
  name: "memory",
  make: Effect.succeed({
    name: "memory",
    layer: StoreMemoryLive,
    storeCase: asCase("memory", StoreMemoryLive),
    physical: Effect.flatMap(BlobStore, (blobs) => blobs.keys),
    chunkStats: noChunks,
    insertRows: noRows
  })
}

/** SQLite in memory, blobs as files in a temporary directory. */
export const relaySqlite: RelayStoreCase = {
  name: "sqlite",
  make: Effect.map(tempDir, (dir) => {
    const layer = Layer.merge(StoreSqlLive, BlobStoreDisk(dir)).pipe(
      Layer.provide(SqliteClientLive(":memory:")),
      Layer.orDie
    )
    return {
      name: "sqlite" as const,
      layer,
      storeCase: asCase("sqlite", layer),
      physical: Effect.sync(() => readdirSync(dir).sort()),
      chunkStats: noChunks,
      insertRows: noRows
    }
  })
}

const ChunkStats = Schema.Struct({ rows: SqlInt, bytes: SqlInt, largest: SqlInt })

/** Postgres in a fresh schema, blobs as `relay_chunks` rows, inspected over a second connection. */
export const relayPostgres: RelayStoreCase = {
  name: "postgres",
  make: Effect.gen(function* () {
    const { url } = yield* freshPostgresSchema
    const layer = Layer.merge(StoreSqlLive, BlobStorePostgres).pipe(
      Layer.provide(PgClientLive(Redacted.make(url))),
      Layer.orDie
    )
    const inspect = <A>(query: (sql: SqlClient.SqlClient) => Effect.Effect<A, unknown>) =>
      Effect.flatMap(SqlClient.SqlClient, query).pipe(
        Effect.provide(PgClientLive(Redacted.make(url), 1)),
        Effect.orDie
      )
    return {
      name: "postgres" as const,
      layer,
      storeCase: asCase("postgres", layer),
      physical: inspect((sql) =>
        sql<{ blob_key: string; n: unknown }>`SELECT blob_key, COUNT(*) AS n FROM relay_chunks
          GROUP BY blob_key ORDER BY blob_key`.pipe(
          Effect.map((rows) => rows.map((r) => `${r.blob_key}#${Number(r.n)}`))
        )
      ),
      chunkStats: inspect((sql) =>
        sql`SELECT COUNT(*) AS rows, COALESCE(SUM(length(data)), 0) AS bytes,
              COALESCE(MAX(length(data)), 0) AS largest FROM relay_chunks`.pipe(
          Effect.flatMap((rows) => Schema.decodeUnknown(ChunkStats)(rows[0]))
        )
      ),
      insertRows: (key, rows) =>
        inspect((sql) =>
          Effect.forEach(
            rows,
            (data, seq) =>
              sql`INSERT INTO relay_chunks (blob_key, seq, data) VALUES (${key}, ${seq}, ${Buffer.from(data)})`,
            { discard: true }
          )
        )
    }
  })
}

/** Memory, SQLite and (unless explicitly skipped, as in `Stores.ts`) Postgres. */
export const relayStoreCases: ReadonlyArray<RelayStoreCase> = postgresSkipped
  ? [relayMemory, relaySqlite]
  : [relayMemory, relaySqlite, relayPostgres]
