import { Schema } from "effect"
import { Hold } from "../settlement/Settlement"
import { AgentId, AssignmentId, ReviewId, strict, TaskId, Timestamp } from "../shared/Ids"

export const CriteriaFormat = Schema.Literal("plain_text", "json")

export const Criteria = Schema.Struct({
  format: CriteriaFormat,
  body: Schema.String.pipe(
    Schema.filter((s) => s.trim().length > 0 || "criteria body must not be blank"),
    Schema.filter(
      (s) => new TextEncoder().encode(s).length <= 16 * 1024 || "criteria body is larger than 16 KiB"
    )
  )
}).annotations({ ...strict, identifier: "Criteria" })

export const VerdictKind = Schema.Literal(
  "passed",
  "failed",
  "artifact_unavailable",
  "hash_mismatch",
  "invalid_format"
)
export type VerdictKind = typeof VerdictKind.Type

export const Verdict = Schema.Struct({
  kind: VerdictKind,
  score_bps: Schema.Int.pipe(Schema.between(0, 10_000)),
  feedback: Schema.String.pipe(
    Schema.filter((s) => new TextEncoder().encode(s).length <= 32 * 1024 || "feedback is larger than 32 KiB")
  )
}).annotations({ ...strict, identifier: "Verdict" })
export type Verdict = typeof Verdict.Type

export const SubmittedVerdict = Schema.Struct({
  review_assignment_id: AssignmentId,
  reviewer: AgentId,
  verdict: Verdict,
  submitted_at: Timestamp
}).annotations({ identifier: "SubmittedVerdict" })
export type SubmittedVerdict = typeof SubmittedVerdict.Type

export const ReviewSession = Schema.Struct({
  review_id: ReviewId,
  task_id: TaskId,
  target_assignment_id: AssignmentId,
  review_assignment_ids: Schema.Array(AssignmentId),
  criteria: Criteria,
  verdicts: Schema.Array(SubmittedVerdict),
  created_at: Timestamp
}).annotations({ identifier: "ReviewSession" })
export type ReviewSession = typeof ReviewSession.Type

export const RequestReviewRequest = Schema.Struct({
  task_id: TaskId,
  target_assignment_id: AssignmentId,
  review_assignment_ids: Schema.NonEmptyArray(AssignmentId),
  criteria: Criteria
}).annotations({ ...strict, identifier: "RequestReviewRequest" })
export type RequestReviewRequest = typeof RequestReviewRequest.Type

export const SubmitVerdictRequest = Schema.Struct({
  review_assignment_id: AssignmentId,
  verdict: Verdict
}).annotations({ ...strict, identifier: "SubmitVerdictRequest" })

export const VerdictResponse = Schema.Struct({
  review: ReviewSession,
  settlement: Schema.Struct({ released_holds: Schema.Array(Hold) })
}).annotations({ identifier: "VerdictResponse" })
export type VerdictResponse = typeof VerdictResponse.Type
