import type { AgentListing } from "@agent-marketplace/domain/registry/Agent"
import type { ReviewSession } from "@agent-marketplace/domain/reviews/Review"
import type { Hold, LedgerEntry } from "@agent-marketplace/domain/settlement/Settlement"
import type { Assignment, Session, Task } from "@agent-marketplace/domain/tasks/Task"
import { Option } from "effect"
import type { AgentWithLiveness } from "../registry/AgentRepo"
import type { ReviewRow } from "../reviews/ReviewRepo"
import type { EntryRow, HoldRow } from "../settlement/LedgerRepo"
import type { AssignmentRow, SessionRow, TaskRow } from "../tasks/TaskRepo"

/** Rows keep epoch milliseconds; the wire has ISO-8601 UTC strings. */
export const iso = (ms: number): string => new Date(ms).toISOString()
const isoOrNull = (ms: number | null): string | null => (ms === null ? null : iso(ms))

export const taskToWire = (t: TaskRow): Task => ({
  ...t,
  created_at: iso(t.created_at),
  updated_at: iso(t.updated_at)
})
export const sessionToWire = (s: SessionRow): Session => ({
  ...s,
  created_at: iso(s.created_at),
  updated_at: iso(s.updated_at)
})
export const assignmentToWire = (a: AssignmentRow): Assignment => ({
  ...a,
  deadline_at: isoOrNull(a.deadline_at),
  created_at: iso(a.created_at),
  updated_at: iso(a.updated_at)
})
export const holdToWire = (h: HoldRow): Hold => ({
  ...h,
  created_at: iso(h.created_at),
  settled_at: isoOrNull(h.settled_at)
})
export const entryToWire = (e: EntryRow): LedgerEntry => ({ ...e, at: iso(e.at) })
export const reviewToWire = (r: ReviewRow): ReviewSession => ({
  ...r,
  verdicts: r.verdicts.map((v) => ({ ...v, submitted_at: iso(v.submitted_at) })),
  created_at: iso(r.created_at)
})
export const agentToWire = ({ agent, liveness, load }: AgentWithLiveness): AgentListing => ({
  agent_id: agent.agent_id,
  name: agent.name,
  endpoint: agent.endpoint,
  metadata: agent.metadata,
  capabilities: agent.capabilities,
  lifecycle: agent.lifecycle,
  alive: Option.match(liveness, {
    onNone: () => false,
    onSome: (l) => l.alive && agent.lifecycle === "registered"
  }),
  last_heartbeat_at: Option.match(liveness, { onNone: () => null, onSome: (l) => iso(l.last_heartbeat_at) }),
  current_load: load,
  created_at: iso(agent.created_at),
  updated_at: iso(agent.updated_at)
})

/** The next-page cursor: the last id when the page is full. */
export const nextCursor = <A>(
  rows: ReadonlyArray<A>,
  limit: number,
  idOf: (a: A) => string
): string | null => (rows.length === limit && rows.length > 0 ? idOf(rows[rows.length - 1]!) : null)
