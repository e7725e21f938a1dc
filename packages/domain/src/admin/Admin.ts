import { Schema } from "effect"
import { AgentListing, Lifecycle } from "../registry/Agent"
import { AgentId, Amount, AssignmentId, EntryId, Limit, strict, TaskId, Timestamp } from "../shared/Ids"
import { TaskStatus } from "../tasks/Task"

/** The longest an invite may stay valid: 30 days. */
export const MAX_INVITE_SECS = 30 * 24 * 3600

export const CreateInviteRequest = Schema.Struct({
  expires_in_secs: Schema.Int.pipe(
    Schema.between(1, MAX_INVITE_SECS, {
      message: () => `expires_in_secs must be an integer between 1 and ${MAX_INVITE_SECS}`
    })
  ),
  /** When given, only this agent id can register with the code. */
  agent_id: Schema.optional(AgentId)
}).annotations({ ...strict, identifier: "CreateInviteRequest" })
export type CreateInviteRequest = typeof CreateInviteRequest.Type

/** A new invite. The code is shown once: the server keeps only its SHA-256. */
export const Invite = Schema.Struct({
  invite_code: Schema.String,
  expires_at: Timestamp,
  agent_id: Schema.NullOr(AgentId)
}).annotations({ identifier: "Invite" })
export type Invite = typeof Invite.Type

export const AdminDepositRequest = Schema.Struct({ agent_id: AgentId, amount: Amount }).annotations({
  ...strict,
  identifier: "AdminDepositRequest"
})
export type AdminDepositRequest = typeof AdminDepositRequest.Type

/** A suspension: the agent as it is now, and its `assigned` work that was cancelled (and refunded). */
export const SuspendResponse = Schema.Struct({
  agent: AgentListing,
  cancelled_assignments: Schema.Array(AssignmentId)
}).annotations({ identifier: "SuspendResponse" })
export type SuspendResponse = typeof SuspendResponse.Type

export const AgentPath = Schema.Struct({ agent_id: AgentId })
export const TaskPath = Schema.Struct({ task_id: TaskId })

export const AdminAgentsQuery = Schema.Struct({
  lifecycle: Schema.optional(Lifecycle),
  limit: Schema.optional(Limit),
  after: Schema.optional(AgentId)
}).annotations(strict)

export const AdminOnlineQuery = Schema.Struct({
  limit: Schema.optional(Limit),
  after: Schema.optional(AgentId)
}).annotations(strict)

export const AdminTasksQuery = Schema.Struct({
  status: Schema.optional(TaskStatus),
  limit: Schema.optional(Limit),
  after: Schema.optional(TaskId)
}).annotations(strict)

export const AdminLedgerQuery = Schema.Struct({
  /** Only the entries of this agent's account (the same as `GET /admin/ledger/{agent_id}`). */
  agent_id: Schema.optional(AgentId),
  limit: Schema.optional(Limit),
  after: Schema.optional(EntryId)
}).annotations(strict)

export const AdminAgentLedgerQuery = Schema.Struct({
  limit: Schema.optional(Limit),
  after: Schema.optional(EntryId)
}).annotations(strict)
