import { Effect, Layer, Option } from "effect"
import { setUndoable } from "../platform/Store"
import { InviteRepo, type InviteRow } from "./InviteRepo"

/**
 * Invites on the memory store: a table of its own (one per layer build), written undoably, so a
 * registration that fails after consuming its invite gives the invite back. The memory store's
 * single writer makes `consume` atomic.
 */
export const InviteRepoMemory = Layer.sync(InviteRepo, () => {
  const invites = new Map<string, InviteRow>()
  return {
    insert: (row) => setUndoable(invites, row.code_hash, row),
    get: (codeHash) => Effect.sync(() => Option.fromNullable(invites.get(codeHash))),
    consume: (codeHash, agentId, now) =>
      Effect.suspend(() => {
        const row = invites.get(codeHash)
        if (
          row === undefined ||
          row.used_at !== null ||
          now >= row.expires_at ||
          (row.agent_id !== null && row.agent_id !== agentId)
        ) {
          return Effect.succeed(Option.none())
        }
        const used: InviteRow = { ...row, used_at: now, used_by: agentId }
        return Effect.as(setUndoable(invites, codeHash, used), Option.some(used))
      })
  }
})
