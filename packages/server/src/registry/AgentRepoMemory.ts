import { Effect, Layer, Option } from "effect"
import { MemoryDb, type MemoryTables, memoryLoadOf, nextSequence } from "../platform/MemoryDb"
import { setUndoable } from "../platform/Store"
import { AgentRepo, type AgentRow, type AgentWithLiveness, type DiscoverHit } from "./AgentRepo"

const withLiveness = (tables: MemoryTables, agent: AgentRow): AgentWithLiveness => ({
  agent,
  liveness: Option.fromNullable(tables.liveness.get(agent.agent_id)),
  load: memoryLoadOf(tables, agent.agent_id)
})

export const AgentRepoMemory = Layer.effect(
  AgentRepo,
  Effect.gen(function* () {
    const tables = yield* MemoryDb
    return {
      get: (id) => Effect.sync(() => Option.fromNullable(tables.agents.get(id))),
      put: (row) =>
        Effect.gen(function* () {
          const seq = row.seq > 0 ? row.seq : yield* nextSequence(tables, "agent")
          const stored = { ...row, seq }
          yield* setUndoable(tables.agents, row.agent_id, stored)
          return stored
        }),
      getWithLiveness: (id) =>
        Effect.sync(() =>
          Option.map(Option.fromNullable(tables.agents.get(id)), (a) => withLiveness(tables, a))
        ),
      list: ({ after, aliveOnly, includeDeregistered, lifecycle, limit }) =>
        Effect.sync(() => {
          const afterSeq = Option.match(after, {
            onNone: () => 0,
            onSome: (id) => tables.agents.get(id)?.seq ?? Number.POSITIVE_INFINITY
          })
          const rows = [...tables.agents.values()]
            .filter((a) => a.seq > afterSeq)
            .filter((a) => includeDeregistered || a.lifecycle !== "deregistered")
            .filter((a) => lifecycle === undefined || a.lifecycle === lifecycle)
            .filter((a) => !aliveOnly || tables.liveness.get(a.agent_id)?.alive === true)
            .sort((a, b) => a.seq - b.seq)
            .slice(0, limit)
          return rows.map((a) => withLiveness(tables, a))
        }),
      discover: ({ capability, includeBusy, limit }) =>
        Effect.sync(() => {
          const hits: Array<DiscoverHit> = []
          for (const agent of tables.agents.values()) {
            if (agent.lifecycle !== "registered") continue
            const cap = agent.capabilities.find((c) => c.name === capability)
            if (cap === undefined) continue
            const live = tables.liveness.get(agent.agent_id)
            if (live === undefined || !live.alive) continue
            const load = memoryLoadOf(tables, agent.agent_id)
            if (!includeBusy && (live.busy || load >= cap.max_concurrency)) continue
            hits.push({
              agent: { agent_id: agent.agent_id, name: agent.name, endpoint: agent.endpoint },
              capability: cap,
              load,
              last_heartbeat_at: live.last_heartbeat_at
            })
          }
          hits.sort(
            (a, b) =>
              a.load - b.load ||
              b.last_heartbeat_at - a.last_heartbeat_at ||
              (a.agent.agent_id < b.agent.agent_id ? -1 : a.agent.agent_id > b.agent.agent_id ? 1 : 0)
          )
          return hits.slice(0, limit)
        })
    }
  })
)
