import { MarketplaceApi } from "@agent-marketplace/domain/Api"
import {
  HttpApi,
  type HttpApp,
  HttpServerError,
  HttpServerRequest,
  HttpServerResponse,
  UrlParams
} from "@effect/platform"
import { Cause, Effect, Option, Stream } from "effect"

/** Endpoints that take no body: POST/PUT paths (as regexes) without a payload schema. */
const bodylessRoutes: Array<{ method: string; pattern: RegExp }> = []
HttpApi.reflect(MarketplaceApi, {
  onGroup: () => {},
  onEndpoint: ({ endpoint, payloads }) => {
    if ((endpoint.method === "POST" || endpoint.method === "PUT") && payloads.size === 0) {
      const pattern = new RegExp(`^${endpoint.path.replace(/:[a-z_]+/g, "[^/]+")}$`)
      bodylessRoutes.push({ method: endpoint.method, pattern })
    }
  }
})

/** The one route whose body is raw bytes, not JSON: a relay upload (`PUT /relay/{relay_id}`). */
const relayUpload = /^\/relay\/[^/]+$/

const json = (status: number, tag: string, message: string, extra: Record<string, unknown> = {}) =>
  HttpServerResponse.unsafeJson({ _tag: tag, message, ...extra }, { status })

const tooLarge = (limit: number) =>
  json(413, "PayloadTooLargeError", `request body is larger than ${limit} bytes`, {
    limit_bytes: limit
  })

const isOctetStream = (contentType: string | undefined) =>
  contentType === undefined || /^application\/octet-stream\s*(;|$)/i.test(contentType.trim())

const isJsonType = (contentType: string | undefined) =>
  contentType === undefined || /^application\/([a-z.+-]+\+)?json\b/i.test(contentType.trim())

/**
 * Reads a body of unknown length (chunked) to its end, keeping at most `limit` bytes. The rest is
 * drained, not kept: stopping early would make the platform destroy the request stream, and with it
 * the socket, before a 413 can be written.
 */
const readCapped = (request: HttpServerRequest.HttpServerRequest, limit: number) =>
  Stream.runFold(request.stream, { size: 0, chunks: [] as Array<Uint8Array> }, (acc, chunk) => {
    acc.size += chunk.length
    if (acc.size <= limit) acc.chunks.push(chunk)
    return acc
  }).pipe(
    Effect.map(({ size, chunks }) => {
      if (size > limit) return Option.none()
      const body = new Uint8Array(size)
      let offset = 0
      for (const chunk of chunks) {
        body.set(chunk, offset)
        offset += chunk.length
      }
      return Option.some(body)
    })
  )

/** The same request, whose body reads answer the already-read `body`. */
const withBody = (
  request: HttpServerRequest.HttpServerRequest,
  body: Uint8Array
): HttpServerRequest.HttpServerRequest => {
  const text = new TextDecoder().decode(body)
  const decodeFailure = (cause: unknown) =>
    new HttpServerError.RequestError({ request, reason: "Decode", cause })
  const overrides: Partial<HttpServerRequest.HttpServerRequest> = {
    text: Effect.succeed(text),
    json: Effect.try({
      try: () => (text === "" ? null : (JSON.parse(text) as unknown)),
      catch: decodeFailure
    }),
    urlParamsBody: Effect.try({
      try: () => UrlParams.fromInput(new URLSearchParams(text)),
      catch: decodeFailure
    }),
    arrayBuffer: Effect.sync(() => body.slice().buffer),
    stream: Stream.make(body),
    modify: (options) => withBody(request.modify(options), body)
  }
  // The request's body accessors are prototype getters: shadow them with own properties.
  return Object.create(
    request,
    Object.fromEntries(Object.entries(overrides).map(([key, value]) => [key, { value }]))
  ) as HttpServerRequest.HttpServerRequest
}

/** The platform's body-size failure (`maxBytes exceeded`), as opposed to a JSON syntax error. */
const isBodyTooLarge = (cause: unknown) =>
  cause instanceof Error && !(cause instanceof SyntaxError) && /maxBytes exceeded/i.test(cause.message)

export interface RequestGuardOptions {
  /** Largest JSON body (`AGENT_MARKETPLACE_MAX_JSON_BODY_BYTES`). */
  readonly maxJsonBodyBytes: number
  /** Largest relay upload (`AGENT_MARKETPLACE_RELAY_MAX_BLOB_BYTES`). */
  readonly maxRelayBlobBytes: number
}

