import { mkdirSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import * as Reactivity from "@effect/experimental/Reactivity"
import { SqlClient } from "@effect/sql"
import { PgClient } from "@effect/sql-pg"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { Context, Effect, Layer, type Redacted } from "effect"
import { AdminRepoSql } from "../admin/AdminRepoSql"
import { InviteRepoSql } from "../admin/InviteRepoSql"
import { LivenessRepoSql } from "../heartbeat/LivenessRepoSql"
import { IdempotencyRepoSql } from "../idempotency/IdempotencyRepoSql"
import { NonceRepoSql } from "../identity/NonceRepoSql"
import { TokenRepoSql } from "../identity/TokenRepoSql"
import { MetricsRepoSql } from "../metrics/MetricsRepoSql"
import { AgentRepoSql } from "../registry/AgentRepoSql"
import { BlobStoreDisk } from "../relay/BlobStoreDisk"
import { BlobStorePostgres } from "../relay/BlobStorePostgres"
import { RelayRepoSql } from "../relay/RelayRepoSql"
import { ReviewRepoSql } from "../reviews/ReviewRepoSql"
import { LedgerRepoSql } from "../settlement/LedgerRepoSql"
import { TaskRepoSql } from "../tasks/TaskRepoSql"
import { MigrationsLive } from "./migrations"
import { acquirePgPool, PgPool } from "./PgPool"
import { StoreSql } from "./Sql"

/** Every repository over `SqlClient`, after the migrations have run. */
export const StoreSqlLive = Layer.mergeAll(
  StoreSql,
  AgentRepoSql,
  TokenRepoSql,
  NonceRepoSql,
  LivenessRepoSql,
  TaskRepoSql,
  ReviewRepoSql,
  LedgerRepoSql,
  IdempotencyRepoSql,
  RelayRepoSql,
  InviteRepoSql,
  AdminRepoSql,
  MetricsRepoSql
).pipe(Layer.provide(MigrationsLive))

/** The SQLite database file of the embedded default. */
export const sqliteFile = (dataDir: string): string => join(dataDir, "marketplace.sqlite")

/** The relay's blob directory of the embedded default. */
export const relayDir = (dataDir: string): string => join(dataDir, "relay")

/**
 * Where a SQLite store keeps relay blobs: `blobDir` when given; else `relay/` beside the database
 * file; for an in-memory database a fresh temporary directory, removed with the layer.
 */
const sqliteBlobStore = (filename: string, blobDir: string | undefined) =>
  blobDir !== undefined
    ? BlobStoreDisk(blobDir)
    : filename !== ":memory:"
      ? BlobStoreDisk(join(dirname(filename), "relay"))
      : Layer.unwrapScoped(
          Effect.map(
            Effect.acquireRelease(
              Effect.sync(() => mkdtempSync(join(tmpdir(), "agent-marketplace-relay-"))),
              (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
            ),
            BlobStoreDisk
          )
        )

/**
 * SQLite (better-sqlite3, WAL): one connection, so transactions are serialised in-process.
 *
 * `synchronous = NORMAL`: in WAL mode a commit then writes the WAL without waiting for fsync (the WAL
 * is synced at checkpoints). A committed transaction survives the process being killed (`kill -9`:
 * the WAL is in the OS page cache); only an operating-system crash or power loss can drop the last
 * commits, never corrupt the file. `FULL` (the default) paid one fsync per commit on the event loop.
 *
 * `temp_store = MEMORY`: the sub-journal of every savepoint (each idempotent mutation runs in one,
 * idempotency/Idempotency.ts) and any temporary sort table live in memory instead of a temporary
 * file that was created, written and unlinked per mutation (~8 system calls). Temporary data is
 * never durable; our queries are index-backed and paged, so it stays small.
 */
export const SqliteClientLive = (filename: string) =>
  Layer.unwrapEffect(
    Effect.sync(() => {
      if (filename !== ":memory:") mkdirSync(join(filename, ".."), { recursive: true })
      return SqliteClient.layer({ filename }).pipe(
        Layer.tap((context) => Context.get(context, SqlClient.SqlClient)`PRAGMA synchronous = NORMAL`),
        Layer.tap((context) => Context.get(context, SqlClient.SqlClient)`PRAGMA temp_store = MEMORY`)
      )
    })
  )

/**
 * Postgres: a pool shared by the process (every replica runs one), as the `SqlClient` and as itself
 * (`PgPool`, for the relay's `COPY`); ended with the layer.
 */
export const PgClientLive = (url: Redacted.Redacted, maxConnections = 10) =>
  Layer.scopedContext(
    Effect.gen(function* () {
      const pool = yield* acquirePgPool({ url, maxConnections, applicationName: "platform-server" })
      const client = yield* PgClient.fromPool({
        acquire: Effect.succeed(pool),
        applicationName: "platform-server"
      })
      return Context.make(PgClient.PgClient, client).pipe(
        Context.add(SqlClient.SqlClient, client),
        Context.add(PgPool, pool)
      )
    })
  ).pipe(Layer.provide(Reactivity.layer))

/**
 * A store that cannot be opened stops startup (the entry point reports it in one line). SQLite keeps
 * relay blobs as files (see `sqliteBlobStore`).
 */
export const StoreSqliteLive = (filename: string, blobDir?: string) =>
  Layer.merge(StoreSqlLive, sqliteBlobStore(filename, blobDir)).pipe(
    Layer.provide(SqliteClientLive(filename)),
    Layer.orDie
  )

/** Postgres keeps relay blobs as chunk rows, so every replica serves every slot. */
export const StorePostgresLive = (url: Redacted.Redacted) =>
  Layer.merge(StoreSqlLive, BlobStorePostgres).pipe(Layer.provide(PgClientLive(url)), Layer.orDie)
