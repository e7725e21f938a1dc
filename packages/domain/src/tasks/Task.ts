import { Schema } from "effect"
import { AgentId, AssignmentId, HoldId, SessionId, strict, TaskId, Timestamp } from "../shared/Ids"

export const TaskStatus = Schema.Literal("active", "completed", "cancelled")
export type TaskStatus = typeof TaskStatus.Type

export const Task = Schema.Struct({
  task_id: TaskId,
  publisher: AgentId,
  status: TaskStatus,
  active_participants: Schema.Array(AgentId),
  participant_history: Schema.Array(AgentId),
  created_at: Timestamp,
  updated_at: Timestamp
}).annotations({ identifier: "Task" })
export type Task = typeof Task.Type

export const SessionStatus = Schema.Literal("running", "closed")
export type SessionStatus = typeof SessionStatus.Type

export const Session = Schema.Struct({
  session_id: SessionId,
  task_id: TaskId,
  status: SessionStatus,
  created_at: Timestamp,
  updated_at: Timestamp
}).annotations({ identifier: "Session" })
export type Session = typeof Session.Type

export const AssignmentKind = Schema.Literal("execute", "review")
export type AssignmentKind = typeof AssignmentKind.Type

export const AssignmentStatus = Schema.Literal(
  "assigned",
  "output_ready",
  "approved",
  "rejected",
  "cancelled"
)
export type AssignmentStatus = typeof AssignmentStatus.Type

export const Assignment = Schema.Struct({
  assignment_id: AssignmentId,
  task_id: TaskId,
  session_id: SessionId,
  agent_id: AgentId,
  kind: AssignmentKind,
  target_assignment_id: Schema.NullOr(AssignmentId),
  deadline_at: Schema.NullOr(Timestamp),
  status: AssignmentStatus,
  created_at: Timestamp,
  updated_at: Timestamp
}).annotations({ identifier: "Assignment" })
export type Assignment = typeof Assignment.Type

export const TaskRole = Schema.Literal("publisher", "participant")

export const AddParticipantRequest = Schema.Struct({ agent_id: AgentId }).annotations({
  ...strict,
  identifier: "AddParticipantRequest"
})

export const CreateSessionRequest = Schema.Struct({ task_id: TaskId }).annotations({
  ...strict,
  identifier: "CreateSessionRequest"
})

export const MAX_DEADLINE_SECS = 366 * 24 * 3600

export const CreateAssignmentRequest = Schema.Struct({
  task_id: TaskId,
  session_id: SessionId,
  agent_id: AgentId,
  kind: AssignmentKind,
  target_assignment_id: Schema.optional(Schema.NullOr(AssignmentId)),
  deadline_secs: Schema.optional(Schema.Int.pipe(Schema.between(1, MAX_DEADLINE_SECS)))
}).annotations({ ...strict, identifier: "CreateAssignmentRequest" })
export type CreateAssignmentRequest = typeof CreateAssignmentRequest.Type

export const CancelTaskResponse = Schema.Struct({
  task: Task,
  cancelled_assignments: Schema.Array(AssignmentId),
  refunded_holds: Schema.Array(HoldId)
}).annotations({ identifier: "CancelTaskResponse" })
export type CancelTaskResponse = typeof CancelTaskResponse.Type

export const EmptyBody = Schema.Struct({}).annotations({ ...strict, identifier: "EmptyBody" })
