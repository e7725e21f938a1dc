import { HttpApiEndpoint, HttpApiGroup, HttpApiMiddleware, HttpApiSchema, OpenApi } from "@effect/platform"
import { PayloadTooLargeError } from "../shared/Errors"
import {
  CreateRelayRequest,
  RateLimitedError,
  RelayAlreadyUploadedError,
  RelayMetadata,
  RelayNotFoundError,
  RelayPath,
  RelaySizeMismatchError,
  RelaySlot,
  RelayStorageFullError,
  RelayTokenHeaders
} from "./Relay"

/**
 * Slot creation is rate limited per client address. A middleware, so the limit is checked before the
 * request body is decoded (the server implements it; clients only see `RateLimitedError`).
 */
export class RelayRateLimit extends HttpApiMiddleware.Tag<RelayRateLimit>()("RelayRateLimit", {
  failure: RateLimitedError
}) {}

/**
 * The relay's HTTP contract. `upload` and `download` move raw bytes: the server streams them
 * (handled raw, never decoded into memory); the payload/success schemas here document them.
 */
export class RelayApi extends HttpApiGroup.make("relay")
  .add(
    HttpApiEndpoint.post("create", "/relay")
      .setPayload(CreateRelayRequest)
      .addSuccess(RelaySlot, { status: 201 })
      .addError(RelayStorageFullError)
      .addError(RateLimitedError)
      .addError(PayloadTooLargeError)
      .middleware(RelayRateLimit)
  )
  .add(
    HttpApiEndpoint.put("upload", "/relay/:relay_id")
      .setPath(RelayPath)
      .setHeaders(RelayTokenHeaders)
      .setPayload(HttpApiSchema.Uint8Array())
      .addSuccess(RelayMetadata)
      .addError(RelayNotFoundError)
      .addError(RelayAlreadyUploadedError)
      .addError(RelaySizeMismatchError)
  )
  .add(
    HttpApiEndpoint.get("download", "/relay/:relay_id")
      .setPath(RelayPath)
      .setHeaders(RelayTokenHeaders)
      .addSuccess(HttpApiSchema.Uint8Array())
      .addError(RelayNotFoundError)
  )
  .add(
    HttpApiEndpoint.del("delete", "/relay/:relay_id")
      .setPath(RelayPath)
      .setHeaders(RelayTokenHeaders)
      .addSuccess(RelayMetadata)
      .addError(RelayNotFoundError)
  )
  .annotate(
    OpenApi.Description,
    "Anonymous, short-lived mailbox for already-encrypted blobs. No agent credential; a slot is bound only to its tokens."
  ) {}
