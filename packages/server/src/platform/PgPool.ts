import { SqlError } from "@effect/sql/SqlError"
import { Context, Effect, Redacted } from "effect"
import pg from "pg"

/**
 * The replica's `pg` pool itself, beside the `SqlClient` built on it: for what `@effect/sql` does not
 * do, the relay's binary `COPY` of blob rows (relay/BlobStorePostgres.ts).
 */
export class PgPool extends Context.Tag("@agent-marketplace/server/PgPool")<PgPool, pg.Pool>() {}

/**
 * The name under which a statement text is prepared, or `undefined` to send it unnamed. A named
 * statement is parsed and planned once per connection and then only bound and executed (Postgres
 * re-plans it by itself when a table it reads changes). Texts are named only when:
 * - they have parameters (the application's queries; not `BEGIN`, `COMMIT`, DDL or probes);
 * - at most 64 of them (multi-row inserts of varying length would otherwise prepare without end);
 * - their result columns are listed, not `*`: a column added by another replica's migration would
 *   change a prepared `SELECT *`'s result type, which Postgres refuses ("cached plan must not
 *   change result type").
 * At most 1 000 distinct texts get a name; later ones are sent unnamed.
 */
const names = new Map<string, string>()
const MAX_NAMED = 1_000
const selectsStar = /(?:\bSELECT|\bRETURNING|,)\s*(?:"?\w+"?\.)?\*/i

export const preparedName = (text: string, parameters: number): string | undefined => {
  if (parameters === 0 || parameters > 64) return undefined
  const known = names.get(text)
  if (known !== undefined) return known
  if (names.size >= MAX_NAMED || selectsStar.test(text)) return undefined
  const name = `am_${names.size + 1}`
  names.set(text, name)
  return name
}

/** A `pg` client that sends the application's parameterised statements as named (prepared) ones. */
class PreparingClient extends pg.Client {
  // pg's overloads: only (text, values, callback), the form @effect/sql-pg uses, is rewritten
  override query(config: any, values?: any, callback?: any): any {
    if (typeof config === "string" && Array.isArray(values)) {
      const name = preparedName(config, values.length)
      if (name !== undefined) return super.query({ name, text: config, values }, callback)
    }
    return super.query(config, values, callback)
  }
}

/**
 * The Postgres pool of a replica (what `PgClient.layer` would build, with the preparing client):
 * connected and checked with `SELECT 1` before the layer is up (5 s connect timeout), ended with it.
 */
export const acquirePgPool = (options: {
  readonly url: Redacted.Redacted
  readonly maxConnections: number
  readonly applicationName: string
}) =>
  Effect.acquireRelease(
    Effect.tryPromise({
      try: async () => {
        const pool = new pg.Pool({
          connectionString: Redacted.value(options.url),
          max: options.maxConnections,
          connectionTimeoutMillis: 5_000,
          application_name: options.applicationName,
          Client: PreparingClient
        })
        pool.on("error", () => {})
        try {
          await pool.query("SELECT 1")
        } catch (cause) {
          await pool.end().catch(() => {})
          throw cause
        }
        return pool
      },
      catch: (cause) => new SqlError({ cause, message: "PgClient: Failed to connect" })
    }).pipe(
      Effect.timeoutFail({
        duration: "5 seconds",
        onTimeout: () =>
          new SqlError({
            cause: new Error("Connection timed out"),
            message: "PgClient: Connection timed out"
          })
      })
    ),
    (pool) => Effect.promise(() => pool.end()).pipe(Effect.interruptible, Effect.timeoutOption(1000))
  )
