import { HttpApiSchema } from "@effect/platform"
import { Schema } from "effect"

/** 400: a request that cannot be understood (bad JSON, wrong content type, rule on the input itself). */
export class InputInvalidError extends Schema.TaggedError<InputInvalidError>()(
  "InputInvalidError",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 400 })
) {}

/** 401: missing, unknown, revoked or otherwise invalid credential. */
export class AuthenticationFailedError extends Schema.TaggedError<AuthenticationFailedError>()(
  "AuthenticationFailedError",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 401 })
) {}

/** 403: the caller is known but not allowed to do this. */
export class PermissionDeniedError extends Schema.TaggedError<PermissionDeniedError>()(
  "PermissionDeniedError",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 403 })
) {}

/** 404: an object that does not exist, or that the caller may not see. */
export class ObjectNotFoundError extends Schema.TaggedError<ObjectNotFoundError>()(
  "ObjectNotFoundError",
  { message: Schema.String, kind: Schema.String, id: Schema.String },
  HttpApiSchema.annotations({ status: 404 })
) {}

/** 409: the object is not in a state that allows this. */
export class StateConflictError extends Schema.TaggedError<StateConflictError>()(
  "StateConflictError",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 409 })
) {}

/** 413: a JSON body larger than the limit. */
export class PayloadTooLargeError extends Schema.TaggedError<PayloadTooLargeError>()(
  "PayloadTooLargeError",
  { message: Schema.String, limit_bytes: Schema.Number },
  HttpApiSchema.annotations({ status: 413 })
) {}

/** 500: never carries internals. */
export class InternalError extends Schema.TaggedError<InternalError>()(
  "InternalError",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 500 })
) {}

export const notFound = (kind: string, id: string) =>
  new ObjectNotFoundError({ message: `${kind} ${id} not found`, kind, id })

/** The business rejections a mutation can answer with; they are stored and replayed by idempotency. */
export const DomainError = Schema.Union(
  InputInvalidError,
  PermissionDeniedError,
  ObjectNotFoundError,
  StateConflictError
)
export type DomainError = typeof DomainError.Type
