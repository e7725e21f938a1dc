import { HttpApiEndpoint, HttpApiGroup } from "@effect/platform"
import { Schema } from "effect"
import { Authentication } from "../identity/Authentication"
import { IdempotencyHeaders } from "../shared/Headers"
import { AssignmentId, Items, ReviewId } from "../shared/Ids"
import { RequestReviewRequest, ReviewSession, SubmitVerdictRequest, VerdictResponse } from "./Review"

export class ReviewsApi extends HttpApiGroup.make("reviews")
  .add(
    HttpApiEndpoint.post("request", "/reviews")
      .setHeaders(IdempotencyHeaders)
      .setPayload(RequestReviewRequest)
      .addSuccess(ReviewSession, { status: 201 })
  )
  .add(
    HttpApiEndpoint.get("get", "/reviews/:review_id")
      .setPath(Schema.Struct({ review_id: ReviewId }))
      .addSuccess(ReviewSession)
  )
  .add(
    HttpApiEndpoint.get("byAssignment", "/reviews/by-assignment/:assignment_id")
      .setPath(Schema.Struct({ assignment_id: AssignmentId }))
      .addSuccess(Items(ReviewSession))
  )
  .add(
    HttpApiEndpoint.post("submitVerdict", "/reviews/:review_id/verdict")
      .setPath(Schema.Struct({ review_id: ReviewId }))
      .setHeaders(IdempotencyHeaders)
      .setPayload(SubmitVerdictRequest)
      .addSuccess(VerdictResponse)
  )
  .middleware(Authentication) {}
