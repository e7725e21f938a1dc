import type { AgentId, AssignmentId, HoldId, ReviewId, TaskId } from "@agent-marketplace/domain/shared/Ids"
import { Context, Effect, Layer } from "effect"
import type { IdempotencyRow } from "../idempotency/IdempotencyRepo"
import type { AgentRow, LivenessRow } from "../registry/AgentRepo"
import type { RelayLease, RelayRow } from "../relay/RelayRepo"
import type { ReviewRow } from "../reviews/ReviewRepo"
import type { EntryRow, HoldRow } from "../settlement/LedgerRepo"
import type { AssignmentRow, SessionRow, TaskRow } from "../tasks/TaskRepo"
import { recordUndo, setUndoable } from "./Store"

/** The tables of the memory store, shared by its repositories (one instance per layer build). */
export interface MemoryTables {
  readonly sequences: Map<string, number>
  readonly agents: Map<AgentId, AgentRow>
  readonly tokens: Map<string, { agent_id: AgentId; revoked_at: number | null }>
  readonly tokensByAgent: Map<AgentId, Array<string>>
  readonly liveness: Map<AgentId, LivenessRow>
  readonly tasks: Map<TaskId, TaskRow>
  readonly sessions: Map<string, SessionRow>
  readonly assignments: Map<AssignmentId, AssignmentRow>
  readonly assignmentsByAgent: Map<AgentId, Array<AssignmentId>>
  readonly assignmentsByTask: Map<TaskId, Array<AssignmentId>>
  readonly reviewsByTarget: Map<AssignmentId, Array<AssignmentId>>
  readonly reviews: Map<ReviewId, ReviewRow>
  readonly reviewSessionsByTarget: Map<AssignmentId, Array<ReviewId>>
  readonly balances: Map<string, number>
  readonly holds: Map<HoldId, HoldRow>
  readonly holdsByAssignment: Map<AssignmentId, Array<HoldId>>
  readonly holdsByAgent: Map<AgentId, Array<HoldId>>
  readonly entries: Array<EntryRow>
  readonly entriesByAccount: Map<string, Array<number>>
  readonly idempotency: Map<string, IdempotencyRow>
  /** Signature nonces by `agent_id \u0000 nonce`. */
  readonly nonces: Map<string, { readonly agent_id: AgentId; readonly expires_at: number }>
  readonly relaySlots: Map<string, RelayRow>
  readonly relayLeases: Map<string, RelayLease>
}

export class MemoryDb extends Context.Tag("MemoryDb")<MemoryDb, MemoryTables>() {
  static readonly layer = Layer.sync(MemoryDb, () => ({
    sequences: new Map(),
    agents: new Map(),
    tokens: new Map(),
    tokensByAgent: new Map(),
    liveness: new Map(),
    tasks: new Map(),
    sessions: new Map(),
    assignments: new Map(),
    assignmentsByAgent: new Map(),
    assignmentsByTask: new Map(),
    reviewsByTarget: new Map(),
    reviews: new Map(),
    reviewSessionsByTarget: new Map(),
    balances: new Map(),
    holds: new Map(),
    holdsByAssignment: new Map(),
    holdsByAgent: new Map(),
    entries: [],
    entriesByAccount: new Map(),
    idempotency: new Map(),
    nonces: new Map(),
    relaySlots: new Map(),
    relayLeases: new Map()
  }))
}

/** Next value of a named sequence (1, 2, …); rolled back with its transaction like any write. */
export const nextSequence = (tables: MemoryTables, name: string): Effect.Effect<number> =>
  Effect.suspend(() => {
    const n = (tables.sequences.get(name) ?? 0) + 1
    return Effect.as(setUndoable(tables.sequences, name, n), n)
  })

/** Appends to an index list, undoably. */
export const pushUndoable = <K, V>(index: Map<K, Array<V>>, key: K, value: V): Effect.Effect<void> =>
  Effect.suspend(() => {
    let list = index.get(key)
    const created = list === undefined
    if (list === undefined) {
      list = []
      index.set(key, list)
    }
    list.push(value)
    const target = list
    return recordUndo(() => {
      target.pop()
      if (created) index.delete(key)
    })
  })

/** Keyset pagination over rows already in creation order. */
export const pageAfter = <A>(
  rows: ReadonlyArray<A>,
  idOf: (a: A) => string,
  after: { readonly _tag: "Some"; readonly value: string } | { readonly _tag: "None" },
  limit: number,
  numberOf: (id: string) => number
): Array<A> => {
  const start = after._tag === "Some" ? numberOf(after.value) : Number.NEGATIVE_INFINITY
  const out: Array<A> = []
  for (const row of rows) {
    if (numberOf(idOf(row)) > start) {
      out.push(row)
      if (out.length === limit) break
    }
  }
  return out
}

/** Load: assignments in `assigned` plus execute assignments in `output_ready`. */
export const memoryLoadOf = (tables: MemoryTables, agentId: AgentId): number => {
  let load = 0
  for (const id of tables.assignmentsByAgent.get(agentId) ?? []) {
    const a = tables.assignments.get(id)!
    if (a.status === "assigned" || (a.kind === "execute" && a.status === "output_ready")) load++
  }
  return load
}
