import { idNumber } from "@agent-marketplace/domain/shared/Ids"
import { SqlClient } from "@effect/sql"
import { SqlError } from "@effect/sql/SqlError"
import type { Fragment } from "@effect/sql/Statement"
import { Effect, Layer, Option, Schema } from "effect"
import { makeBatchedLookup } from "./Batch"
import { Store } from "./Store"

/**
 * Helpers shared by the SQL repositories (one implementation over `SqlClient` for SQLite and
 * Postgres; dialect differences are isolated here and in `sql.onDialectOrElse` at the call site).
 */

/**
 * An integer column: SQLite answers numbers, Postgres answers `int8` as a string. Decoded with a
 * schema (never `Number()` on raw rows), so a value outside the safe integer range is a decode defect.
 */
export const SqlInt = Schema.Union(
  Schema.Int,
  Schema.compose(Schema.NumberFromString, Schema.Int)
).annotations({ identifier: "SqlInt" })

/** A nullable integer column. */
export const SqlIntOrNull = Schema.NullOr(SqlInt)

/** A boolean column: Postgres `boolean`, SQLite `0`/`1`. */
export const SqlBool = Schema.Union(
  Schema.Boolean,
  Schema.transform(Schema.Literal(0, 1), Schema.Boolean, {
    strict: true,
    decode: (n) => n === 1,
    encode: (b) => (b ? 1 : 0)
  })
).annotations({ identifier: "SqlBool" })

/** A JSON document kept in a TEXT column (both dialects). */
export const SqlJson = <A, I>(schema: Schema.Schema<A, I>) => Schema.parseJson(schema)

/** A boolean as a statement parameter: SQLite has no boolean type. */
export const boolParam = (sql: SqlClient.SqlClient, value: boolean): Fragment =>
  sql.onDialectOrElse({
    pg: () => sql`${value}`,
    orElse: () => sql`${value ? 1 : 0}`
  })

/**
 * `(v1, v2, …)` for `IN`, padded by repeating the last value to 1, 4, 16, 64… entries, so a read
 * batched over a varying number of keys has a handful of statement texts, each prepared once
 * (named statements on Postgres, platform/PgPool.ts; SQLite's prepare cache) instead of one per
 * batch size. A repeated value changes no `IN` result.
 */
export const inList = (sql: SqlClient.SqlClient, values: ReadonlyArray<unknown>) => {
  let size = 1
  while (size < values.length) size *= 4
  const padded =
    values.length === size ? values : [...values, ...Array(size - values.length).fill(values.at(-1))]
  return sql.in(padded)
}

/**
 * A point read by key, as the repositories' hottest reads use it: outside a transaction the reads
 * of one event-loop turn share one `lookup` (platform/Batch.ts; at most 64 keys a query, matching
 * `inList`'s largest padding); inside one it is read alone on the transaction's connection (its
 * own writes are visible, and on SQLite's single connection a batch would wait for it).
 */
export const batchedRead = <K, V>(
  lookup: (keys: ReadonlyArray<K>) => Effect.Effect<ReadonlyMap<K, V>>
): Effect.Effect<(key: K) => Effect.Effect<Option.Option<V>>> =>
  Effect.map(
    makeBatchedLookup(lookup, { maxKeys: 64 }),
    (batched) => (key: K) =>
      Effect.flatMap(Effect.serviceOption(SqlClient.TransactionConnection), (inTransaction) =>
        Option.isSome(inTransaction)
          ? Effect.map(lookup([key]), (found) => Option.fromNullable(found.get(key)))
          : batched(key)
      )
  )

/** ` FOR UPDATE` on Postgres; nothing on SQLite, whose single connection already serialises writers. */
export const forUpdate = (sql: SqlClient.SqlClient): Fragment =>
  sql.onDialectOrElse({ pg: () => sql.literal(" FOR UPDATE"), orElse: () => sql.literal("") })

/**
 * `INSERT INTO table (…) VALUES (…) ON CONFLICT (key) DO UPDATE SET c = excluded.c, …` for every
 * column of `row` but the key: a put that inserts or replaces one row (both dialects).
 */
export const upsert = (
  sql: SqlClient.SqlClient,
  table: string,
  key: string,
  row: Record<string, unknown>
): Effect.Effect<void> => {
  const updates = Object.keys(row)
    .filter((column) => column !== key)
    .map((column) => `${column} = excluded.${column}`)
    .join(", ")
  return sql`INSERT INTO ${sql(table)} ${sql.insert(row)} ON CONFLICT (${sql(key)}) DO UPDATE SET ${sql.literal(updates)}`.pipe(
    Effect.asVoid,
    Effect.orDie
  )
}

