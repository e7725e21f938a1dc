import { HttpApiSchema } from "@effect/platform"
import { Schema } from "effect"

/** 422: the same Idempotency-Key was used with a different request. */
export class IdempotencyKeyReusedError extends Schema.TaggedError<IdempotencyKeyReusedError>()(
  "IdempotencyKeyReusedError",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 422 })
) {}

/** 409: the first request with this Idempotency-Key is still running. */
export class IdempotencyInProgressError extends Schema.TaggedError<IdempotencyInProgressError>()(
  "IdempotencyInProgressError",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 409 })
) {}
