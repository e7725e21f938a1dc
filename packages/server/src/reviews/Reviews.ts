import type { RequestReviewRequest, Verdict, VerdictResponse } from "@agent-marketplace/domain/reviews/Review"
import {
  InputInvalidError,
  notFound,
  PermissionDeniedError,
  StateConflictError
} from "@agent-marketplace/domain/shared/Errors"
import type { AgentId, AssignmentId, ReviewId } from "@agent-marketplace/domain/shared/Ids"
import { Clock, Context, Effect, Layer, Option } from "effect"
import { holdToWire, reviewToWire } from "../platform/Wire"
import { LedgerRepo } from "../settlement/LedgerRepo"
import { Settlement } from "../settlement/Settlement"
import { TaskRepo, type TaskRow } from "../tasks/TaskRepo"
import { Tasks } from "../tasks/Tasks"
import { ReviewRepo, type ReviewRow } from "./ReviewRepo"

type NotFound = ReturnType<typeof notFound>

/** Review sessions, verdicts, and automatic settlement in the same atomic step as a verdict. */
export class Reviews extends Context.Tag("Reviews")<
  Reviews,
  {
    readonly request: (
      task: TaskRow,
      request: RequestReviewRequest
    ) => Effect.Effect<ReviewRow, InputInvalidError | StateConflictError>
    /** Visible to the publisher, the target's assignee and the session's reviewers. */
    readonly visible: (caller: AgentId, reviewId: ReviewId) => Effect.Effect<ReviewRow, NotFound>
    readonly byTarget: (
      caller: AgentId,
      targetId: AssignmentId
    ) => Effect.Effect<ReadonlyArray<ReviewRow>, NotFound>
    /** The authorization step of a verdict: the caller must be the assignee of the listed review assignment. */
    readonly authorizeVerdict: (
      caller: AgentId,
      reviewId: ReviewId,
      reviewAssignmentId: AssignmentId
    ) => Effect.Effect<ReviewRow, NotFound | PermissionDeniedError>
    readonly submitVerdict: (
      caller: AgentId,
      review: ReviewRow,
      reviewAssignmentId: AssignmentId,
      verdict: Verdict
    ) => Effect.Effect<VerdictResponse, StateConflictError>
  }
>() {}

