import { Lifecycle } from "@agent-marketplace/domain/registry/Agent"
import { AgentId } from "@agent-marketplace/domain/shared/Ids"
import { SqlClient } from "@effect/sql"
import { Effect, Layer, Option, Schema } from "effect"
import { batchedRead, decodeRows, inList, SqlBool } from "../platform/Sql"
import { TokenRepo } from "./TokenRepo"

const TokenAgentRow = Schema.Struct({ agent_id: AgentId })

const HolderSqlRow = Schema.Struct({
  token_hash: Schema.String,
  agent_id: AgentId,
  lifecycle: Schema.NullOr(Lifecycle),
  public_key: Schema.NullOr(Schema.String),
  allow_bearer: Schema.NullOr(SqlBool)
})

/**
 * Bearer tokens over `SqlClient`: only the SHA-256 hex hash is stored. Inserting a hash that exists
 * makes it active again for the given agent, as the memory store does.
 */
export const TokenRepoSql: Layer.Layer<TokenRepo, never, SqlClient.SqlClient> = Layer.effect(
  TokenRepo,
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient

    /** The active token's holder, by token hash, for each of `hashes` that has one. */
    const holdersOf = (hashes: ReadonlyArray<string>) =>
      sql`SELECT t.token_hash, t.agent_id, a.lifecycle, a.public_key, a.allow_bearer
          FROM tokens t LEFT JOIN agents a ON a.agent_id = t.agent_id
          WHERE t.token_hash IN ${inList(sql, hashes)} AND t.revoked_at IS NULL`.pipe(
        decodeRows(HolderSqlRow),
        Effect.map(
          (rows) =>
            new Map(
              rows.map((r) => [
                r.token_hash,
                {
                  agent_id: r.agent_id,
                  agent:
                    r.lifecycle === null
                      ? null
                      : {
                          lifecycle: r.lifecycle,
                          public_key: r.public_key,
                          allow_bearer: r.allow_bearer === true
                        }
                }
              ])
            )
        ),
        Effect.orDie
      )
    const holder = yield* batchedRead(holdersOf)

    return {
      insert: (row) =>
        sql`INSERT INTO tokens (token_hash, agent_id, created_at, revoked_at)
            VALUES (${row.token_hash}, ${row.agent_id}, ${row.created_at}, NULL)
            ON CONFLICT (token_hash) DO UPDATE SET
              agent_id = excluded.agent_id, created_at = excluded.created_at, revoked_at = NULL`.pipe(
          Effect.asVoid,
          Effect.orDie
        ),
      findActive: (tokenHash) =>
        sql`SELECT agent_id FROM tokens WHERE token_hash = ${tokenHash} AND revoked_at IS NULL`.pipe(
          decodeRows(TokenAgentRow),
          Effect.map((rows) => Option.map(Option.fromNullable(rows[0]), (r) => r.agent_id)),
          Effect.orDie
        ),
      // Every authenticated request asks this: the reads of one event-loop turn share one query
      // (`batchedRead`; never a cache).
      findActiveHolder: holder,
      revoke: (tokenHash, at) =>
        sql`UPDATE tokens SET revoked_at = ${at} WHERE token_hash = ${tokenHash} AND revoked_at IS NULL`.pipe(
          Effect.asVoid,
          Effect.orDie
        ),
      revokeAll: (agentId, at) =>
        sql`UPDATE tokens SET revoked_at = ${at} WHERE agent_id = ${agentId} AND revoked_at IS NULL`.pipe(
          Effect.asVoid,
          Effect.orDie
        )
    }
  })
)
