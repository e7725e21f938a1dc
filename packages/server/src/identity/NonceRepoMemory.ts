import { Effect, Layer } from "effect"
import { MemoryDb } from "../platform/MemoryDb"
import { deleteUndoable, setUndoable } from "../platform/Store"
import { NonceRepo } from "./NonceRepo"

const keyOf = (agentId: string, nonce: string) => `${agentId}\u0000${nonce}`

export const NonceRepoMemory = Layer.effect(
  NonceRepo,
  Effect.gen(function* () {
    const tables = yield* MemoryDb
    return {
      insert: ({ agent_id, expires_at, nonce, now }) =>
        Effect.suspend(() => {
          const key = keyOf(agent_id, nonce)
          const seen = tables.nonces.get(key)
          if (seen !== undefined && seen.expires_at > now) return Effect.succeed(false)
          return Effect.as(setUndoable(tables.nonces, key, { agent_id, expires_at }), true)
        }),
      deleteExpired: (now) =>
        Effect.gen(function* () {
          let n = 0
          for (const [key, row] of tables.nonces) {
            if (row.expires_at <= now) {
              yield* deleteUndoable(tables.nonces, key)
              n++
            }
          }
          return n
        })
    }
  })
)
