import { MarketplaceApi } from "@agent-marketplace/domain/Api"
import { CurrentAgent } from "@agent-marketplace/domain/identity/Authentication"
import type { AgentId, AssignmentId } from "@agent-marketplace/domain/shared/Ids"
import { AssignmentChange } from "@agent-marketplace/domain/tasks/AssignmentChange"
import { Assignment, CancelTaskResponse, Session, Task } from "@agent-marketplace/domain/tasks/Task"
import { HttpApiBuilder } from "@effect/platform"
import { Effect, Option } from "effect"
import { onLane } from "../http/FastLane"
import { mutation } from "../http/Mutation"
import { assignmentToWire, nextCursor, sessionToWire, taskToWire } from "../platform/Wire"
import { type AssignmentRow, TaskRepo } from "./TaskRepo"
import { Tasks } from "./Tasks"

const DEFAULT_LIMIT = 100

export const TasksHttp = HttpApiBuilder.group(MarketplaceApi, "tasks", (handlers) =>
  onLane(
    Effect.gen(function* () {
      const tasks = yield* Tasks
      const repo = yield* TaskRepo
      return handlers
        .handle("create", ({ headers }) =>
          mutation(
            {
              key: headers["idempotency-key"],
              method: "POST",
              path: "/tasks",
              body: {},
              success: Task,
              status: 201
            },
            () => Effect.void,
            (_, caller) => Effect.map(tasks.create(caller), taskToWire)
          )
        )
        .handle("list", ({ urlParams }) =>
          Effect.gen(function* () {
            const me = yield* CurrentAgent
            const limit = urlParams.limit ?? DEFAULT_LIMIT
            const rows = yield* repo.listTasks(me.agent_id, urlParams.role ?? "any", {
              after: Option.fromNullable(urlParams.after),
              limit
            })
            return { items: rows.map(taskToWire), next: nextCursor(rows, limit, (t) => t.task_id) }
          })
        )
        .handle("get", ({ path }) =>
          Effect.flatMap(CurrentAgent, (me) =>
            Effect.map(tasks.visibleTask(me.agent_id, path.task_id), taskToWire)
          )
        )
        .handle("addParticipant", ({ path, payload, headers }) =>
          mutation(
            {
              key: headers["idempotency-key"],
              method: "POST",
              path: `/tasks/${path.task_id}/participants`,
              body: payload,
              success: Task,
              status: 200
            },
            (caller) => tasks.publishedTask(caller, path.task_id),
            (task) => Effect.map(tasks.addParticipant(task, payload.agent_id), taskToWire)
          )
        )
        .handle("complete", ({ path, headers }) =>
          mutation(
            {
              key: headers["idempotency-key"],
              method: "POST",
              path: `/tasks/${path.task_id}/complete`,
              body: {},
              success: Task,
              status: 200
            },
            (caller) => tasks.publishedTask(caller, path.task_id),
            (task) => Effect.map(tasks.complete(task), taskToWire)
          )
        )
        .handle("cancel", ({ path, headers }) =>
          mutation(
            {
              key: headers["idempotency-key"],
              method: "POST",
              path: `/tasks/${path.task_id}/cancel`,
              body: {},
              success: CancelTaskResponse,
              status: 200
            },
            (caller) => tasks.publishedTask(caller, path.task_id),
            (task) => tasks.cancel(task)
          )
        )
    })
  )
)

export const SessionsHttp = HttpApiBuilder.group(MarketplaceApi, "sessions", (handlers) =>
  onLane(
    Effect.gen(function* () {
      const tasks = yield* Tasks
      return handlers
        .handle("create", ({ payload, headers }) =>
          mutation(
            {
              key: headers["idempotency-key"],
              method: "POST",
              path: "/sessions",
              body: payload,
              success: Session,
              status: 201
            },
            (caller) => tasks.publishedTask(caller, payload.task_id),
            (task) => Effect.map(tasks.createSession(task), sessionToWire)
          )
        )
        .handle("close", ({ path, headers }) =>
          mutation(
            {
              key: headers["idempotency-key"],
              method: "POST",
              path: `/sessions/${path.session_id}/close`,
              body: {},
              success: Session,
              status: 200
            },
            (caller) => tasks.publishedSession(caller, path.session_id),
            (session) => Effect.map(tasks.closeSession(session), sessionToWire)
          )
        )
    })
  )
)

export const AssignmentsHttp = HttpApiBuilder.group(MarketplaceApi, "assignments", (handlers) =>
  onLane(
    Effect.gen(function* () {
      const tasks = yield* Tasks
      const repo = yield* TaskRepo
      /** cancel / decline / reject: an assignment leaves `assigned` or `output_ready`, refunding its hold. */
      const change = <E1, E2>(
        name: "cancel" | "decline" | "reject",
        id: AssignmentId,
        key: string,
        authorize: (caller: AgentId) => Effect.Effect<AssignmentRow, E1>,
        apply: (a: AssignmentRow) => Effect.Effect<AssignmentChange, E2>
      ) =>
        mutation(
          {
            key,
            method: "POST",
            path: `/assignments/${id}/${name}`,
            body: {},
            success: AssignmentChange,
            status: 200
          },
          authorize,
          apply
        )
      return handlers
        .handle("create", ({ payload, headers }) =>
          mutation(
            {
              key: headers["idempotency-key"],
              method: "POST",
              path: "/assignments",
              body: payload,
              success: Assignment,
              status: 201
            },
            (caller) => tasks.publishedTask(caller, payload.task_id),
            (task) => Effect.map(tasks.createAssignment(task, payload), assignmentToWire)
          )
        )
        .handle("get", ({ path }) =>
          Effect.flatMap(CurrentAgent, (me) =>
            Effect.map(tasks.visibleAssignment(me.agent_id, path.assignment_id), assignmentToWire)
          )
        )
        .handle("reviewAssignments", ({ path }) =>
          Effect.gen(function* () {
            const me = yield* CurrentAgent
            yield* tasks.visibleAssignment(me.agent_id, path.assignment_id)
            const rows = yield* repo.reviewsTargeting(path.assignment_id)
            return { items: rows.map(assignmentToWire) }
          })
        )
        .handle("cancel", ({ path, headers }) =>
          change(
            "cancel",
            path.assignment_id,
            headers["idempotency-key"],
            (caller) => tasks.assignmentForPublisher(caller, path.assignment_id),
            tasks.cancelAssignment
          )
        )
        .handle("decline", ({ path, headers }) =>
          change(
            "decline",
            path.assignment_id,
            headers["idempotency-key"],
            (caller) => tasks.assignmentForAssignee(caller, path.assignment_id),
            tasks.declineAssignment
          )
        )
        .handle("reject", ({ path, headers }) =>
          change(
            "reject",
            path.assignment_id,
            headers["idempotency-key"],
            (caller) => tasks.assignmentForPublisher(caller, path.assignment_id),
            tasks.reject
          )
        )
        .handle("outputReady", ({ path, headers }) =>
          mutation(
            {
              key: headers["idempotency-key"],
              method: "POST",
              path: `/assignments/${path.assignment_id}/output-ready`,
              body: {},
              success: Assignment,
              status: 200
            },
            (caller) => tasks.assignmentForAssignee(caller, path.assignment_id),
            (a) => Effect.map(tasks.outputReady(a), assignmentToWire)
          )
        )
    })
  )
)
