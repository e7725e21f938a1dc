import { HttpApiEndpoint, HttpApiGroup } from "@effect/platform"
import { Schema } from "effect"
import { Authentication } from "../identity/Authentication"
import { IdempotencyHeaders } from "../shared/Headers"
import { AssignmentId, Items, Limit, Page, SessionId, strict, TaskId } from "../shared/Ids"
import { AssignmentChange } from "./AssignmentChange"
import {
  AddParticipantRequest,
  Assignment,
  CancelTaskResponse,
  CreateAssignmentRequest,
  CreateSessionRequest,
  Session,
  Task,
  TaskRole
} from "./Task"

const TaskPath = Schema.Struct({ task_id: TaskId })
const SessionPath = Schema.Struct({ session_id: SessionId })
const AssignmentPath = Schema.Struct({ assignment_id: AssignmentId })

export const ListTasksQuery = Schema.Struct({
  role: Schema.optional(TaskRole),
  limit: Schema.optional(Limit),
  after: Schema.optional(TaskId)
}).annotations(strict)

export class TasksApi extends HttpApiGroup.make("tasks")
  .add(
    HttpApiEndpoint.post("create", "/tasks").setHeaders(IdempotencyHeaders).addSuccess(Task, { status: 201 })
  )
  .add(HttpApiEndpoint.get("list", "/tasks").setUrlParams(ListTasksQuery).addSuccess(Page(Task)))
  .add(HttpApiEndpoint.get("get", "/tasks/:task_id").setPath(TaskPath).addSuccess(Task))
  .add(
    HttpApiEndpoint.post("addParticipant", "/tasks/:task_id/participants")
      .setPath(TaskPath)
      .setHeaders(IdempotencyHeaders)
      .setPayload(AddParticipantRequest)
      .addSuccess(Task)
  )
  .add(
    HttpApiEndpoint.post("complete", "/tasks/:task_id/complete")
      .setPath(TaskPath)
      .setHeaders(IdempotencyHeaders)
      .addSuccess(Task)
  )
  .add(
    HttpApiEndpoint.post("cancel", "/tasks/:task_id/cancel")
      .setPath(TaskPath)
      .setHeaders(IdempotencyHeaders)
      .addSuccess(CancelTaskResponse)
  )
  .middleware(Authentication) {}

export class SessionsApi extends HttpApiGroup.make("sessions")
  .add(
    HttpApiEndpoint.post("create", "/sessions")
      .setHeaders(IdempotencyHeaders)
      .setPayload(CreateSessionRequest)
      .addSuccess(Session, { status: 201 })
  )
  .add(
    HttpApiEndpoint.post("close", "/sessions/:session_id/close")
      .setPath(SessionPath)
      .setHeaders(IdempotencyHeaders)
      .addSuccess(Session)
  )
  .middleware(Authentication) {}

export class AssignmentsApi extends HttpApiGroup.make("assignments")
  .add(
    HttpApiEndpoint.post("create", "/assignments")
      .setHeaders(IdempotencyHeaders)
      .setPayload(CreateAssignmentRequest)
      .addSuccess(Assignment, { status: 201 })
  )
  .add(
    HttpApiEndpoint.get("get", "/assignments/:assignment_id").setPath(AssignmentPath).addSuccess(Assignment)
  )
  .add(
    HttpApiEndpoint.get("reviewAssignments", "/assignments/:assignment_id/review-assignments")
      .setPath(AssignmentPath)
      .addSuccess(Items(Assignment))
  )
  .add(
    HttpApiEndpoint.post("cancel", "/assignments/:assignment_id/cancel")
      .setPath(AssignmentPath)
      .setHeaders(IdempotencyHeaders)
      .addSuccess(AssignmentChange)
  )
  .add(
    HttpApiEndpoint.post("decline", "/assignments/:assignment_id/decline")
      .setPath(AssignmentPath)
      .setHeaders(IdempotencyHeaders)
      .addSuccess(AssignmentChange)
  )
  .add(
    HttpApiEndpoint.post("outputReady", "/assignments/:assignment_id/output-ready")
      .setPath(AssignmentPath)
      .setHeaders(IdempotencyHeaders)
      .addSuccess(Assignment)
  )
  .add(
    HttpApiEndpoint.post("reject", "/assignments/:assignment_id/reject")
      .setPath(AssignmentPath)
      .setHeaders(IdempotencyHeaders)
      .addSuccess(AssignmentChange)
  )
  .middleware(Authentication) {}
