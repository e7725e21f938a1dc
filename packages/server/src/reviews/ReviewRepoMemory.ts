import type { ReviewId } from "@agent-marketplace/domain/shared/Ids"
import { Effect, Layer, Option } from "effect"
import { MemoryDb, nextSequence, pushUndoable } from "../platform/MemoryDb"
import { setUndoable } from "../platform/Store"
import { ReviewRepo } from "./ReviewRepo"

export const ReviewRepoMemory = Layer.effect(
  ReviewRepo,
  Effect.gen(function* () {
    const tables = yield* MemoryDb
    const get = (id: ReviewId) => Effect.sync(() => Option.fromNullable(tables.reviews.get(id)))
    return {
      nextReviewId: Effect.map(nextSequence(tables, "review"), (n) => `review-${n}` as ReviewId),
      get,
      lock: get,
      insert: (row) =>
        Effect.zipRight(
          setUndoable(tables.reviews, row.review_id, row),
          pushUndoable(tables.reviewSessionsByTarget, row.target_assignment_id, row.review_id)
        ),
      addVerdict: (reviewId, verdict) =>
        Effect.suspend(() => {
          const row = tables.reviews.get(reviewId)!
          return setUndoable(tables.reviews, reviewId, { ...row, verdicts: [...row.verdicts, verdict] })
        }),
      byTarget: (targetId) =>
        Effect.sync(() =>
          (tables.reviewSessionsByTarget.get(targetId) ?? []).map((id) => tables.reviews.get(id)!)
        ),
      byReviewAssignment: (reviewAssignmentId) =>
        Effect.sync(() => {
          const assignment = tables.assignments.get(reviewAssignmentId)
          if (assignment?.target_assignment_id == null) return Option.none()
          for (const id of tables.reviewSessionsByTarget.get(assignment.target_assignment_id) ?? []) {
            const review = tables.reviews.get(id)!
            if (review.review_assignment_ids.includes(reviewAssignmentId)) return Option.some(review)
          }
          return Option.none()
        })
    }
  })
)
