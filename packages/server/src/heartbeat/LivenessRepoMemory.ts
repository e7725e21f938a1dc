import type { AgentId } from "@agent-marketplace/domain/shared/Ids"
import { Effect, Layer, Option } from "effect"
import { MemoryDb, type MemoryTables, memoryLoadOf } from "../platform/MemoryDb"
import { Store, setUndoable } from "../platform/Store"
import type { LivenessRow } from "../registry/AgentRepo"
import { LivenessRepo } from "./LivenessRepo"

const isExpired = (
  tables: MemoryTables,
  row: LivenessRow,
  cutoffs: { readonly idleCutoff: number; readonly busyCutoff: number }
): boolean => {
  if (!row.alive) return false
  const busy = row.busy || memoryLoadOf(tables, row.agent_id) > 0
  return row.last_heartbeat_at < (busy ? cutoffs.busyCutoff : cutoffs.idleCutoff)
}

export const LivenessRepoMemory = Layer.effect(
  LivenessRepo,
  Effect.gen(function* () {
    const tables = yield* MemoryDb
    const store = yield* Store
    return {
      get: (id) => Effect.sync(() => Option.fromNullable(tables.liveness.get(id))),
      put: (row) => setUndoable(tables.liveness, row.agent_id, row),
      // In a transaction of its own, so it never interleaves with one in progress.
      touch: (agentId, busy, now) =>
        store.transaction(
          Effect.suspend(() => {
            const row = tables.liveness.get(agentId)
            if (row === undefined || !row.alive) return Effect.succeed(Option.none())
            return Effect.as(
              setUndoable(tables.liveness, agentId, { ...row, busy, last_heartbeat_at: now }),
              Option.some({ loaded: memoryLoadOf(tables, agentId) > 0 })
            )
          })
        ),
      peek: (agentId) =>
        Effect.sync(() => {
          const row = tables.liveness.get(agentId)
          return row === undefined
            ? Option.none()
            : Option.some({ row, loaded: memoryLoadOf(tables, agentId) > 0 })
        }),
      writeLastSeen: (batch) =>
        Effect.forEach(
          batch,
          ({ agent_id, at }) =>
            Effect.suspend(() => {
              const row = tables.liveness.get(agent_id)
              return row === undefined || row.last_heartbeat_at >= at
                ? Effect.void
                : setUndoable(tables.liveness, agent_id, { ...row, last_heartbeat_at: at })
            }),
          { discard: true }
        ),
      expired: (cutoffs) =>
        Effect.sync(() => {
          const out: Array<AgentId> = []
          for (const row of tables.liveness.values())
            if (isExpired(tables, row, cutoffs)) out.push(row.agent_id)
          return out
        }),
      claimTimeout: (agentId, cutoffs) =>
        Effect.suspend(() => {
          const row = tables.liveness.get(agentId)
          if (row === undefined || !isExpired(tables, row, cutoffs)) return Effect.succeed(false)
          return Effect.as(setUndoable(tables.liveness, agentId, { ...row, alive: false }), true)
        })
    }
  })
)
