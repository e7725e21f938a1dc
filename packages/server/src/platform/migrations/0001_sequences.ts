import { SqlClient } from "@effect/sql"
import { Effect } from "effect"
import { sequenceNames } from "../Sql"

/** Id sequences: native sequences on Postgres, one counter table on SQLite. */
export default Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql.onDialectOrElse({
    pg: () =>
      Effect.forEach(sequenceNames, (name) => sql.unsafe(`CREATE SEQUENCE IF NOT EXISTS seq_${name}`), {
        discard: true
      }),
    orElse: () => sql`CREATE TABLE sequences (name TEXT PRIMARY KEY, value INTEGER NOT NULL)`
  })
})
