import type { AgentId, AssignmentId, SessionId, TaskId } from "@agent-marketplace/domain/shared/Ids"
import type {
  AssignmentKind,
  AssignmentStatus,
  SessionStatus,
  TaskStatus
} from "@agent-marketplace/domain/tasks/Task"
import { Context, type Effect, type Option } from "effect"

export interface TaskRow {
  readonly task_id: TaskId
  readonly publisher: AgentId
  readonly status: TaskStatus
  readonly active_participants: ReadonlyArray<AgentId>
  readonly participant_history: ReadonlyArray<AgentId>
  readonly created_at: number
  readonly updated_at: number
}

export interface SessionRow {
  readonly session_id: SessionId
  readonly task_id: TaskId
  readonly status: SessionStatus
  readonly created_at: number
  readonly updated_at: number
}

export interface AssignmentRow {
  readonly assignment_id: AssignmentId
  readonly task_id: TaskId
  readonly session_id: SessionId
  readonly agent_id: AgentId
  readonly kind: AssignmentKind
  readonly target_assignment_id: AssignmentId | null
  readonly deadline_at: number | null
  readonly status: AssignmentStatus
  readonly created_at: number
  readonly updated_at: number
}

export interface Cursor<Id> {
  readonly after: Option.Option<Id>
  readonly limit: number
}

export interface TaskRepoShape {
  readonly nextTaskId: Effect.Effect<TaskId>
  readonly nextSessionId: Effect.Effect<SessionId>
  readonly nextAssignmentId: Effect.Effect<AssignmentId>

  readonly getTask: (id: TaskId) => Effect.Effect<Option.Option<TaskRow>>
  /** Inside a transaction: the row, locked against concurrent writers until commit (SQL). */
  readonly lockTask: (id: TaskId) => Effect.Effect<Option.Option<TaskRow>>
  readonly putTask: (row: TaskRow) => Effect.Effect<void>
  /** Tasks the agent published (`publisher`), takes part in (`participant`: active or past), or either. */
  readonly listTasks: (
    agentId: AgentId,
    role: "publisher" | "participant" | "any",
    cursor: Cursor<TaskId>
  ) => Effect.Effect<ReadonlyArray<TaskRow>>
  /** Active tasks where the agent is an active participant. */
  readonly activeTasksWithParticipant: (agentId: AgentId) => Effect.Effect<ReadonlyArray<TaskRow>>

  readonly getSession: (id: SessionId) => Effect.Effect<Option.Option<SessionRow>>
  readonly putSession: (row: SessionRow) => Effect.Effect<void>
  readonly sessionsOfTask: (taskId: TaskId) => Effect.Effect<ReadonlyArray<SessionRow>>

  readonly getAssignment: (id: AssignmentId) => Effect.Effect<Option.Option<AssignmentRow>>
  readonly lockAssignment: (id: AssignmentId) => Effect.Effect<Option.Option<AssignmentRow>>
  readonly putAssignment: (row: AssignmentRow) => Effect.Effect<void>
  readonly assignmentsOfTask: (taskId: TaskId) => Effect.Effect<ReadonlyArray<AssignmentRow>>
  readonly assignmentsOfAgent: (
    agentId: AgentId,
    status: Option.Option<AssignmentStatus>,
    cursor: Cursor<AssignmentId>
  ) => Effect.Effect<ReadonlyArray<AssignmentRow>>
  /** Review assignments whose target is `targetId`, by creation. */
  readonly reviewsTargeting: (targetId: AssignmentId) => Effect.Effect<ReadonlyArray<AssignmentRow>>
  /** Assignments in `assigned` whose deadline is at or before `now`. */
  readonly overdue: (now: number) => Effect.Effect<ReadonlyArray<AssignmentRow>>
  /** The agent's load: assignments in `assigned` plus execute assignments in `output_ready`. */
  readonly loadOf: (agentId: AgentId) => Effect.Effect<number>
}

export class TaskRepo extends Context.Tag("TaskRepo")<TaskRepo, TaskRepoShape>() {}
