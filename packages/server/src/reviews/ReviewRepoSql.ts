import { CriteriaFormat, VerdictKind } from "@agent-marketplace/domain/reviews/Review"
import { AgentId, AssignmentId, idNumber, ReviewId, TaskId } from "@agent-marketplace/domain/shared/Ids"
import { SqlClient } from "@effect/sql"
import type { Fragment } from "@effect/sql/Statement"
import { Effect, Layer, Option, Schema } from "effect"
import { decodeRows, forUpdate, nextSequence, SqlInt, SqlJson } from "../platform/Sql"
import { ReviewRepo, type ReviewRow, type VerdictRow } from "./ReviewRepo"

const LastOrdinalRow = Schema.Struct({ last: SqlInt })

const ReviewRecord = Schema.Struct({
  review_id: ReviewId,
  task_id: TaskId,
  target_assignment_id: AssignmentId,
  review_assignment_ids: SqlJson(Schema.Array(AssignmentId)),
  criteria: SqlJson(Schema.Struct({ format: CriteriaFormat, body: Schema.String })),
  created_at: SqlInt
})

const VerdictRecord = Schema.Struct({
  review_id: ReviewId,
  review_assignment_id: AssignmentId,
  reviewer: AgentId,
  kind: VerdictKind,
  score_bps: SqlInt,
  feedback: Schema.String,
  submitted_at: SqlInt
})

const verdictRow = (v: typeof VerdictRecord.Type): VerdictRow => ({
  review_assignment_id: v.review_assignment_id,
  reviewer: v.reviewer,
  verdict: { kind: v.kind, score_bps: v.score_bps, feedback: v.feedback },
  submitted_at: v.submitted_at
})

/**
 * Review sessions over `SqlClient`. The session row keeps its reviewer list and criteria as JSON
 * text; `review_members` indexes the reviewer list; verdicts live in their own append-only table,
 * ordered by `ordinal` (submission order). Sessions are ordered by `seq` (the id's number), like the
 * memory layer's insertion order. SQL failures are defects.
 */
export const ReviewRepoSql: Layer.Layer<ReviewRepo, never, SqlClient.SqlClient> = Layer.effect(
  ReviewRepo,
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const reviewColumns = sql.literal(
      "r.review_id, r.task_id, r.target_assignment_id, r.review_assignment_ids, r.criteria, r.created_at"
    )
    const verdictColumns = sql.literal(
      "v.review_id, v.review_assignment_id, v.reviewer, v.kind, v.score_bps, v.feedback, v.submitted_at"
    )

    /** Session rows (already ordered) with their verdicts, selected by `verdictFilter` over `v` / `r`. */
    const withVerdicts = (
      rows: ReadonlyArray<typeof ReviewRecord.Type>,
      verdictFilter: Fragment
    ): Effect.Effect<ReadonlyArray<ReviewRow>, unknown> =>
      rows.length === 0
        ? Effect.succeed([])
        : sql`SELECT ${verdictColumns} FROM review_verdicts v JOIN reviews r ON r.review_id = v.review_id
            WHERE ${verdictFilter} ORDER BY v.review_id, v.ordinal`.pipe(
            decodeRows(VerdictRecord),
            Effect.map((verdicts) => {
              const byReview = new Map<string, Array<VerdictRow>>()
              for (const v of verdicts) {
                const list = byReview.get(v.review_id) ?? []
                list.push(verdictRow(v))
                byReview.set(v.review_id, list)
              }
              return rows.map((r): ReviewRow => ({ ...r, verdicts: byReview.get(r.review_id) ?? [] }))
            })
          )

    const one = (id: ReviewId, lock: boolean) =>
      sql`SELECT ${reviewColumns} FROM reviews r WHERE r.review_id = ${id}${lock ? forUpdate(sql) : sql.literal("")}`.pipe(
        decodeRows(ReviewRecord),
        Effect.flatMap((rows) => withVerdicts(rows, sql`v.review_id = ${id}`)),
        Effect.map((rows) => Option.fromNullable(rows[0])),
        Effect.orDie
      )

    const insertVerdict = (reviewId: ReviewId, ordinal: number, v: VerdictRow) =>
      sql`INSERT INTO review_verdicts ${sql.insert({
        review_id: reviewId,
        ordinal,
        review_assignment_id: v.review_assignment_id,
        reviewer: v.reviewer,
        kind: v.verdict.kind,
        score_bps: v.verdict.score_bps,
        feedback: v.verdict.feedback,
        submitted_at: v.submitted_at
      })}`

    return {
      nextReviewId: Effect.map(
        Effect.provideService(nextSequence("review"), SqlClient.SqlClient, sql),
        (n) => `review-${n}` as ReviewId
      ),
      get: (id) => one(id, false),
      lock: (id) => one(id, true),
      insert: (row) =>
        Effect.gen(function* () {
          yield* sql`INSERT INTO reviews ${sql.insert({
            review_id: row.review_id,
            seq: idNumber(row.review_id),
            task_id: row.task_id,
            target_assignment_id: row.target_assignment_id,
            review_assignment_ids: JSON.stringify(row.review_assignment_ids),
            criteria: JSON.stringify({ format: row.criteria.format, body: row.criteria.body }),
            created_at: row.created_at
          })}`
          const members = [...new Set(row.review_assignment_ids)].map((review_assignment_id) => ({
            review_assignment_id,
            review_id: row.review_id
          }))
          if (members.length > 0) yield* sql`INSERT INTO review_members ${sql.insert(members)}`
          for (const [i, v] of row.verdicts.entries()) yield* insertVerdict(row.review_id, i + 1, v)
        }).pipe(Effect.orDie),
      addVerdict: (reviewId, verdict) =>
        Effect.gen(function* () {
          const rows = yield* sql`SELECT (SELECT COALESCE(MAX(v.ordinal), 0) FROM review_verdicts v
              WHERE v.review_id = r.review_id) AS last
            FROM reviews r WHERE r.review_id = ${reviewId}`.pipe(decodeRows(LastOrdinalRow))
          if (rows.length === 0) return yield* Effect.dieMessage(`addVerdict: no review ${reviewId}`)
          yield* insertVerdict(reviewId, rows[0]!.last + 1, verdict)
        }).pipe(Effect.orDie),
      byTarget: (targetId) =>
        sql`SELECT ${reviewColumns} FROM reviews r WHERE r.target_assignment_id = ${targetId} ORDER BY r.seq`.pipe(
          decodeRows(ReviewRecord),
          Effect.flatMap((rows) => withVerdicts(rows, sql`r.target_assignment_id = ${targetId}`)),
          Effect.orDie
        ),
      // Like the memory layer: the first session (oldest) of the assignment's target that lists it.
      byReviewAssignment: (reviewAssignmentId) =>
        sql`SELECT ${reviewColumns} FROM review_members m
          JOIN reviews r ON r.review_id = m.review_id
          JOIN assignments a ON a.assignment_id = m.review_assignment_id
          WHERE m.review_assignment_id = ${reviewAssignmentId}
            AND r.target_assignment_id = a.target_assignment_id
          ORDER BY r.seq LIMIT 1`.pipe(
          decodeRows(ReviewRecord),
          Effect.flatMap((rows) =>
            rows.length === 0
              ? Effect.succeed([])
              : withVerdicts(rows, sql`v.review_id = ${rows[0]!.review_id}`)
          ),
          Effect.map((rows) => Option.fromNullable(rows[0])),
          Effect.orDie
        )
    }
  })
)
