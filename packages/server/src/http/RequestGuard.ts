import { Readable } from "node:stream"
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

/** A rejection by the edge, in the API's JSON error shape (written by the app and the fast lane alike). */
export interface GuardAnswer {
  readonly status: number
  readonly body: { readonly _tag: string; readonly message: string } & Record<string, unknown>
}

const answer = (
  status: number,
  _tag: string,
  message: string,
  extra: Record<string, unknown> = {}
): GuardAnswer => ({
  status,
  body: { _tag, message, ...extra }
})

export const guardAnswers = {
  tooLarge: (limit: number) =>
    answer(413, "PayloadTooLargeError", `request body is larger than ${limit} bytes`, { limit_bytes: limit }),
  notJson: answer(400, "InputInvalidError", "request body must be application/json"),
  unreadable: answer(400, "InputInvalidError", "request body could not be read"),
  invalidJson: answer(400, "InputInvalidError", "request body is not valid JSON"),
  notOctetStream: answer(400, "InputInvalidError", "a relay upload must be application/octet-stream"),
  routeNotFound: answer(404, "RouteNotFoundError", "no such endpoint; see /docs"),
  internal: answer(500, "InternalError", "internal error")
} as const

const respond = (guard: GuardAnswer) => HttpServerResponse.unsafeJson(guard.body, { status: guard.status })

/** A body on an endpoint that takes none: only an empty body or `{}` is accepted. */
export const bodyRejection = (method: string, path: string, text: string): GuardAnswer | undefined => {
  if (!bodylessRoutes.some((r) => r.method === method && r.pattern.test(path))) return undefined
  const trimmed = text.trim()
  return trimmed !== "" && !/^\{\s*\}$/.test(trimmed)
    ? answer(400, "InputInvalidError", `${method} ${path} takes no request body`)
    : undefined
}

const isOctetStream = (contentType: string | undefined) =>
  contentType === undefined || /^application\/octet-stream\s*(;|$)/i.test(contentType.trim())

export const isJsonType = (contentType: string | undefined) =>
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

/**
 * Reads the whole body of a Node request with plain callbacks (no stream machinery per chunk),
 * keeping at most `limit` bytes (`None` when there were more). Like `readCapped`, it drains the rest
 * instead of stopping early. Fails when the request ends without its body (the client went away).
 */
const readBody = (
  request: HttpServerRequest.HttpServerRequest,
  limit: number
): Effect.Effect<Option.Option<Uint8Array>, unknown> => {
  const source = (request as { readonly source?: unknown }).source
  if (!(source instanceof Readable)) return readCapped(request, limit)
  return Effect.async<Option.Option<Uint8Array>, unknown>((resume) => {
    const chunks: Array<Buffer> = []
    let size = 0
    const onData = (chunk: Buffer) => {
      size += chunk.length
      if (size <= limit) chunks.push(chunk)
    }
    const onEnd = () => {
      cleanup()
      resume(
        Effect.succeed(
          size > limit ? Option.none() : Option.some(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks))
        )
      )
    }
    const onError = (error: unknown) => {
      cleanup()
      resume(Effect.fail(error))
    }
    const onClose = () => {
      if (!source.readableEnded) onError(new Error("request closed before its body ended"))
    }
    const cleanup = () => {
      source.off("data", onData)
      source.off("end", onEnd)
      source.off("error", onError)
      source.off("close", onClose)
    }
    source.on("data", onData)
    source.once("end", onEnd)
    source.once("error", onError)
    source.once("close", onClose)
    return Effect.sync(cleanup)
  })
}

const utf8 = new TextDecoder()

/**
 * Makes the request's body reads (`text`, `json`, `urlParamsBody`, `arrayBuffer`, `stream`) answer the
 * already-read `body`, in place: the accessors are prototype getters, shadowed here by own
 * properties, so the request needs no re-providing (no `provideService` per request). Answers the
 * body as text.
 */
