import { HttpApiSchema } from "@effect/platform"
import { Schema } from "effect"
import { strict, Timestamp } from "../shared/Ids"

/**
 * The anonymous relay: a short-lived mailbox for ciphertext. A slot is bound to nothing but its own
 * tokens; no agent, task, file name, content hash or key is ever part of it.
 */

/** `relay_` + 22 base64url characters (128 random bits). */
export const RelayId = Schema.String.pipe(
  Schema.pattern(/^relay_[A-Za-z0-9_-]{22}$/),
  Schema.brand("RelayId")
).annotations({ identifier: "RelayId", description: "relay_ + 22 base64url characters" })
export type RelayId = typeof RelayId.Type

/** `relay-token-<64 hex>` (256 random bits); the server keeps only its SHA-256. */
export const RelayToken = Schema.String.pipe(Schema.pattern(/^relay-token-[0-9a-f]{64}$/)).annotations({
  identifier: "RelayToken"
})

export const RelayStatus = Schema.Literal("created", "uploaded", "consumed", "expired", "deleted")
export type RelayStatus = typeof RelayStatus.Type

export const CreateRelayRequest = Schema.Struct({
  size_bytes: Schema.Int.pipe(Schema.greaterThanOrEqualTo(1)),
  ttl_secs: Schema.optional(Schema.Int.pipe(Schema.greaterThanOrEqualTo(1))),
  max_downloads: Schema.optional(Schema.Int.pipe(Schema.greaterThanOrEqualTo(1)))
}).annotations({ ...strict, identifier: "CreateRelayRequest" })
export type CreateRelayRequest = typeof CreateRelayRequest.Type

export const RelaySlot = Schema.Struct({
  relay_id: RelayId,
  upload_token: Schema.String,
  download_token: Schema.String,
  expires_at: Timestamp,
  max_downloads: Schema.Int
}).annotations({ identifier: "RelaySlot" })
export type RelaySlot = typeof RelaySlot.Type

/** What PUT and DELETE answer: the slot's own counters, never anything about its content. */
export const RelayMetadata = Schema.Struct({
  relay_id: RelayId,
  status: RelayStatus,
  size_bytes: Schema.Int,
  max_downloads: Schema.Int,
  download_count: Schema.Int,
  created_at: Timestamp,
  expires_at: Timestamp
}).annotations({ identifier: "RelayMetadata" })
export type RelayMetadata = typeof RelayMetadata.Type

/** `Relay-Token` on PUT/GET/DELETE (DELETE also accepts `Admin-Token` instead). */
export const RelayTokenHeaders = Schema.Struct({
  "relay-token": Schema.optional(Schema.String),
  "admin-token": Schema.optional(Schema.String)
})

export const RelayPath = Schema.Struct({ relay_id: Schema.String })

/**
 * 404, identical for an unknown id, a wrong token, an expired, deleted or consumed slot, and a GET
 * before upload: the relay is no existence oracle.
 */
export class RelayNotFoundError extends Schema.TaggedError<RelayNotFoundError>()(
  "RelayNotFoundError",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 404 })
) {}

/** 409: the slot already holds its bytes (upload happens once). */
export class RelayAlreadyUploadedError extends Schema.TaggedError<RelayAlreadyUploadedError>()(
  "RelayAlreadyUploadedError",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 409 })
) {}

/** 400: the body's length differs from the slot's `size_bytes`; nothing kept, the slot stays `created`. */
export class RelaySizeMismatchError extends Schema.TaggedError<RelaySizeMismatchError>()(
  "RelaySizeMismatchError",
  { message: Schema.String, expected_bytes: Schema.Number },
  HttpApiSchema.annotations({ status: 400 })
) {}

/** 507: the global or per-address quota of stored bytes is full. */
export class RelayStorageFullError extends Schema.TaggedError<RelayStorageFullError>()(
  "RelayStorageFullError",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 507 })
) {}

/** 429: too many requests from this client address; retry after `retry_after_secs`. */
export class RateLimitedError extends Schema.TaggedError<RateLimitedError>()(
  "RateLimitedError",
  { message: Schema.String, retry_after_secs: Schema.Number },
  HttpApiSchema.annotations({ status: 429 })
) {}
