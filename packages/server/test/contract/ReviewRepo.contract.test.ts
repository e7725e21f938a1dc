import { AgentId, AssignmentId, ReviewId, SessionId, TaskId } from "@agent-marketplace/domain/shared/Ids"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import { Store } from "../../src/platform/Store"
import { ReviewRepo, type ReviewRow, type VerdictRow } from "../../src/reviews/ReviewRepo"
import { type AssignmentRow, TaskRepo } from "../../src/tasks/TaskRepo"
import { blockedWhileHeld, postgresWithClient } from "../support/PgLocks"
import { postgresSkipped, storeCases } from "../support/Stores"

const task = TaskId.make("task-1")
const aid = (n: number) => AssignmentId.make(`assignment-${n}`)

const assignment = (n: number, target: number | null): AssignmentRow => ({
  assignment_id: aid(n),
  task_id: task,
  session_id: SessionId.make("session-1"),
  agent_id: AgentId.make(`agent-${n}`),
  kind: target === null ? "execute" : "review",
  target_assignment_id: target === null ? null : aid(target),
  deadline_at: null,
  status: "assigned",
  created_at: 1_000,
  updated_at: 1_000
})

/** Execute assignments 1 and 2; reviews 3, 4, 5, 6 of 1 and 7 of 2. */
const seedAssignments = Effect.flatMap(TaskRepo, (tasks) =>
  Effect.forEach(
    [
      assignment(1, null),
      assignment(2, null),
      assignment(3, 1),
      assignment(4, 1),
      assignment(5, 1),
      assignment(6, 1),
      assignment(7, 2)
    ],
    (row) => tasks.putAssignment(row),
    { discard: true }
  )
)

const reviewRow = (
  id: ReviewId,
  target: number,
  reviewers: ReadonlyArray<number>,
  overrides: Partial<ReviewRow> = {}
): ReviewRow => ({
  review_id: id,
  task_id: task,
  target_assignment_id: aid(target),
  review_assignment_ids: reviewers.map(aid),
  criteria: { format: "plain_text", body: "check the output" },
  verdicts: [],
  created_at: 2_000,
  ...overrides
})

const verdict = (
  reviewer: number,
  kind: VerdictRow["verdict"]["kind"],
  submitted_at: number,
  feedback = ""
): VerdictRow => ({
  review_assignment_id: aid(reviewer),
  reviewer: AgentId.make(`agent-${reviewer}`),
  verdict: { kind, score_bps: kind === "passed" ? 10_000 : 0, feedback },
  submitted_at
})

const reviewIds = (rows: ReadonlyArray<ReviewRow>) => rows.map((r) => r.review_id as string)

