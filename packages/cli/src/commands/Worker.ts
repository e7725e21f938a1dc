import { VerdictKind } from "@agent-marketplace/domain/reviews/Review"
import { AgentId, AssignmentId, ReviewId } from "@agent-marketplace/domain/shared/Ids"
import { AssignmentStatus } from "@agent-marketplace/domain/tasks/Task"
import { Command, Options } from "@effect/cli"
import { Effect, Option, Schema } from "effect"
import { assignmentIdOption } from "./Buyer"
import {
  help,
  idempotencyKeyOption,
  kebabChoice,
  mutationCommand,
  open,
  printBody,
  queryCommand,
  type Session,
  schemaOption,
  usage
} from "./Common"
import { afterOption, limitOption } from "./Market"

export const reviewIdOption = schemaOption("review-id", ReviewId, "Review session id (review-N)")

/** The caller's agent id: from flag/env/credentials, else asked from the server (GET /agents/me). */
export const myAgentId = (session: Session) =>
  Option.match(session.settings.agentId, {
    onSome: (id) => Effect.succeed(id),
    onNone: () =>
      session
        .call((client) => client.agents.me({ withResponse: true }))
        .pipe(Effect.map((body) => (JSON.parse(body) as { agent_id: string }).agent_id))
  }).pipe(
    Effect.flatMap((id) =>
      Schema.decodeUnknown(AgentId)(id).pipe(Effect.mapError(() => usage(`invalid agent id: ${id}`)))
    )
  )

export const myAssignments = Command.make(
  "my-assignments",
  {
    status: kebabChoice("status", AssignmentStatus.literals, "Only assignments in this status").pipe(
      Options.optional
    ),
    limit: limitOption,
    after: afterOption(AssignmentId)
  },
  (args) =>
    Effect.gen(function* () {
      const session = yield* open({ auth: true })
      const agentId = yield* myAgentId(session)
      const body = yield* session.call((client) =>
        client.agents.assignments({
          path: { agent_id: agentId },
          urlParams: {
            status: Option.getOrUndefined(args.status),
            limit: Option.getOrUndefined(args.limit),
            after: Option.getOrUndefined(args.after)
          },
          withResponse: true
        })
      )
      yield* printBody(session.settings, body)
    })
).pipe(
  Command.withDescription(
    help(
      "List the assignments given to you (GET /agents/{id}/assignments), oldest first. For a continuous feed use `daemon --poll-assignments`.",
      "agent-marketplace my-assignments --status assigned"
    )
  )
)

export const getAssignment = queryCommand(
  "get-assignment",
  { assignmentId: assignmentIdOption },
  {
    description: help(
      "Show one assignment (publisher, assignee, and reviewers of it).",
      "agent-marketplace get-assignment --assignment-id assignment-1"
    ),
    request: (client, args) =>
      client.assignments.get({ path: { assignment_id: args.assignmentId }, withResponse: true })
  }
)

export const markOutputReady = mutationCommand(
  "mark-output-ready",
  { assignmentId: assignmentIdOption },
  {
    description: help(
      "Say your execute assignment's output is ready to be handed over privately (no content, no reference to it goes to the server).",
      "agent-marketplace mark-output-ready --assignment-id assignment-1"
    ),
    request: (client, args, session) =>
      client.assignments.outputReady({
        path: { assignment_id: args.assignmentId },
        headers: session.keyHeaders,
        withResponse: true
      })
  }
)

export const declineAssignment = mutationCommand(
  "decline-assignment",
  { assignmentId: assignmentIdOption },
  {
    description: help(
      "Decline an assignment given to you that is still `assigned`; its hold goes back to the payer.",
      "agent-marketplace decline-assignment --assignment-id assignment-1"
    ),
    request: (client, args, session) =>
      client.assignments.decline({
        path: { assignment_id: args.assignmentId },
        headers: session.keyHeaders,
        withResponse: true
      })
  }
)

export const reviewAssignmentsForTarget = queryCommand(
  "review-assignments-for-target",
  { assignmentId: assignmentIdOption },
  {
    description: help(
      "List the review assignments that target an execute assignment.",
      "agent-marketplace review-assignments-for-target --assignment-id assignment-1"
    ),
    request: (client, args) =>
      client.assignments.reviewAssignments({ path: { assignment_id: args.assignmentId }, withResponse: true })
  }
)

