import {
  type CreateRelayRequest,
  RateLimitedError,
  RelayAlreadyUploadedError,
  RelayMetadata,
  RelayNotFoundError,
  RelaySizeMismatchError,
  RelaySlot,
  RelayStorageFullError
} from "@agent-marketplace/domain/relay/Relay"
import {
  InputInvalidError,
  InternalError,
  PayloadTooLargeError
} from "@agent-marketplace/domain/shared/Errors"
import { type HttpClientError, HttpClientRequest, type HttpClientResponse } from "@effect/platform"
import { Data, Effect, Either, Option, Schema, Stream } from "effect"
import {
  ServerFailedError,
  ServerUnreachableError,
  UnexpectedResponseError,
  UntypedServerError
} from "./Errors"
import { note } from "./Output"
import { RelayHttp } from "./RelayHttp"
import { RetryPolicy } from "./RetryPolicy"

/**
 * The relay's four calls over the platform `HttpClient` directly (`RelayHttp`, over `node:http`;
 * not `HttpApiClient`, which buffers bodies): upload and download stream their bytes. Relay calls are
 * anonymous: no bearer token, only the slot's own `Relay-Token`. JSON answers are decoded with the
 * domain's schemas and printed as received; error bodies become the domain's typed errors (so exit
 * codes follow their status).
 */

/** The error bodies a relay endpoint may answer with (anything else with a `_tag` is shown as sent). */
const RelayErrorBody = Schema.Union(
  RelayNotFoundError,
  RelayAlreadyUploadedError,
  RelaySizeMismatchError,
  RelayStorageFullError,
  RateLimitedError,
  PayloadTooLargeError,
  InputInvalidError,
  InternalError
)
export type RelayError = typeof RelayErrorBody.Type

/** What a relay call can fail with (besides the typed errors above). */
export type RelayCallError =
  | RelayError
  | ServerUnreachableError
  | ServerFailedError
  | UnexpectedResponseError
  | UntypedServerError

/** A failure while the bytes of a download were arriving (connection cut, body shorter than announced). */
export class RelayTransferError extends Data.TaggedError("RelayTransferError")<{
  readonly url: string
  readonly cause: unknown
}> {}

const slotUrl = (server: string, relayId: string) => `${server}/relay/${encodeURIComponent(relayId)}`

const tagOf = (body: string): string | undefined => {
  try {
    const parsed = JSON.parse(body)
    return typeof parsed === "object" && parsed !== null && typeof parsed._tag === "string"
      ? parsed._tag
      : undefined
  } catch {
    return undefined
  }
}

const describe = (error: HttpClientError.HttpClientError): string => {
  const cause = error.cause as { cause?: { code?: string; message?: string }; message?: string } | undefined
  return cause?.cause?.code ?? cause?.cause?.message ?? cause?.message ?? error.description ?? error.reason
}

const unreachable =
  (server: string, method: string, url: string) => (error: HttpClientError.HttpClientError) =>
    new ServerUnreachableError({
      url,
      message: `cannot reach the server at ${server} (${method} ${url}): ${describe(error)}`
    })

/** A non-2xx answer as the CLI's error: the typed relay error when the body is one. */
const failureOf = (url: string, status: number, body: string): RelayCallError => {
  const decoded = Schema.decodeUnknownEither(Schema.parseJson(RelayErrorBody))(body)
  if (Either.isRight(decoded)) return decoded.right
  if (tagOf(body) !== undefined) {
    return new UntypedServerError({ status, body: JSON.parse(body) as Record<string, unknown> })
  }
  return status >= 500
    ? new ServerFailedError({ url, status, message: `the server at ${url} answered ${status}` })
    : new UnexpectedResponseError({
        url,
        status,
        message: `the server at ${url} answered ${status} with a body that is not an API error`
      })
}

/** Reads a JSON answer: the body text (printed verbatim) and its decoded value, or the typed failure. */
const jsonAnswer =
  <A, I>(schema: Schema.Schema<A, I>, url: string, expected: number) =>
  (response: HttpClientResponse.HttpClientResponse) =>
    Effect.gen(function* () {
      const body = yield* response.text.pipe(
        Effect.mapError(
          (error) =>
            new ServerUnreachableError({
              url,
              message: `the answer of ${url} was cut off: ${describe(error)}`
            })
        )
      )
      if (response.status !== expected) return yield* Effect.fail(failureOf(url, response.status, body))
      const value = yield* Schema.decodeUnknown(Schema.parseJson(schema))(body).pipe(
        Effect.mapError(
          (error) =>
            new ServerFailedError({
              url,
              status: response.status,
              message: `the server at ${url} answered ${response.status} with a body that does not match the relay contract: ${error.message}`
            })
        )
      )
      return { body, value } as const
    })