describe.each(storeCases)("ReviewRepo contract ($name)", (storeCase) => {
  const run = <A, E>(effect: Effect.Effect<A, E, ReviewRepo | TaskRepo | Store>) =>
    Effect.provide(effect, storeCase.layer())

  it.effect("review ids are review-N, increasing", () =>
    run(
      Effect.gen(function* () {
        const repo = yield* ReviewRepo
        expect(yield* repo.nextReviewId).toBe("review-1")
        expect(yield* repo.nextReviewId).toBe("review-2")
        expect(yield* repo.nextReviewId).toBe("review-3")
      })
    )
  )

  it.effect("a session round-trips (reviewer order, criteria); unknown is none; lock reads it", () =>
    run(
      Effect.gen(function* () {
        const repo = yield* ReviewRepo
        const store = yield* Store
        expect(Option.isNone(yield* repo.get(ReviewId.make("review-1")))).toBe(true)
        const id = yield* repo.nextReviewId
        const row = reviewRow(id, 1, [5, 3, 4], {
          criteria: { format: "json", body: '{"must":["cite \\"sources\\"", "é ✓"]}' },
          created_at: Number.MAX_SAFE_INTEGER
        })
        yield* repo.insert(row)
        expect(yield* repo.get(id)).toEqual(Option.some(row))
        expect(yield* store.transaction(repo.lock(id))).toEqual(Option.some(row))
        expect(Option.isNone(yield* store.transaction(repo.lock(ReviewId.make("review-9"))))).toBe(true)
      })
    )
  )

  it.effect("verdicts are appended in submission order and read back whole", () =>
    run(
      Effect.gen(function* () {
        const repo = yield* ReviewRepo
        const id = yield* repo.nextReviewId
        const first = verdict(4, "failed", 3_000, "missing section 2")
        yield* repo.insert(reviewRow(id, 1, [3, 4, 5], { verdicts: [first] }))
        const second = verdict(5, "passed", 3_500, "ok ✓")
        const third = verdict(3, "hash_mismatch", 3_200)
        yield* repo.addVerdict(id, second)
        yield* repo.addVerdict(id, third)
        const read = Option.getOrThrow(yield* repo.get(id))
        expect(read.verdicts).toEqual([first, second, third])
        expect(read).toEqual(reviewRow(id, 1, [3, 4, 5], { verdicts: [first, second, third] }))
      })
    )
  )

  it.effect("byTarget lists a target's sessions oldest first, each with its own verdicts", () =>
    run(
      Effect.gen(function* () {
        const repo = yield* ReviewRepo
        const ids: Array<ReviewId> = []
        for (let i = 0; i < 11; i++) ids.push(yield* repo.nextReviewId)
        // review-1..review-11: sessions of target 1 are review-2, review-10, review-11 (numeric order)
        yield* repo.insert(reviewRow(ids[0]!, 2, [7]))
        yield* repo.insert(reviewRow(ids[1]!, 1, [3]))
        yield* repo.insert(reviewRow(ids[9]!, 1, [4, 5]))
        yield* repo.insert(reviewRow(ids[10]!, 1, [6]))
        const v3 = verdict(3, "failed", 10)
        const v5 = verdict(5, "passed", 11)
        const v4 = verdict(4, "passed", 12)
        const v7 = verdict(7, "passed", 13)
        yield* repo.addVerdict(ids[1]!, v3)
        yield* repo.addVerdict(ids[9]!, v5)
        yield* repo.addVerdict(ids[0]!, v7)
        yield* repo.addVerdict(ids[9]!, v4)
        const sessions = yield* repo.byTarget(aid(1))
        expect(reviewIds(sessions)).toEqual(["review-2", "review-10", "review-11"])
        expect(sessions.map((s) => s.verdicts)).toEqual([[v3], [v5, v4], []])
        expect(sessions[1]).toEqual(reviewRow(ids[9]!, 1, [4, 5], { verdicts: [v5, v4] }))
        expect(yield* repo.byTarget(aid(2))).toEqual([reviewRow(ids[0]!, 2, [7], { verdicts: [v7] })])
        expect(yield* repo.byTarget(aid(3))).toEqual([])
      })
    )
  )

  it.effect("byReviewAssignment finds the session of the assignment's target that lists it", () =>
    run(
      Effect.gen(function* () {
        const repo = yield* ReviewRepo
        yield* seedAssignments
        const r1 = yield* repo.nextReviewId
        const r2 = yield* repo.nextReviewId
        const r3 = yield* repo.nextReviewId
        yield* repo.insert(reviewRow(r1, 1, [3, 4]))
        yield* repo.insert(reviewRow(r2, 2, [7]))
        yield* repo.insert(reviewRow(r3, 1, [5]))
        yield* repo.addVerdict(r3, verdict(5, "passed", 9))
        expect(yield* repo.byReviewAssignment(aid(4))).toEqual(Option.some(reviewRow(r1, 1, [3, 4])))
        expect(yield* repo.byReviewAssignment(aid(7))).toEqual(Option.some(reviewRow(r2, 2, [7])))
        expect(yield* repo.byReviewAssignment(aid(5))).toEqual(
          Option.some(reviewRow(r3, 1, [5], { verdicts: [verdict(5, "passed", 9)] }))
        )
        // a review assignment listed in no session; an execute assignment; an unknown assignment
        expect(Option.isNone(yield* repo.byReviewAssignment(aid(6)))).toBe(true)
        expect(Option.isNone(yield* repo.byReviewAssignment(aid(1)))).toBe(true)
        expect(Option.isNone(yield* repo.byReviewAssignment(aid(99)))).toBe(true)
        // listed in a later session too: the oldest one that lists it counts
        const r4 = yield* repo.nextReviewId
        yield* repo.insert(reviewRow(r4, 1, [4]))
        expect(Option.map(yield* repo.byReviewAssignment(aid(4)), (r) => r.review_id)).toEqual(
          Option.some(r1)
        )
        // a session of another target listing it is not the assignment's session
        const r5 = yield* repo.nextReviewId
        yield* repo.insert(reviewRow(r5, 2, [6]))
        expect(Option.isNone(yield* repo.byReviewAssignment(aid(6)))).toBe(true)
      })
    )
  )

  it.effect(
    "a failed transaction leaves no session or verdict; a failed savepoint keeps the outer writes",
    () =>
      run(
        Effect.gen(function* () {
          const repo = yield* ReviewRepo
          const store = yield* Store
          yield* seedAssignments
          const error = yield* store
            .transaction(
              Effect.gen(function* () {
                yield* repo.insert(reviewRow(ReviewId.make("review-1"), 1, [3]))
                yield* repo.addVerdict(ReviewId.make("review-1"), verdict(3, "passed", 1))
                return yield* Effect.fail("boom" as const)
              })
            )
            .pipe(Effect.flip)
          expect(error).toBe("boom")
          expect(Option.isNone(yield* repo.get(ReviewId.make("review-1")))).toBe(true)
          expect(yield* repo.byTarget(aid(1))).toEqual([])
          expect(Option.isNone(yield* repo.byReviewAssignment(aid(3)))).toBe(true)

          const id = ReviewId.make("review-2")
          const kept = verdict(3, "failed", 2)
          yield* store.transaction(
            Effect.gen(function* () {
              yield* repo.insert(reviewRow(id, 1, [3, 4]))
              yield* repo.addVerdict(id, kept)
              const inner = yield* store
                .transaction(
                  Effect.gen(function* () {
                    yield* repo.addVerdict(id, verdict(4, "passed", 3))
                    yield* repo.insert(reviewRow(ReviewId.make("review-3"), 1, [5]))
                    return yield* Effect.fail("inner" as const)
                  })
                )
                .pipe(Effect.flip)
              expect(inner).toBe("inner")
            })
          )
          expect(yield* repo.get(id)).toEqual(Option.some(reviewRow(id, 1, [3, 4], { verdicts: [kept] })))
          expect(reviewIds(yield* repo.byTarget(aid(1)))).toEqual(["review-2"])
          expect(Option.isNone(yield* repo.byReviewAssignment(aid(5)))).toBe(true)
          // the next verdict after the undone one is appended after the kept one
          const next = verdict(4, "passed", 4)
          yield* repo.addVerdict(id, next)
          expect(Option.map(yield* repo.get(id), (r) => r.verdicts)).toEqual(Option.some([kept, next]))
        })
      )
  )
})

describe.skipIf(postgresSkipped)("ReviewRepo row locks (postgres)", () => {
  it.effect("lock locks the session row; plain reads do not wait", () =>
    Effect.gen(function* () {
      const repo = yield* ReviewRepo
      const r1 = yield* repo.nextReviewId
      const r2 = yield* repo.nextReviewId
      yield* repo.insert(reviewRow(r1, 1, [3]))
      yield* repo.insert(reviewRow(r2, 1, [4]))
      expect(yield* blockedWhileHeld(repo.lock(r1), repo.lock(r1))).toBe(true)
      expect(yield* blockedWhileHeld(repo.lock(r1), repo.lock(r2))).toBe(false)
      expect(yield* blockedWhileHeld(repo.lock(r1), repo.get(r1))).toBe(false)
    }).pipe(Effect.provide(postgresWithClient()))
  )
})
