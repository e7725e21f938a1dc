import { mkdirSync } from "node:fs"
import { join } from "node:path"
import { PgClient } from "@effect/sql-pg"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { Effect, Layer, type Redacted } from "effect"
import { LivenessRepoSql } from "../heartbeat/LivenessRepoSql"
import { IdempotencyRepoSql } from "../idempotency/IdempotencyRepoSql"
import { TokenRepoSql } from "../identity/TokenRepoSql"
import { AgentRepoSql } from "../registry/AgentRepoSql"
import { ReviewRepoSql } from "../reviews/ReviewRepoSql"
import { LedgerRepoSql } from "../settlement/LedgerRepoSql"
import { TaskRepoSql } from "../tasks/TaskRepoSql"
import { MigrationsLive } from "./migrations"
import { StoreSql } from "./Sql"

/** Every repository over `SqlClient`, after the migrations have run. */
export const StoreSqlLive = Layer.mergeAll(
  StoreSql,
  AgentRepoSql,
  TokenRepoSql,
  LivenessRepoSql,
  TaskRepoSql,
  ReviewRepoSql,
  LedgerRepoSql,
  IdempotencyRepoSql
).pipe(Layer.provide(MigrationsLive))

/** The SQLite database file of the embedded default. */
export const sqliteFile = (dataDir: string): string => join(dataDir, "marketplace.sqlite")

/** SQLite (better-sqlite3, WAL): one connection, so transactions are serialised in-process. */
export const SqliteClientLive = (filename: string) =>
  Layer.unwrapEffect(
    Effect.sync(() => {
      if (filename !== ":memory:") mkdirSync(join(filename, ".."), { recursive: true })
      return SqliteClient.layer({ filename })
    })
  )

/** Postgres: a pool shared by the process; every replica runs one. */
export const PgClientLive = (url: Redacted.Redacted, maxConnections = 10) =>
  PgClient.layer({ url, maxConnections, connectTimeout: "5 seconds", applicationName: "platform-server" })

/** A store that cannot be opened stops startup (the entry point reports it in one line). */
export const StoreSqliteLive = (filename: string) =>
  StoreSqlLive.pipe(Layer.provide(SqliteClientLive(filename)), Layer.orDie)

export const StorePostgresLive = (url: Redacted.Redacted) =>
  StoreSqlLive.pipe(Layer.provide(PgClientLive(url)), Layer.orDie)