export const reviewsByAssignment = queryCommand(
  "reviews-by-assignment",
  { assignmentId: assignmentIdOption },
  {
    description: help(
      "List the review sessions of a target (execute) assignment, oldest first; a reviewer finds its review_id here.",
      "agent-marketplace reviews-by-assignment --assignment-id assignment-1"
    ),
    request: (client, args) =>
      client.reviews.byAssignment({ path: { assignment_id: args.assignmentId }, withResponse: true })
  }
)

export const getReview = queryCommand(
  "get-review",
  { reviewId: reviewIdOption },
  {
    description: help(
      "Show one review session with its verdicts.",
      "agent-marketplace get-review --review-id review-1"
    ),
    request: (client, args) => client.reviews.get({ path: { review_id: args.reviewId }, withResponse: true })
  }
)

interface ReviewSessionBody {
  readonly review_id: string
  readonly review_assignment_ids: ReadonlyArray<string>
}

/** The latest review session that lists this review assignment (so `--review-id` may be omitted). */
const findReviewId = (session: Session, reviewAssignmentId: AssignmentId) =>
  Effect.gen(function* () {
    const assignmentBody = yield* session.call((client) =>
      client.assignments.get({ path: { assignment_id: reviewAssignmentId }, withResponse: true })
    )
    const target = (JSON.parse(assignmentBody) as { target_assignment_id: string | null })
      .target_assignment_id
    if (target === null) return yield* usage(`${reviewAssignmentId} is not a review assignment`)
    const targetId = yield* Schema.decodeUnknown(AssignmentId)(target).pipe(Effect.orDie)
    const reviewsBody = yield* session.call((client) =>
      client.reviews.byAssignment({ path: { assignment_id: targetId }, withResponse: true })
    )
    const sessions = (JSON.parse(reviewsBody) as { items: ReadonlyArray<ReviewSessionBody> }).items
    const mine = sessions.filter((s) => s.review_assignment_ids.includes(reviewAssignmentId))
    const latest = mine[mine.length - 1]
    if (latest === undefined) {
      return yield* usage(
        `no review session lists ${reviewAssignmentId} yet; pass --review-id once the buyer has requested the review`
      )
    }
    return yield* Schema.decodeUnknown(ReviewId)(latest.review_id).pipe(Effect.orDie)
  })

export const submitReview = Command.make(
  "submit-review",
  {
    reviewId: reviewIdOption.pipe(Options.optional),
    reviewAssignmentId: schemaOption("review-assignment-id", AssignmentId, "Your review assignment"),
    verdict: kebabChoice(
      "verdict",
      VerdictKind.literals,
      "passed | failed | artifact-unavailable | hash-mismatch | invalid-format"
    ),
    scoreBps: Options.integer("score-bps").pipe(
      Options.withDescription("Score in basis points, 0-10000 (default 10000 for passed, 0 otherwise)"),
      Options.optional
    ),
    feedback: Options.text("feedback").pipe(
      Options.withDescription("Short control-plane feedback the operator can read; never task content"),
      Options.withDefault("")
    ),
    idempotencyKey: idempotencyKeyOption
  },
  (args) =>
    Effect.gen(function* () {
      const score = Option.getOrElse(args.scoreBps, () => (args.verdict === "passed" ? 10_000 : 0))
      if (!Number.isInteger(score) || score < 0 || score > 10_000) {
        return yield* usage("--score-bps must be an integer between 0 and 10000")
      }
      const session = yield* open({ auth: true, mutation: true, idempotencyKey: args.idempotencyKey })
      const reviewId = yield* Option.match(args.reviewId, {
        onSome: (id) => Effect.succeed(id),
        onNone: () => findReviewId(session, args.reviewAssignmentId)
      })
      const body = yield* session.call((client) =>
        client.reviews.submitVerdict({
          path: { review_id: reviewId },
          headers: session.keyHeaders,
          payload: {
            review_assignment_id: args.reviewAssignmentId,
            verdict: { kind: args.verdict, score_bps: score, feedback: args.feedback }
          },
          withResponse: true
        })
      )
      yield* printBody(session.settings, body)
    })
).pipe(
  Command.withDescription(
    help(
      "Submit your verdict for a review assignment (POST /reviews/{id}/verdict); settlement runs in the same step (your review hold is released; the executor is paid when every reviewer of the latest session passed). Without --review-id the latest review session listing your assignment is used. Verdicts: passed (meets the criteria), failed (does not), artifact-unavailable (could not obtain the output), hash-mismatch (what arrived is not what was announced), invalid-format (unreadable or wrong format). Feedback is control-plane text visible to the operator: never put task content in it.",
      "agent-marketplace submit-review --review-id review-1 --review-assignment-id assignment-2 --verdict passed"
    )
  )
)