/** 5xx except 507 (quota full: asking again in a few seconds will not free it), and 429. */
const isRetryable = (error: RelayCallError) =>
  error._tag === "ServerUnreachableError" ||
  error._tag === "RateLimitedError" ||
  error._tag === "InternalError" ||
  (error._tag === "ServerFailedError" && error.status >= 500 && error.status !== 507) ||
  (error._tag === "UntypedServerError" && error.status >= 500 && error.status !== 507)

/**
 * A JSON call (create, delete): each attempt bounded by the policy's attempt timeout, and retried
 * under the CLI's retry policy with a note per retry (unless `retry` is false).
 */
const jsonCall = <A, R>(
  url: string,
  label: string,
  call: Effect.Effect<A, RelayCallError, R>,
  retry = true
) =>
  Effect.flatMap(RetryPolicy, (policy) => {
    const attempt = call.pipe(
      Effect.timeoutFail({
        duration: policy.attemptTimeout,
        onTimeout: () => new ServerUnreachableError({ url, message: `no answer from ${url} in time` })
      })
    )
    return retry
      ? attempt.pipe(
          Effect.tapError((error) =>
            isRetryable(error) ? note(`${label} failed (${error._tag}); retrying`) : Effect.void
          ),
          Effect.retry({ schedule: policy.schedule, while: isRetryable })
        )
      : attempt
  })

/** POST /relay: a new slot (retried like every JSON call; a lost answer leaves an unused slot that expires). */
export const createSlot = (server: string, request: CreateRelayRequest) =>
  Effect.gen(function* () {
    const client = yield* RelayHttp
    const url = `${server}/relay`
    const call = HttpClientRequest.post(url).pipe(
      HttpClientRequest.bodyUnsafeJson(request),
      client.execute,
      Effect.mapError(unreachable(server, "POST", url)),
      Effect.flatMap(jsonAnswer(RelaySlot, url, 201))
    )
    return yield* jsonCall(url, `POST ${url}`, call)
  })

/** DELETE /relay/{id} with the upload token (`retry: false` for a best-effort cleanup). */
export const deleteSlot = (
  server: string,
  relayId: string,
  token: string,
  options: { readonly retry?: boolean } = {}
) =>
  Effect.gen(function* () {
    const client = yield* RelayHttp
    const url = slotUrl(server, relayId)
    const call = HttpClientRequest.del(url).pipe(
      HttpClientRequest.setHeader("relay-token", token),
      client.execute,
      Effect.mapError(unreachable(server, "DELETE", url)),
      Effect.flatMap(jsonAnswer(RelayMetadata, url, 200))
    )
    return yield* jsonCall(url, `DELETE ${url}`, call, options.retry !== false)
  })

/**
 * PUT /relay/{id}: streams `bytes` (exactly `size` of them) with `Content-Length: size`. Tried once:
 * the stream cannot be replayed, and a failed upload leaves the slot `created`, so the caller may
 * upload again before it expires.
 */
export const uploadSlot = <E, R>(
  server: string,
  relayId: string,
  token: string,
  bytes: Stream.Stream<Uint8Array, E, R>,
  size: number
) =>
  Effect.gen(function* () {
    const client = yield* RelayHttp
    const context = yield* Effect.context<R>()
    const url = slotUrl(server, relayId)
    return yield* HttpClientRequest.put(url).pipe(
      HttpClientRequest.setHeader("relay-token", token),
      HttpClientRequest.bodyStream(Stream.provideContext(bytes, context), {
        contentLength: size,
        contentType: "application/octet-stream"
      }),
      client.execute,
      Effect.mapError(unreachable(server, "PUT", url)),
      Effect.flatMap(jsonAnswer(RelayMetadata, url, 200))
    )
  })

/** An open download: the announced length and the body as a stream (consumed once). */
export interface Download {
  readonly url: string
  readonly size: Option.Option<number>
  readonly bytes: Stream.Stream<Uint8Array, RelayTransferError>
}

/**
 * GET /relay/{id} with the download token. Tried once: every GET that reaches the server counts
 * against `max_downloads`. A 404 is `RelayNotFoundError` (the same for every unavailable slot).
 */
export const downloadSlot = (server: string, relayId: string, token: string) =>
  Effect.gen(function* () {
    const client = yield* RelayHttp
    const url = slotUrl(server, relayId)
    const response = yield* HttpClientRequest.get(url).pipe(
      HttpClientRequest.setHeader("relay-token", token),
      HttpClientRequest.setHeader("accept", "application/octet-stream"),
      client.execute,
      Effect.mapError(unreachable(server, "GET", url))
    )
    if (response.status !== 200) {
      const body = yield* response.text.pipe(Effect.orElseSucceed(() => ""))
      return yield* Effect.fail(failureOf(url, response.status, body))
    }
    const length = Number(response.headers["content-length"])
    const download: Download = {
      url,
      size: Number.isSafeInteger(length) && length >= 0 ? Option.some(length) : Option.none(),
      bytes: Stream.mapError(response.stream, (cause) => new RelayTransferError({ url, cause }))
    }
    return download
  })