const attachBody = (request: HttpServerRequest.HttpServerRequest, body: Uint8Array): string => {
  const text = utf8.decode(body)
  const modify = request.modify.bind(request)
  const decodeFailure = (cause: unknown) =>
    new HttpServerError.RequestError({ request, reason: "Decode", cause })
  Object.defineProperties(request, {
    text: { value: Effect.succeed(text) },
    json: {
      value: Effect.try({
        try: () => (text === "" ? null : (JSON.parse(text) as unknown)),
        catch: decodeFailure
      })
    },
    urlParamsBody: {
      value: Effect.try({
        try: () => UrlParams.fromInput(new URLSearchParams(text)),
        catch: decodeFailure
      })
    },
    arrayBuffer: { value: Effect.sync(() => Uint8Array.prototype.slice.call(body).buffer) },
    stream: { value: Stream.make(body) },
    modify: {
      value: (options: Parameters<HttpServerRequest.HttpServerRequest["modify"]>[0]) => {
        const next = modify(options)
        attachBody(next, body)
        return next
      }
    }
  })
  return text
}

const noBody = new Uint8Array(0)

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
 *   Content-Length) is read to its end with at most the limit kept;
 * - a body that is not `application/json` → 400; malformed JSON → 400;
 * - any body other than empty or `{}` on an endpoint that takes none → 400;
 * - an unknown route → 404; anything unexpected → 500 without internals (the cause is logged).
 *
 * The guard reads every JSON body itself (at most the limit) and attaches it to the request
 * (`attachBody`), so the app never reads the socket through the platform. It runs on every
 * request, so it is plain synchronous checks and at most one asynchronous read.
 *
 * The one exception is a relay upload (`PUT /relay/{relay_id}`): its body is raw bytes
 * (`application/octet-stream`, or no Content-Type), up to the relay's limit by Content-Length (413
 * above it), never read here: the handler streams it, and checks its exact length itself.
 */
export const requestGuard =
  ({ maxJsonBodyBytes, maxRelayBlobBytes }: RequestGuardOptions) =>
  <E, R>(app: HttpApp.Default<E, R>): HttpApp.Default<E, R | HttpServerRequest.HttpServerRequest> =>
    Effect.flatMap(HttpServerRequest.HttpServerRequest, (request): HttpApp.Default<E, R> => {
      const method = request.method
      if (method === "PUT" && relayUpload.test(request.url.split("?")[0]!)) {
        const length = request.headers["content-length"]
        if (length !== undefined && Number(length) > maxRelayBlobBytes) {
          return Effect.succeed(respond(guardAnswers.tooLarge(maxRelayBlobBytes)))
        }
        if (!isOctetStream(request.headers["content-type"])) {
          return Effect.succeed(respond(guardAnswers.notOctetStream))
        }
        return app
      }
      if (method !== "POST" && method !== "PUT" && method !== "PATCH" && method !== "DELETE") return app
      const length = request.headers["content-length"]
      const hasBody =
        (length !== undefined && length !== "0") || request.headers["transfer-encoding"] !== undefined
      if (!hasBody) {
        attachBody(request, noBody)
        return app
      }
      if (length !== undefined && Number(length) > maxJsonBodyBytes) {
        return Effect.succeed(respond(guardAnswers.tooLarge(maxJsonBodyBytes)))
      }
      if (!isJsonType(request.headers["content-type"])) {
        return Effect.succeed(respond(guardAnswers.notJson))
      }
      return Effect.flatMap(Effect.either(readBody(request, maxJsonBodyBytes)), (read) => {
        if (read._tag === "Left") {
          return Effect.succeed(respond(guardAnswers.unreadable))
        }
        if (Option.isNone(read.right)) return Effect.succeed(respond(guardAnswers.tooLarge(maxJsonBodyBytes)))
        const text = attachBody(request, read.right.value)
        const rejected = bodyRejection(method, request.url.split("?")[0]!, text)
        return rejected === undefined ? app : Effect.succeed(respond(rejected))
      })
    }).pipe(
      Effect.catchAllCause((cause) => {
        const failure = Cause.failureOption(cause)
        if (Option.isSome(failure)) {
          const error = failure.value as { _tag?: string }
          return error._tag === "RouteNotFound"
            ? Effect.succeed(respond(guardAnswers.routeNotFound))
            : Effect.failCause(cause)
        }
        const defect = Cause.dieOption(cause)
        if (Option.isSome(defect)) {
          const error = defect.value as { _tag?: string; reason?: string; cause?: unknown }
          if (error._tag === "RequestError" && error.reason === "Decode") {
            return Effect.succeed(respond(guardAnswers.invalidJson))
          }
          return Effect.as(
            Effect.logError("unhandled request failure", cause),
            respond(guardAnswers.internal)
          )
        }
        return Effect.failCause(cause)
      })
    )
