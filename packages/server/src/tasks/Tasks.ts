import {
  InputInvalidError,
  notFound,
  PermissionDeniedError,
  StateConflictError
} from "@agent-marketplace/domain/shared/Errors"
import type { AgentId, AssignmentId, HoldId, SessionId, TaskId } from "@agent-marketplace/domain/shared/Ids"
import type { AssignmentChange } from "@agent-marketplace/domain/tasks/AssignmentChange"
import type {
  AssignmentStatus,
  CancelTaskResponse,
  CreateAssignmentRequest
} from "@agent-marketplace/domain/tasks/Task"
import { Clock, Context, Effect, Layer, Option } from "effect"
import { assignmentToWire, holdToWire, taskToWire } from "../platform/Wire"
import { AgentRepo } from "../registry/AgentRepo"
import { ReviewRepo } from "../reviews/ReviewRepo"
import { LedgerRepo } from "../settlement/LedgerRepo"
import { Settlement } from "../settlement/Settlement"
import { type AssignmentRow, type SessionRow, TaskRepo, type TaskRow } from "./TaskRepo"

type NotFound = ReturnType<typeof notFound>

/**
 * Tasks, sessions and assignments: their state machines and visibility. Every mutating method runs
 * inside the caller's transaction; the `…For…` lookups are the authorization steps (404/403) that run
 * before idempotency.
 */
export class Tasks extends Context.Tag("Tasks")<
  Tasks,
  {
    readonly create: (publisher: AgentId) => Effect.Effect<TaskRow>
    /** Task visible to its publisher and participants (others: 404). */
    readonly visibleTask: (caller: AgentId, taskId: TaskId) => Effect.Effect<TaskRow, NotFound>
    /** Task the caller published (403 for participants, 404 for others). */
    readonly publishedTask: (
      caller: AgentId,
      taskId: TaskId
    ) => Effect.Effect<TaskRow, NotFound | PermissionDeniedError>
    readonly addParticipant: (
      task: TaskRow,
      agentId: AgentId
    ) => Effect.Effect<TaskRow, InputInvalidError | StateConflictError>
    readonly complete: (task: TaskRow) => Effect.Effect<TaskRow, StateConflictError>
    readonly cancel: (task: TaskRow) => Effect.Effect<CancelTaskResponse, StateConflictError>
    readonly createSession: (task: TaskRow) => Effect.Effect<SessionRow, StateConflictError>
    readonly publishedSession: (
      caller: AgentId,
      sessionId: SessionId
    ) => Effect.Effect<SessionRow, NotFound | PermissionDeniedError>
    readonly closeSession: (session: SessionRow) => Effect.Effect<SessionRow>
    readonly createAssignment: (
      task: TaskRow,
      request: CreateAssignmentRequest
    ) => Effect.Effect<AssignmentRow, InputInvalidError | StateConflictError>
    /** Visible to the publisher, the assignee and the assignees of reviews targeting it. */
    readonly visibleAssignment: (caller: AgentId, id: AssignmentId) => Effect.Effect<AssignmentRow, NotFound>
    /** The assignment, when the caller is its task's publisher (or 403/404). */
    readonly assignmentForPublisher: (
      caller: AgentId,
      id: AssignmentId
    ) => Effect.Effect<AssignmentRow, NotFound | PermissionDeniedError>
    /** The assignment, when the caller is its assignee (or 403/404). */
    readonly assignmentForAssignee: (
      caller: AgentId,
      id: AssignmentId
    ) => Effect.Effect<AssignmentRow, NotFound | PermissionDeniedError>
    readonly cancelAssignment: (a: AssignmentRow) => Effect.Effect<AssignmentChange, StateConflictError>
    readonly declineAssignment: (a: AssignmentRow) => Effect.Effect<AssignmentChange, StateConflictError>
    readonly outputReady: (a: AssignmentRow) => Effect.Effect<AssignmentRow, StateConflictError>
    readonly reject: (a: AssignmentRow) => Effect.Effect<AssignmentChange, StateConflictError>
    /**
     * Moves an assignment to a final state (or `approved`), refunding its active hold when it is
     * cancelled or rejected, and cancelling (with refunds) the still-assigned reviews of an execute
     * assignment that became final.
     */
    readonly finalize: (
      a: AssignmentRow,
      to: "approved" | "rejected" | "cancelled"
    ) => Effect.Effect<AssignmentChange & { readonly refunded: ReadonlyArray<HoldId> }>
    /**
     * An agent went away (liveness timeout, deregistration, suspension): its `assigned` work is
     * cancelled and refunded and it leaves the active participants of active tasks.
     */
    readonly releaseAgent: (
      agentId: AgentId
    ) => Effect.Effect<{ readonly cancelled: ReadonlyArray<AssignmentId> }>
  }
