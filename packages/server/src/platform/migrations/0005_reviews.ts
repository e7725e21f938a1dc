import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

/**
 * Review sessions (the reviewer list and criteria as JSON text), a membership index for
 * `byReviewAssignment`, and the append-only verdicts (`ordinal` = submission order within a session).
 */
export default Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`CREATE TABLE reviews (
    review_id TEXT PRIMARY KEY,
    seq BIGINT NOT NULL,
    task_id TEXT NOT NULL,
    target_assignment_id TEXT NOT NULL,
    review_assignment_ids TEXT NOT NULL,
    criteria TEXT NOT NULL,
    created_at BIGINT NOT NULL
  )`
  yield* sql`CREATE INDEX reviews_target ON reviews (target_assignment_id, seq)`
  yield* sql`CREATE TABLE review_members (
    review_assignment_id TEXT NOT NULL,
    review_id TEXT NOT NULL,
    PRIMARY KEY (review_assignment_id, review_id)
  )`
  yield* sql`CREATE TABLE review_verdicts (
    review_id TEXT NOT NULL,
    ordinal BIGINT NOT NULL,
    review_assignment_id TEXT NOT NULL,
    reviewer TEXT NOT NULL,
    kind TEXT NOT NULL,
    score_bps BIGINT NOT NULL,
    feedback TEXT NOT NULL,
    submitted_at BIGINT NOT NULL,
    PRIMARY KEY (review_id, ordinal)
  )`
})
