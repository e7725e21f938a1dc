import { SqlClient } from "@effect/sql"
import { Effect, Layer, Schema } from "effect"
import { decodeRows } from "../platform/Sql"
import { NonceRepo } from "./NonceRepo"

const InsertedNonceRow = Schema.Struct({ agent_id: Schema.String })

/**
 * Nonces over `SqlClient`: the primary key `(agent_id, nonce)` decides between two replicas that
 * see the same nonce at once (the second waits for the first's row, then finds it). A row whose
 * expiry has passed but that the sweep has not collected yet is taken over.
 */
export const NonceRepoSql: Layer.Layer<NonceRepo, never, SqlClient.SqlClient> = Layer.effect(
  NonceRepo,
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    return {
      insert: ({ agent_id, expires_at, nonce, now }) =>
        sql`INSERT INTO nonces (agent_id, nonce, expires_at) VALUES (${agent_id}, ${nonce}, ${expires_at})
            ON CONFLICT (agent_id, nonce) DO UPDATE SET expires_at = excluded.expires_at
            WHERE nonces.expires_at <= ${now}
            RETURNING agent_id`.pipe(
          decodeRows(InsertedNonceRow),
          Effect.map((rows) => rows.length === 1),
          Effect.orDie
        ),
      deleteExpired: (now) =>
        sql`DELETE FROM nonces WHERE expires_at <= ${now} RETURNING agent_id`.pipe(
          Effect.map((rows) => rows.length),
          Effect.orDie
        )
    }
  })
)