/**
 * The HTTP edge of the JSON API. Every rejection is the JSON error shape, including those the
 * framework would answer with an empty body or a closed connection:
 * - a JSON body over the size limit → 413: by Content-Length before reading; a chunked body (no
 *   Content-Length) is read here to its end with at most the limit kept, then handed on;
 * - a body that is not `application/json` → 400; malformed JSON → 400;
 * - any body other than empty or `{}` on an endpoint that takes none → 400;
 * - an unknown route → 404; anything unexpected → 500 without internals (the cause is logged).
 *
 * The one exception is a relay upload (`PUT /relay/{relay_id}`): its body is raw bytes
 * (`application/octet-stream`, or no Content-Type), up to the relay's limit by Content-Length (413
 * above it), never read here: the handler streams it, and checks its exact length itself.
 */
export const requestGuard =
  ({ maxJsonBodyBytes, maxRelayBlobBytes }: RequestGuardOptions) =>
  <E, R>(app: HttpApp.Default<E, R>): HttpApp.Default<E, R | HttpServerRequest.HttpServerRequest> =>
    Effect.gen(function* () {
      let request = yield* HttpServerRequest.HttpServerRequest
      const method = request.method
      if (method === "PUT" && relayUpload.test(request.url.split("?")[0]!)) {
        const length = request.headers["content-length"]
        if (length !== undefined && Number(length) > maxRelayBlobBytes) return tooLarge(maxRelayBlobBytes)
        if (!isOctetStream(request.headers["content-type"])) {
          return json(400, "InputInvalidError", "a relay upload must be application/octet-stream")
        }
        return yield* app
      }
      if (method === "POST" || method === "PUT" || method === "PATCH" || method === "DELETE") {
        const length = request.headers["content-length"]
        const hasBody =
          (length !== undefined && length !== "0") || request.headers["transfer-encoding"] !== undefined
        if (length !== undefined && Number(length) > maxJsonBodyBytes) return tooLarge(maxJsonBodyBytes)
        if (hasBody && !isJsonType(request.headers["content-type"])) {
          return json(400, "InputInvalidError", "request body must be application/json")
        }
        if (hasBody && length === undefined) {
          const read = yield* Effect.either(readCapped(request, maxJsonBodyBytes))
          if (read._tag === "Left") return json(400, "InputInvalidError", "request body could not be read")
          if (Option.isNone(read.right)) return tooLarge(maxJsonBodyBytes)
          request = withBody(request, read.right.value)
        }
        const path = request.url.split("?")[0]!
        if (hasBody && bodylessRoutes.some((r) => r.method === method && r.pattern.test(path))) {
          const text = yield* Effect.orElseSucceed(request.text, () => "\u0000")
          const trimmed = text.trim()
          if (trimmed !== "" && !/^\{\s*\}$/.test(trimmed)) {
            return json(400, "InputInvalidError", `${method} ${path} takes no request body`)
          }
        }
      }
      return yield* app.pipe(
        HttpServerRequest.withMaxBodySize(Option.some(maxJsonBodyBytes)),
        Effect.provideService(HttpServerRequest.HttpServerRequest, request)
      )
    }).pipe(
      Effect.catchAllCause((cause) => {
        const failure = Cause.failureOption(cause)
        if (Option.isSome(failure)) {
          const error = failure.value as { _tag?: string }
          return error._tag === "RouteNotFound"
            ? Effect.succeed(json(404, "RouteNotFoundError", "no such endpoint; see /docs"))
            : Effect.failCause(cause)
        }
        const defect = Cause.dieOption(cause)
        if (Option.isSome(defect)) {
          const error = defect.value as { _tag?: string; reason?: string; cause?: unknown }
          if (error._tag === "RequestError" && error.reason === "Decode") {
            return Effect.succeed(
              isBodyTooLarge(error.cause)
                ? tooLarge(maxJsonBodyBytes)
                : json(400, "InputInvalidError", "request body is not valid JSON")
            )
          }
          return Effect.as(
            Effect.logError("unhandled request failure", cause),
            json(500, "InternalError", "internal error")
          )
        }
        return Effect.failCause(cause)
      })
    )
