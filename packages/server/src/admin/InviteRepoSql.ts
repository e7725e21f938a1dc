import { AgentId } from "@agent-marketplace/domain/shared/Ids"
import { SqlClient } from "@effect/sql"
import { Effect, Layer, Option, Schema } from "effect"
import { decodeRows, SqlInt, SqlIntOrNull } from "../platform/Sql"
import { InviteRepo } from "./InviteRepo"

const InviteRecord = Schema.Struct({
  code_hash: Schema.String,
  agent_id: Schema.NullOr(AgentId),
  created_at: SqlInt,
  expires_at: SqlInt,
  used_at: SqlIntOrNull,
  used_by: Schema.NullOr(AgentId)
})

/**
 * Invites over `SqlClient` (table `invites`, migration `0008_admin`). `consume` is one guarded
 * `UPDATE … RETURNING`: on Postgres a concurrent consumer blocks on the row lock and, once the winner
 * commits, re-evaluates the guard against the used row and updates nothing.
 */
export const InviteRepoSql: Layer.Layer<InviteRepo, never, SqlClient.SqlClient> = Layer.effect(
  InviteRepo,
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const invites = decodeRows(InviteRecord)
    return {
      insert: (row) => sql`INSERT INTO invites ${sql.insert({ ...row })}`.pipe(Effect.asVoid, Effect.orDie),
      get: (codeHash) =>
        sql`SELECT * FROM invites WHERE code_hash = ${codeHash}`.pipe(
          invites,
          Effect.map((rows) => Option.fromNullable(rows[0])),
          Effect.orDie
        ),
      consume: (codeHash, agentId, now) =>
        sql`UPDATE invites SET used_at = ${now}, used_by = ${agentId}
            WHERE code_hash = ${codeHash} AND used_at IS NULL AND expires_at > ${now}
              AND (agent_id IS NULL OR agent_id = ${agentId})
            RETURNING *`.pipe(
          invites,
          Effect.map((rows) => Option.fromNullable(rows[0])),
          Effect.orDie
        )
    }
  })
)