>() {}

export const TasksLive = Layer.effect(
  Tasks,
  Effect.gen(function* () {
    const repo = yield* TaskRepo
    const agents = yield* AgentRepo
    const settlement = yield* Settlement
    const ledger = yield* LedgerRepo
    const reviews = yield* ReviewRepo

    const load = <A, Id extends string>(
      get: (id: Id) => Effect.Effect<Option.Option<A>>,
      kind: string,
      id: Id
    ) =>
      Effect.flatMap(get(id), (o) =>
        Option.isSome(o) ? Effect.succeed(o.value) : Effect.fail(notFound(kind, id))
      )

    /**
     * Work goes to registered agents only: an unknown or deregistered id is bad input (400); a
     * pending (awaiting approval) or suspended agent is a state that may change (409).
     */
    const requireRegistered = (agentId: AgentId) =>
      Effect.gen(function* () {
        const agent = yield* agents.get(agentId)
        const lifecycle = Option.isSome(agent) ? agent.value.lifecycle : "unknown"
        if (lifecycle === "registered") return
        if (lifecycle === "pending" || lifecycle === "suspended") {
          return yield* new StateConflictError({
            message: `agent ${agentId} is ${lifecycle === "pending" ? "pending operator approval" : "suspended"}`
          })
        }
        return yield* new InputInvalidError({ message: `agent ${agentId} is not a registered agent` })
      })

    const statusConflict = (a: AssignmentRow, action: string, expected: AssignmentStatus) =>
      new StateConflictError({
        message: `cannot ${action} ${a.assignment_id}: it is ${a.status}, not ${expected}`
      })

    const finalize = (a: AssignmentRow, to: "approved" | "rejected" | "cancelled") =>
      Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        const updated: AssignmentRow = { ...a, status: to, updated_at: now }
        yield* repo.putAssignment(updated)
        const refunded: Array<HoldId> = []
        let refundedHold: AssignmentChange["refunded_hold"] = null
        if (to !== "approved") {
          const hold = yield* settlement.refundActiveHoldOf(a.assignment_id)
          if (Option.isSome(hold)) {
            refunded.push(hold.value.hold_id)
            refundedHold = holdToWire(hold.value)
          }
        }
        if (a.kind === "execute") {
          for (const review of yield* repo.reviewsTargeting(a.assignment_id)) {
            if (review.status !== "assigned") continue
            yield* repo.putAssignment({ ...review, status: "cancelled", updated_at: now })
            const hold = yield* settlement.refundActiveHoldOf(review.assignment_id)
            if (Option.isSome(hold)) refunded.push(hold.value.hold_id)
          }
        }
        return { assignment: assignmentToWire(updated), refunded_hold: refundedHold, refunded }
      })

    const change = (result: {
      assignment: AssignmentChange["assignment"]
      refunded_hold: AssignmentChange["refunded_hold"]
    }) => ({
      assignment: result.assignment,
      refunded_hold: result.refunded_hold
    })

    const visibleTask = (caller: AgentId, taskId: TaskId) =>
      Effect.gen(function* () {
        const task = yield* repo.getTask(taskId)
        if (
          Option.isNone(task) ||
          (task.value.publisher !== caller && !task.value.participant_history.includes(caller))
        ) {
          return yield* notFound("task", taskId)
        }
        return task.value
      })

    const publishedTask = (caller: AgentId, taskId: TaskId) =>
      Effect.gen(function* () {
        const task = yield* visibleTask(caller, taskId)
        if (task.publisher !== caller) {
          return yield* new PermissionDeniedError({ message: `only the publisher of ${taskId} may do this` })
        }
        return task
      })

    const requireActive = (task: TaskRow) =>
      task.status === "active"
        ? Effect.void
        : Effect.fail(
            new StateConflictError({ message: `task ${task.task_id} is ${task.status}, not active` })
          )

    const visibleAssignment = (caller: AgentId, id: AssignmentId) =>
      Effect.gen(function* () {
        const a = yield* repo.getAssignment(id)
        if (Option.isNone(a)) return yield* notFound("assignment", id)
        if (a.value.agent_id === caller) return a.value
        const task = yield* repo.getTask(a.value.task_id)
        if (Option.isSome(task) && task.value.publisher === caller) return a.value
        const reviewers = yield* repo.reviewsTargeting(id)
        if (reviewers.some((r) => r.agent_id === caller)) return a.value
        return yield* notFound("assignment", id)
      })

    const closeOpenWork = (task: TaskRow) =>
      Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        for (const s of yield* repo.sessionsOfTask(task.task_id)) {
          if (s.status === "running") yield* repo.putSession({ ...s, status: "closed", updated_at: now })
        }
        const cancelled: Array<AssignmentId> = []
        const refunded: Array<HoldId> = []
        // Reviews first, so cancelling an execute assignment finds its reviews already final.
        const all = yield* repo.assignmentsOfTask(task.task_id)
        const open = all
          .filter((a) => a.status === "assigned" || a.status === "output_ready")
          .sort((x, y) => (x.kind === y.kind ? 0 : x.kind === "review" ? -1 : 1))
        for (const a of open) {
          const current = Option.getOrElse(yield* repo.getAssignment(a.assignment_id), () => a)
          if (current.status !== "assigned" && current.status !== "output_ready") continue
          const result = yield* finalize(current, "cancelled")
          cancelled.push(current.assignment_id)
          refunded.push(...result.refunded)
        }
        return { cancelled, refunded, now }
      })

    return {
      finalize,
      visibleTask,
      publishedTask,
      visibleAssignment,
      create: (publisher) =>
        Effect.gen(function* () {
          const now = yield* Clock.currentTimeMillis
          const task: TaskRow = {
            task_id: yield* repo.nextTaskId,
            publisher,
            status: "active",
            active_participants: [],
            participant_history: [],
            created_at: now,
            updated_at: now
          }
          yield* repo.putTask(task)
          return task
        }),
      addParticipant: (task, agentId) =>
        Effect.gen(function* () {
          yield* requireActive(task)
          yield* requireRegistered(agentId)
          if (task.active_participants.includes(agentId)) return task
          const updated: TaskRow = {
            ...task,
            active_participants: [...task.active_participants, agentId],
            participant_history: task.participant_history.includes(agentId)
              ? task.participant_history
              : [...task.participant_history, agentId],
            updated_at: yield* Clock.currentTimeMillis
          }
          yield* repo.putTask(updated)
          return updated
        }),
      complete: (task) =>
        Effect.gen(function* () {
          yield* requireActive(task)
          const holds = yield* ledger.activeHoldsOfTask(task.task_id)
          if (holds.length > 0) {
            return yield* new StateConflictError({
              message: `task ${task.task_id} still has active holds (${holds.map((h) => h.hold_id).join(", ")}); settle, refund or cancel first`
            })
          }
          const { now } = yield* closeOpenWork(task)
          const updated: TaskRow = { ...task, status: "completed", updated_at: now }
          yield* repo.putTask(updated)
          return updated
        }),
      cancel: (task) =>
        Effect.gen(function* () {
          yield* requireActive(task)
          const { cancelled, refunded, now } = yield* closeOpenWork(task)
          for (const hold of yield* ledger.activeHoldsOfTask(task.task_id)) {
            yield* settlement.refund(hold)
            refunded.push(hold.hold_id)
          }
          const updated: TaskRow = { ...task, status: "cancelled", updated_at: now }
          yield* repo.putTask(updated)
          return {
            task: taskToWire(updated),
            cancelled_assignments: cancelled,
            refunded_holds: refunded.sort((a, b) => Number(a.slice(5)) - Number(b.slice(5)))
          }
        }),
      createSession: (task) =>
        Effect.gen(function* () {
          yield* requireActive(task)
          const now = yield* Clock.currentTimeMillis
          const session: SessionRow = {
            session_id: yield* repo.nextSessionId,
            task_id: task.task_id,
            status: "running",
            created_at: now,
            updated_at: now
          }
          yield* repo.putSession(session)
          return session
        }),
      publishedSession: (caller, sessionId) =>
        Effect.gen(function* () {
          const session = yield* load(repo.getSession, "session", sessionId)
          const task = yield* repo.getTask(session.task_id)
          if (Option.isNone(task)) return yield* notFound("session", sessionId)
          if (task.value.publisher !== caller) {
            if (task.value.participant_history.includes(caller)) {
              return yield* new PermissionDeniedError({
                message: `only the publisher may close ${sessionId}`
              })
            }
            return yield* notFound("session", sessionId)
          }
          return session
        }),
      closeSession: (session) =>
        Effect.gen(function* () {
          if (session.status === "closed") return session
          const updated: SessionRow = {
            ...session,
            status: "closed",
            updated_at: yield* Clock.currentTimeMillis
          }
          yield* repo.putSession(updated)
          return updated
        }),
      createAssignment: (task, request) =>
        Effect.gen(function* () {
          const session = yield* repo.getSession(request.session_id)
          if (Option.isNone(session) || session.value.task_id !== task.task_id) {
            return yield* new InputInvalidError({
              message: `session ${request.session_id} is not a session of ${task.task_id}`
            })
          }
          const target = request.target_assignment_id ?? null
          if (request.kind === "review" && target === null) {
            return yield* new InputInvalidError({ message: "a review assignment needs target_assignment_id" })
          }
          if (request.kind === "execute" && target !== null) {
            return yield* new InputInvalidError({
              message: "target_assignment_id is only for review assignments"
            })
          }
          if (target !== null) {
            const t = yield* repo.getAssignment(target)
            if (Option.isNone(t) || t.value.task_id !== task.task_id || t.value.kind !== "execute") {
              return yield* new InputInvalidError({
                message: `target ${target} is not an execute assignment of ${task.task_id}`
              })
            }
          }
          yield* requireRegistered(request.agent_id)
          yield* requireActive(task)
          if (session.value.status !== "running") {
            return yield* new StateConflictError({ message: `session ${request.session_id} is closed` })
          }
          const now = yield* Clock.currentTimeMillis
          const row: AssignmentRow = {
            assignment_id: yield* repo.nextAssignmentId,
            task_id: task.task_id,
            session_id: request.session_id,
            agent_id: request.agent_id,
            kind: request.kind,
            target_assignment_id: target,
            deadline_at: request.deadline_secs === undefined ? null : now + request.deadline_secs * 1000,
            status: "assigned",
            created_at: now,
            updated_at: now
          }
          yield* repo.putAssignment(row)
          return row
        }),
      assignmentForPublisher: (caller, id) =>
        Effect.gen(function* () {
          const a = yield* visibleAssignment(caller, id)
          const task = yield* load(repo.getTask, "task", a.task_id)
          if (task.publisher !== caller) {
            return yield* new PermissionDeniedError({
              message: `only the publisher of ${a.task_id} may do this`
            })
          }
          return a
        }),
      assignmentForAssignee: (caller, id) =>
        Effect.gen(function* () {
          const a = yield* visibleAssignment(caller, id)
          if (a.agent_id !== caller) {
            return yield* new PermissionDeniedError({ message: `only the assignee of ${id} may do this` })
          }
          return a
        }),
      cancelAssignment: (a) =>
        a.status === "assigned"
          ? Effect.map(finalize(a, "cancelled"), change)
          : Effect.fail(statusConflict(a, "cancel", "assigned")),
      declineAssignment: (a) =>
        a.status === "assigned"
          ? Effect.map(finalize(a, "cancelled"), change)
          : Effect.fail(statusConflict(a, "decline", "assigned")),
      outputReady: (a) =>
        Effect.gen(function* () {
          if (a.kind !== "execute") {
            return yield* new StateConflictError({
              message: `${a.assignment_id} is a review assignment; reviewers submit a verdict instead`
            })
          }
          if (a.status !== "assigned") return yield* statusConflict(a, "mark output ready", "assigned")
          const updated: AssignmentRow = {
            ...a,
            status: "output_ready",
            updated_at: yield* Clock.currentTimeMillis
          }
          yield* repo.putAssignment(updated)
          return updated
        }),
      reject: (a) =>
        Effect.gen(function* () {
          if (a.kind !== "execute" || a.status !== "output_ready") {
            return yield* statusConflict(a, "reject", "output_ready")
          }
          const sessions = yield* reviews.byTarget(a.assignment_id)
          const latest = sessions[sessions.length - 1]
          const complete =
            latest !== undefined && latest.verdicts.length === latest.review_assignment_ids.length
          if (!complete || latest.verdicts.every((v) => v.verdict.kind === "passed")) {
            return yield* new StateConflictError({
              message: `cannot reject ${a.assignment_id}: its latest review session must be complete with at least one verdict that is not passed`
            })
          }
          return change(yield* finalize(a, "rejected"))
        }),
      releaseAgent: (agentId) =>
        Effect.gen(function* () {
          const now = yield* Clock.currentTimeMillis
          const cancelled: Array<AssignmentId> = []
          let after = Option.none<AssignmentId>()
          for (;;) {
            const page = yield* repo.assignmentsOfAgent(agentId, Option.some("assigned"), {
              after,
              limit: 500
            })
            for (const a of page) {
              const current = yield* repo.getAssignment(a.assignment_id)
              if (Option.isNone(current) || current.value.status !== "assigned") continue
              yield* finalize(current.value, "cancelled")
              cancelled.push(a.assignment_id)
            }
            if (page.length < 500) break
            after = Option.some(page[page.length - 1]!.assignment_id)
          }
          for (const task of yield* repo.activeTasksWithParticipant(agentId)) {
            yield* repo.putTask({
              ...task,
              active_participants: task.active_participants.filter((p) => p !== agentId),
              updated_at: now
            })
          }
          return { cancelled }
        })
    }
  })
)
