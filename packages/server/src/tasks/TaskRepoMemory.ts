import {
  type AssignmentId,
  idNumber,
  type SessionId,
  type TaskId
} from "@agent-marketplace/domain/shared/Ids"
import { Effect, Layer, Option } from "effect"
import { MemoryDb, memoryLoadOf, nextSequence, pageAfter, pushUndoable } from "../platform/MemoryDb"
import { setUndoable } from "../platform/Store"
import { type AssignmentRow, TaskRepo } from "./TaskRepo"

const byNumber =
  <A>(idOf: (a: A) => string) =>
  (a: A, b: A) =>
    idNumber(idOf(a)) - idNumber(idOf(b))

export const TaskRepoMemory = Layer.effect(
  TaskRepo,
  Effect.gen(function* () {
    const tables = yield* MemoryDb
    const getAssignment = (id: AssignmentId) =>
      Effect.sync(() => Option.fromNullable(tables.assignments.get(id)))
    const getTask = (id: TaskId) => Effect.sync(() => Option.fromNullable(tables.tasks.get(id)))
    const assignmentsOf = (ids: ReadonlyArray<AssignmentId> | undefined): Array<AssignmentRow> =>
      (ids ?? []).map((id) => tables.assignments.get(id)!)
    return {
      nextTaskId: Effect.map(nextSequence(tables, "task"), (n) => `task-${n}` as TaskId),
      nextSessionId: Effect.map(nextSequence(tables, "session"), (n) => `session-${n}` as SessionId),
      nextAssignmentId: Effect.map(
        nextSequence(tables, "assignment"),
        (n) => `assignment-${n}` as AssignmentId
      ),
      getTask,
      lockTask: getTask,
      putTask: (row) => setUndoable(tables.tasks, row.task_id, row),
      listTasks: (agentId, role, cursor) =>
        Effect.sync(() => {
          const rows = [...tables.tasks.values()]
            .filter((t) => {
              const publisher = t.publisher === agentId
              const participant = t.participant_history.includes(agentId)
              return role === "publisher"
                ? publisher
                : role === "participant"
                  ? participant
                  : publisher || participant
            })
            .sort(byNumber((t) => t.task_id))
          return pageAfter(rows, (t) => t.task_id, cursor.after, cursor.limit, idNumber)
        }),
      activeTasksWithParticipant: (agentId) =>
        Effect.sync(() =>
          [...tables.tasks.values()]
            .filter((t) => t.status === "active" && t.active_participants.includes(agentId))
            .sort(byNumber((t) => t.task_id))
        ),
      getSession: (id) => Effect.sync(() => Option.fromNullable(tables.sessions.get(id))),
      putSession: (row) => setUndoable(tables.sessions, row.session_id, row),
      sessionsOfTask: (taskId) =>
        Effect.sync(() =>
          [...tables.sessions.values()]
            .filter((s) => s.task_id === taskId)
            .sort(byNumber((s) => s.session_id))
        ),
      getAssignment,
      lockAssignment: getAssignment,
      putAssignment: (row) =>
        Effect.gen(function* () {
          const isNew = !tables.assignments.has(row.assignment_id)
          yield* setUndoable(tables.assignments, row.assignment_id, row)
          if (isNew) {
            yield* pushUndoable(tables.assignmentsByAgent, row.agent_id, row.assignment_id)
            yield* pushUndoable(tables.assignmentsByTask, row.task_id, row.assignment_id)
            if (row.target_assignment_id !== null) {
              yield* pushUndoable(tables.reviewsByTarget, row.target_assignment_id, row.assignment_id)
            }
          }
        }),
      assignmentsOfTask: (taskId) => Effect.sync(() => assignmentsOf(tables.assignmentsByTask.get(taskId))),
      assignmentsOfAgent: (agentId, status, cursor) =>
        Effect.sync(() => {
          const rows = assignmentsOf(tables.assignmentsByAgent.get(agentId)).filter(
            (a) => Option.isNone(status) || a.status === status.value
          )
          return pageAfter(rows, (a) => a.assignment_id, cursor.after, cursor.limit, idNumber)
        }),
      reviewsTargeting: (targetId) => Effect.sync(() => assignmentsOf(tables.reviewsByTarget.get(targetId))),
      overdue: (now) =>
        Effect.sync(() =>
          [...tables.assignments.values()]
            .filter((a) => a.status === "assigned" && a.deadline_at !== null && a.deadline_at <= now)
            .sort(byNumber((a) => a.assignment_id))
        ),
      loadOf: (agentId) => Effect.sync(() => memoryLoadOf(tables, agentId))
    }
  })
)
