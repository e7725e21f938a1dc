import { Effect, Layer, Option } from "effect"
import { MemoryDb, pushUndoable } from "../platform/MemoryDb"
import { setUndoable } from "../platform/Store"
import { TokenRepo } from "./TokenRepo"

export const TokenRepoMemory = Layer.effect(
  TokenRepo,
  Effect.gen(function* () {
    const tables = yield* MemoryDb
    const revoke = (hash: string, at: number) =>
      Effect.suspend(() => {
        const row = tables.tokens.get(hash)
        return row === undefined || row.revoked_at !== null
          ? Effect.void
          : setUndoable(tables.tokens, hash, { ...row, revoked_at: at })
      })
    return {
      insert: (row) =>
        Effect.zipRight(
          setUndoable(tables.tokens, row.token_hash, { agent_id: row.agent_id, revoked_at: null }),
          pushUndoable(tables.tokensByAgent, row.agent_id, row.token_hash)
        ),
      findActive: (hash) =>
        Effect.sync(() => {
          const row = tables.tokens.get(hash)
          return row !== undefined && row.revoked_at === null ? Option.some(row.agent_id) : Option.none()
        }),
      findActiveHolder: (hash) =>
        Effect.sync(() => {
          const row = tables.tokens.get(hash)
          if (row === undefined || row.revoked_at !== null) return Option.none()
          const agent = tables.agents.get(row.agent_id)
          return Option.some({
            agent_id: row.agent_id,
            agent:
              agent === undefined
                ? null
                : {
                    lifecycle: agent.lifecycle,
                    public_key: agent.public_key,
                    allow_bearer: agent.allow_bearer
                  }
          })
        }),
      revoke,
      revokeAll: (agentId, at) =>
        Effect.forEach(tables.tokensByAgent.get(agentId) ?? [], (hash) => revoke(hash, at), { discard: true })
    }
  })
)
