import { AgentId, AssignmentId, idNumber, SessionId, TaskId } from "@agent-marketplace/domain/shared/Ids"
import {
  AssignmentKind,
  AssignmentStatus,
  SessionStatus,
  TaskStatus
} from "@agent-marketplace/domain/tasks/Task"
import { SqlClient } from "@effect/sql"
import { Effect, Layer, Option, Schema } from "effect"
import {
  decodeRows,
  forUpdate,
  nextSequence,
  SqlInt,
  SqlIntOrNull,
  SqlJson,
  seqPage,
  upsert
} from "../platform/Sql"
import { type AssignmentRow, type SessionRow, TaskRepo, type TaskRepoShape, type TaskRow } from "./TaskRepo"

const LoadRow = Schema.Struct({ load: SqlInt })

const TaskRecord = Schema.Struct({
  task_id: TaskId,
  publisher: AgentId,
  status: TaskStatus,
  active_participants: SqlJson(Schema.Array(AgentId)),
  participant_history: SqlJson(Schema.Array(AgentId)),
  created_at: SqlInt,
  updated_at: SqlInt
})

const SessionRecord = Schema.Struct({
  session_id: SessionId,
  task_id: TaskId,
  status: SessionStatus,
  created_at: SqlInt,
  updated_at: SqlInt
})

const AssignmentRecord = Schema.Struct({
  assignment_id: AssignmentId,
  task_id: TaskId,
  session_id: SessionId,
  agent_id: AgentId,
  kind: AssignmentKind,
  target_assignment_id: Schema.NullOr(AssignmentId),
  deadline_at: SqlIntOrNull,
  status: AssignmentStatus,
  created_at: SqlInt,
  updated_at: SqlInt
})

const first = <A>(rows: ReadonlyArray<A>): Option.Option<A> => Option.fromNullable(rows[0])

/**
 * Tasks, sessions and assignments over `SqlClient` (SQLite and Postgres). The participant arrays are
 * JSON text on the task row, mirrored into `task_members` for the participant lookups; lists are
 * ordered by `seq`, the numeric part of the id, like the memory layer. SQL failures are defects.
 */
