import { randomBytes } from "node:crypto"
import { PgClient } from "@effect/sql-pg"
import { Effect, Layer, Redacted } from "effect"
import { StorePostgresLive, StoreSqliteLive } from "../../src/platform/StoreLayers"
import { StoreMemoryLive, type StoreServices } from "../../src/ServerLive"

/**
 * The three store layers, for suites written once and run on each (the repository contract suite,
 * the HTTP scenarios). Postgres is required: its URL comes from AGENT_MARKETPLACE_TEST_DATABASE_URL
 * (default: the machine's local server), and only AGENT_MARKETPLACE_TEST_POSTGRES=skip leaves it out —
 * an unreachable database fails the run instead of skipping it silently.
 */
export type StoreName = "memory" | "sqlite" | "postgres"

export interface StoreCase {
  readonly name: StoreName
  /** A fresh, empty, migrated store per build. */
  readonly layer: () => Layer.Layer<StoreServices>
}

export const testDatabaseUrl =
  process.env.AGENT_MARKETPLACE_TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test"

export const postgresSkipped = process.env.AGENT_MARKETPLACE_TEST_POSTGRES === "skip"

/** `url` with its connections' search_path set to `schema`. */
export const withSearchPath = (url: string, schema: string): string => {
  const u = new URL(url)
  u.searchParams.set("options", `-c search_path=${schema}`)
  return u.toString()
}

const adminSql = (statement: string) =>
  Effect.gen(function* () {
    const sql = yield* PgClient.PgClient
    yield* sql.unsafe(statement)
  }).pipe(
    Effect.provide(PgClient.layer({ url: Redacted.make(testDatabaseUrl), maxConnections: 1 })),
    Effect.orDie
  )

/**
 * A fresh Postgres schema for the scope (dropped at its end); yields a URL whose connections use it.
 */
export const freshPostgresSchema = Effect.acquireRelease(
  Effect.gen(function* () {
    const schema = `t_${randomBytes(6).toString("hex")}`
    yield* adminSql(`CREATE SCHEMA ${schema}`)
    return { schema, url: withSearchPath(testDatabaseUrl, schema) }
  }),
  ({ schema }) => adminSql(`DROP SCHEMA ${schema} CASCADE`)
)

export const memoryCase: StoreCase = { name: "memory", layer: () => StoreMemoryLive }

export const sqliteCase: StoreCase = { name: "sqlite", layer: () => StoreSqliteLive(":memory:") }

export const postgresCase: StoreCase = {
  name: "postgres",
  layer: () =>
    Layer.unwrapScoped(Effect.map(freshPostgresSchema, ({ url }) => StorePostgresLive(Redacted.make(url))))
}

/** Memory, SQLite and (unless explicitly skipped) Postgres. */
export const storeCases: ReadonlyArray<StoreCase> = postgresSkipped
  ? [memoryCase, sqliteCase]
  : [memoryCase, sqliteCase, postgresCase]

/** The SQL stores only. */
export const sqlStoreCases: ReadonlyArray<StoreCase> = storeCases.filter((c) => c.name !== "memory")
