import { MarketplaceApi } from "@agent-marketplace/domain/Api"
import { CurrentAgent } from "@agent-marketplace/domain/identity/Authentication"
import { ReviewSession, VerdictResponse } from "@agent-marketplace/domain/reviews/Review"
import { HttpApiBuilder } from "@effect/platform"
import { Effect } from "effect"
import { onLane } from "../http/FastLane"
import { mutation } from "../http/Mutation"
import { reviewToWire } from "../platform/Wire"
import { Tasks } from "../tasks/Tasks"
import { Reviews } from "./Reviews"

export const ReviewsHttp = HttpApiBuilder.group(MarketplaceApi, "reviews", (handlers) =>
  onLane(
    Effect.gen(function* () {
      const reviews = yield* Reviews
      const tasks = yield* Tasks
      return handlers
        .handle("request", ({ payload, headers }) =>
          mutation(
            {
              key: headers["idempotency-key"],
              method: "POST",
              path: "/reviews",
              body: payload,
              success: ReviewSession,
              status: 201
            },
            (caller) => tasks.publishedTask(caller, payload.task_id),
            (task) => Effect.map(reviews.request(task, payload), reviewToWire)
          )
        )
        .handle("get", ({ path }) =>
          Effect.flatMap(CurrentAgent, (me) =>
            Effect.map(reviews.visible(me.agent_id, path.review_id), reviewToWire)
          )
        )
        .handle("byAssignment", ({ path }) =>
          Effect.flatMap(CurrentAgent, (me) =>
            Effect.map(reviews.byTarget(me.agent_id, path.assignment_id), (rows) => ({
              items: rows.map(reviewToWire)
            }))
          )
        )
        .handle("submitVerdict", ({ path, payload, headers }) =>
          mutation(
            {
              key: headers["idempotency-key"],
              method: "POST",
              path: `/reviews/${path.review_id}/verdict`,
              body: payload,
              success: VerdictResponse,
              status: 200
            },
            (caller) => reviews.authorizeVerdict(caller, path.review_id, payload.review_assignment_id),
            (review, caller) =>
              reviews.submitVerdict(caller, review, payload.review_assignment_id, payload.verdict)
          )
        )
    })
  )
)