export const TaskRepoSql: Layer.Layer<TaskRepo, never, SqlClient.SqlClient> = Layer.effect(
  TaskRepo,
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const sequence = (name: "task" | "session" | "assignment") =>
      Effect.provideService(nextSequence(name), SqlClient.SqlClient, sql)

    const tasks = decodeRows(TaskRecord)
    const sessions = decodeRows(SessionRecord)
    const assignments = decodeRows(AssignmentRecord)
    const taskColumns = sql.literal(
      "t.task_id, t.publisher, t.status, t.active_participants, t.participant_history, t.created_at, t.updated_at"
    )
    const assignmentColumns = sql.literal(
      "assignment_id, task_id, session_id, agent_id, kind, target_assignment_id, deadline_at, status, created_at, updated_at"
    )

    const getTask = (id: TaskId) =>
      sql`SELECT ${taskColumns} FROM tasks t WHERE t.task_id = ${id}`.pipe(
        tasks,
        Effect.map(first),
        Effect.orDie
      )
    const lockTask = (id: TaskId) =>
      sql`SELECT ${taskColumns} FROM tasks t WHERE t.task_id = ${id}${forUpdate(sql)}`.pipe(
        tasks,
        Effect.map(first),
        Effect.orDie
      )
    const getAssignment = (id: AssignmentId) =>
      sql`SELECT ${assignmentColumns} FROM assignments WHERE assignment_id = ${id}`.pipe(
        assignments,
        Effect.map(first),
        Effect.orDie
      )
    const lockAssignment = (id: AssignmentId) =>
      sql`SELECT ${assignmentColumns} FROM assignments WHERE assignment_id = ${id}${forUpdate(sql)}`.pipe(
        assignments,
        Effect.map(first),
        Effect.orDie
      )

    const putTask = (row: TaskRow) =>
      Effect.gen(function* () {
        const seq = idNumber(row.task_id)
        yield* upsert(sql, "tasks", "task_id", {
          task_id: row.task_id,
          seq,
          publisher: row.publisher,
          status: row.status,
          active_participants: JSON.stringify(row.active_participants),
          participant_history: JSON.stringify(row.participant_history),
          created_at: row.created_at,
          updated_at: row.updated_at
        })
        yield* sql`DELETE FROM task_members WHERE task_id = ${row.task_id}`
        const members = [
          ...[...new Set(row.participant_history)].map((agent_id) => ({ role: "history", agent_id })),
          ...[...new Set(row.active_participants)].map((agent_id) => ({ role: "active", agent_id }))
        ].map((m) => ({ task_id: row.task_id, role: m.role, agent_id: m.agent_id, task_seq: seq }))
        if (members.length > 0) yield* sql`INSERT INTO task_members ${sql.insert(members)}`
      }).pipe(Effect.orDie)

    const listTasks: TaskRepoShape["listTasks"] = (agentId, role, cursor) =>
      Option.match(seqPage(sql, "t.seq", cursor), {
        onNone: () => Effect.succeed([]),
        onSome: (page) => {
          const isParticipant = sql`EXISTS (SELECT 1 FROM task_members m
            WHERE m.task_id = t.task_id AND m.role = 'history' AND m.agent_id = ${agentId})`
          const filter =
            role === "publisher"
              ? sql`t.publisher = ${agentId}`
              : role === "participant"
                ? isParticipant
                : sql`(t.publisher = ${agentId} OR ${isParticipant})`
          return sql`SELECT ${taskColumns} FROM tasks t
            WHERE ${filter} AND ${page.after} ORDER BY t.seq ${page.limit}`.pipe(tasks, Effect.orDie)
        }
      })

    const putAssignment = (row: AssignmentRow) =>
      upsert(sql, "assignments", "assignment_id", {
        assignment_id: row.assignment_id,
        seq: idNumber(row.assignment_id),
        task_id: row.task_id,
        session_id: row.session_id,
        agent_id: row.agent_id,
        kind: row.kind,
        target_assignment_id: row.target_assignment_id,
        deadline_at: row.deadline_at,
        status: row.status,
        created_at: row.created_at,
        updated_at: row.updated_at
      })

    const putSession = (row: SessionRow) =>
      upsert(sql, "sessions", "session_id", {
        session_id: row.session_id,
        seq: idNumber(row.session_id),
        task_id: row.task_id,
        status: row.status,
        created_at: row.created_at,
        updated_at: row.updated_at
      })

    return {
      nextTaskId: Effect.map(sequence("task"), (n) => `task-${n}` as TaskId),
      nextSessionId: Effect.map(sequence("session"), (n) => `session-${n}` as SessionId),
      nextAssignmentId: Effect.map(sequence("assignment"), (n) => `assignment-${n}` as AssignmentId),
      getTask,
      lockTask,
      putTask,
      listTasks,
      activeTasksWithParticipant: (agentId) =>
        sql`SELECT ${taskColumns} FROM tasks t
          WHERE t.status = 'active' AND EXISTS (SELECT 1 FROM task_members m
            WHERE m.task_id = t.task_id AND m.role = 'active' AND m.agent_id = ${agentId})
          ORDER BY t.seq`.pipe(tasks, Effect.orDie),
      getSession: (id) =>
        sql`SELECT session_id, task_id, status, created_at, updated_at FROM sessions WHERE session_id = ${id}`.pipe(
          sessions,
          Effect.map(first),
          Effect.orDie
        ),
      putSession,
      sessionsOfTask: (taskId) =>
        sql`SELECT session_id, task_id, status, created_at, updated_at FROM sessions
          WHERE task_id = ${taskId} ORDER BY seq`.pipe(sessions, Effect.orDie),
      getAssignment,
      lockAssignment,
      putAssignment,
      assignmentsOfTask: (taskId) =>
        sql`SELECT ${assignmentColumns} FROM assignments WHERE task_id = ${taskId} ORDER BY seq`.pipe(
          assignments,
          Effect.orDie
        ),
      assignmentsOfAgent: (agentId, status, cursor) =>
        Option.match(seqPage(sql, "seq", cursor), {
          onNone: () => Effect.succeed([]),
          onSome: (page) =>
            sql`SELECT ${assignmentColumns} FROM assignments
              WHERE agent_id = ${agentId}
                ${Option.match(status, { onNone: () => sql.literal(""), onSome: (s) => sql`AND status = ${s}` })}
                AND ${page.after}
              ORDER BY seq ${page.limit}`.pipe(assignments, Effect.orDie)
        }),
      reviewsTargeting: (targetId) =>
        sql`SELECT ${assignmentColumns} FROM assignments
          WHERE target_assignment_id = ${targetId} ORDER BY seq`.pipe(assignments, Effect.orDie),
      overdue: (now) =>
        sql`SELECT ${assignmentColumns} FROM assignments
          WHERE status = 'assigned' AND deadline_at IS NOT NULL AND deadline_at <= ${now}
          ORDER BY seq`.pipe(assignments, Effect.orDie),
      loadOf: (agentId) =>
        sql`SELECT COUNT(*) AS load FROM assignments
          WHERE agent_id = ${agentId}
            AND (status = 'assigned' OR (kind = 'execute' AND status = 'output_ready'))`.pipe(
          decodeRows(LoadRow),
          Effect.map((rows) => rows[0]?.load ?? 0),
          Effect.orDie
        )
    }
  })
)