export const ReviewsLive = Layer.effect(
  Reviews,
  Effect.gen(function* () {
    const repo = yield* ReviewRepo
    const taskRepo = yield* TaskRepo
    const tasks = yield* Tasks
    const ledger = yield* LedgerRepo
    const settlement = yield* Settlement

    const visible = (caller: AgentId, reviewId: ReviewId) =>
      Effect.gen(function* () {
        const review = yield* repo.get(reviewId)
        if (Option.isNone(review)) return yield* notFound("review", reviewId)
        const task = yield* taskRepo.getTask(review.value.task_id)
        if (Option.isSome(task) && task.value.publisher === caller) return review.value
        const involved = [review.value.target_assignment_id, ...review.value.review_assignment_ids]
        for (const id of involved) {
          const a = yield* taskRepo.getAssignment(id)
          if (Option.isSome(a) && a.value.agent_id === caller) return review.value
        }
        return yield* notFound("review", reviewId)
      })

    return {
      visible,
      byTarget: (caller, targetId) =>
        Effect.flatMap(tasks.visibleAssignment(caller, targetId), () => repo.byTarget(targetId)),
      request: (task, request) =>
        Effect.gen(function* () {
          const target = yield* taskRepo.getAssignment(request.target_assignment_id)
          if (
            Option.isNone(target) ||
            target.value.task_id !== task.task_id ||
            target.value.kind !== "execute"
          ) {
            return yield* new InputInvalidError({
              message: `target ${request.target_assignment_id} is not an execute assignment of ${task.task_id}`
            })
          }
          const ids = request.review_assignment_ids
          if (new Set(ids).size !== ids.length) {
            return yield* new InputInvalidError({ message: "review_assignment_ids must be distinct" })
          }
          const reviewers = []
          for (const id of ids) {
            const a = yield* taskRepo.getAssignment(id)
            if (
              Option.isNone(a) ||
              a.value.task_id !== task.task_id ||
              a.value.kind !== "review" ||
              a.value.target_assignment_id !== request.target_assignment_id
            ) {
              return yield* new InputInvalidError({
                message: `${id} is not a review assignment of ${task.task_id} targeting ${request.target_assignment_id}`
              })
            }
            reviewers.push(a.value)
          }
          if (task.status !== "active") {
            return yield* new StateConflictError({
              message: `task ${task.task_id} is ${task.status}, not active`
            })
          }
          if (target.value.status !== "assigned" && target.value.status !== "output_ready") {
            return yield* new StateConflictError({
              message: `target ${target.value.assignment_id} is ${target.value.status}; it can no longer be reviewed`
            })
          }
          for (const a of reviewers) {
            if (a.status !== "assigned") {
              return yield* new StateConflictError({
                message: `review assignment ${a.assignment_id} is ${a.status}`
              })
            }
            if (Option.isSome(yield* repo.byReviewAssignment(a.assignment_id))) {
              return yield* new StateConflictError({
                message: `review assignment ${a.assignment_id} is already listed in a review session; a new session needs new review assignments`
              })
            }
          }
          const row: ReviewRow = {
            review_id: yield* repo.nextReviewId,
            task_id: task.task_id,
            target_assignment_id: request.target_assignment_id,
            review_assignment_ids: ids,
            criteria: request.criteria,
            verdicts: [],
            created_at: yield* Clock.currentTimeMillis
          }
          yield* repo.insert(row)
          return row
        }),
      authorizeVerdict: (caller, reviewId, reviewAssignmentId) =>
        Effect.gen(function* () {
          const review = yield* visible(caller, reviewId)
          if (!review.review_assignment_ids.includes(reviewAssignmentId)) {
            return yield* notFound("review assignment", `${reviewAssignmentId} in ${reviewId}`)
          }
          const a = yield* taskRepo.getAssignment(reviewAssignmentId)
          if (Option.isNone(a) || a.value.agent_id !== caller) {
            return yield* new PermissionDeniedError({
              message: `only the assignee of ${reviewAssignmentId} may submit its verdict`
            })
          }
          return review
        }),
      submitVerdict: (caller, review0, reviewAssignmentId, verdict) =>
        Effect.gen(function* () {
          const review = Option.getOrElse(yield* repo.lock(review0.review_id), () => review0)
          const reviewAssignment = Option.getOrThrow(yield* taskRepo.lockAssignment(reviewAssignmentId))
          const target = Option.getOrThrow(yield* taskRepo.lockAssignment(review.target_assignment_id))
          if (review.verdicts.some((v) => v.review_assignment_id === reviewAssignmentId)) {
            return yield* new StateConflictError({
              message: `${reviewAssignmentId} already submitted its verdict in ${review.review_id}`
            })
          }
          if (reviewAssignment.status !== "assigned") {
            return yield* new StateConflictError({
              message: `review assignment ${reviewAssignmentId} is ${reviewAssignment.status}, not assigned`
            })
          }
          if (target.status !== "output_ready") {
            return yield* new StateConflictError({
              message: `target ${target.assignment_id} is ${target.status}; verdicts are accepted once it is output_ready`
            })
          }
          const now = yield* Clock.currentTimeMillis
          yield* repo.addVerdict(review.review_id, {
            review_assignment_id: reviewAssignmentId,
            reviewer: caller,
            verdict,
            submitted_at: now
          })
          yield* taskRepo.putAssignment({ ...reviewAssignment, status: "approved", updated_at: now })
          const released = []
          const reviewHold = yield* ledger.activeHoldOf(reviewAssignmentId)
          if (Option.isSome(reviewHold)) released.push(yield* settlement.release(reviewHold.value))
          const updated = Option.getOrThrow(yield* repo.get(review.review_id))
          const sessions = yield* repo.byTarget(review.target_assignment_id)
          const latest = sessions[sessions.length - 1]!
          const allPassed =
            latest.review_id === updated.review_id &&
            updated.verdicts.length === updated.review_assignment_ids.length &&
            updated.verdicts.every((v) => v.verdict.kind === "passed")
          if (allPassed) {
            const executeHold = yield* ledger.activeHoldOf(target.assignment_id)
            if (Option.isSome(executeHold)) released.push(yield* settlement.release(executeHold.value))
            yield* tasks.finalize(target, "approved")
          }
          return { review: reviewToWire(updated), settlement: { released_holds: released.map(holdToWire) } }
        })
    }
  })
)
