import type { Verdict } from "@agent-marketplace/domain/reviews/Review"
import type { AgentId, AssignmentId, ReviewId, TaskId } from "@agent-marketplace/domain/shared/Ids"
import { Context, type Effect, type Option } from "effect"

export interface VerdictRow {
  readonly review_assignment_id: AssignmentId
  readonly reviewer: AgentId
  readonly verdict: Verdict
  readonly submitted_at: number
}

export interface ReviewRow {
  readonly review_id: ReviewId
  readonly task_id: TaskId
  readonly target_assignment_id: AssignmentId
  readonly review_assignment_ids: ReadonlyArray<AssignmentId>
  readonly criteria: { readonly format: "plain_text" | "json"; readonly body: string }
  readonly verdicts: ReadonlyArray<VerdictRow>
  readonly created_at: number
}

export interface ReviewRepoShape {
  readonly nextReviewId: Effect.Effect<ReviewId>
  readonly get: (id: ReviewId) => Effect.Effect<Option.Option<ReviewRow>>
  readonly lock: (id: ReviewId) => Effect.Effect<Option.Option<ReviewRow>>
  readonly insert: (row: ReviewRow) => Effect.Effect<void>
  /** Appends a verdict (append-only). */
  readonly addVerdict: (reviewId: ReviewId, verdict: VerdictRow) => Effect.Effect<void>
  /** Sessions for a target, oldest first. */
  readonly byTarget: (targetId: AssignmentId) => Effect.Effect<ReadonlyArray<ReviewRow>>
  /** The session that lists this review assignment, if any (a review assignment is in at most one). */
  readonly byReviewAssignment: (reviewAssignmentId: AssignmentId) => Effect.Effect<Option.Option<ReviewRow>>
}

export class ReviewRepo extends Context.Tag("ReviewRepo")<ReviewRepo, ReviewRepoShape>() {}