/** The rows decoder of each row schema, built once (a new `Schema.Array` per query rebuilt its parser). */
const rowsDecoders = new WeakMap<object, (raw: unknown) => Effect.Effect<ReadonlyArray<any>, unknown>>()

/**
 * Decodes query rows with a schema; a row that does not decode is a defect (the schema is ours).
 * The schema must be a module constant: its decoder is cached by identity.
 */
export const decodeRows = <A, I>(schema: Schema.Schema<A, I>) => {
  let decode = rowsDecoders.get(schema)
  if (decode === undefined) {
    decode = Schema.decodeUnknown(Schema.Array(schema))
    rowsDecoders.set(schema, decode)
  }
  const decodeArray = decode as (raw: unknown) => Effect.Effect<ReadonlyArray<A>, unknown>
  return <E, R>(rows: Effect.Effect<ReadonlyArray<unknown>, E, R>): Effect.Effect<ReadonlyArray<A>, E, R> =>
    Effect.flatMap(rows, (raw) => Effect.orDie(decodeArray(raw)))
}

/** Store errors inside repositories are defects: the service answers 500 / `/ready` answers 503. */
export const orDieSql = <A, E, R>(
  effect: Effect.Effect<A, E, R>
): Effect.Effect<A, Exclude<E, SqlError>, R> =>
  Effect.catchIf(
    effect,
    (e): e is Extract<E, SqlError> => e instanceof SqlError,
    Effect.die
  ) as Effect.Effect<A, Exclude<E, SqlError>, R>

/**
 * A keyset page over a `seq` column (the numeric part of server ids) with the memory layer's
 * semantics (`pageAfter`): rows numbered above the cursor's id, at most `limit` of them (a limit below
 * 1 means no limit). `None` when no row can follow the cursor (an id without a number).
 */
export const seqPage = (
  sql: SqlClient.SqlClient,
  column: string,
  cursor: { readonly after: Option.Option<string>; readonly limit: number }
): Option.Option<{ readonly after: Fragment; readonly limit: Fragment }> => {
  const start = Option.match(cursor.after, { onNone: () => Number.NEGATIVE_INFINITY, onSome: idNumber })
  if (Number.isNaN(start) || start >= Number.MAX_SAFE_INTEGER) return Option.none()
  return Option.some({
    after:
      start === Number.NEGATIVE_INFINITY
        ? sql.literal("1 = 1")
        : sql`${sql.literal(column)} > ${Math.floor(start)}`,
    limit: Number.isInteger(cursor.limit) && cursor.limit >= 1 ? sql`LIMIT ${cursor.limit}` : sql.literal("")
  })
}

/** The named id sequences (`task-<n>`, …). Postgres: native sequences; SQLite: a counter table. */
export const sequenceNames = ["agent", "task", "session", "assignment", "review", "hold", "entry"] as const
export type SequenceName = (typeof sequenceNames)[number]

const SequenceValue = Schema.Struct({ value: SqlInt })

/**
 * The next value of a named sequence. On Postgres a native sequence (never rolled back, so ids may
 * have gaps, and concurrent transactions do not serialise on it); on SQLite a counter row updated in
 * the current transaction.
 */
export const nextSequence = (name: SequenceName): Effect.Effect<number, never, SqlClient.SqlClient> =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql
      .onDialectOrElse({
        pg: () => sql`SELECT nextval(${`seq_${name}`}) AS value`,
        orElse: () =>
          sql`INSERT INTO sequences (name, value) VALUES (${name}, 1)
              ON CONFLICT (name) DO UPDATE SET value = sequences.value + 1
              RETURNING value`
      })
      .pipe(
        decodeRows(SequenceValue),
        Effect.map((rows) => rows[0]!.value),
        Effect.orDie
      )
  )

/**
 * The SQL `Store`: `transaction` is `sql.withTransaction` (nested calls are savepoints); a database
 * failure inside it is a defect, never a typed error of the caller.
 */
export const StoreSql = Layer.effect(
  Store,
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const kind = sql.onDialectOrElse({ pg: () => "postgres", sqlite: () => "sqlite", orElse: () => "sql" })
    return {
      kind,
      transaction: (effect) => orDieSql(sql.withTransaction(effect)),
      ping: sql`SELECT 1 AS ok`.pipe(
        Effect.as(true),
        Effect.timeoutTo({ duration: "3 seconds", onSuccess: (ok) => ok, onTimeout: () => false }),
        Effect.catchAll(() => Effect.succeed(false)),
        Effect.catchAllDefect(() => Effect.succeed(false))
      )
    }
  })
)
