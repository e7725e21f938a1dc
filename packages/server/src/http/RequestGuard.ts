import { MarketplaceApi } from "@agent-marketplace/domain/Api"
import { HttpApi, type HttpApp, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Cause, Effect, Option } from "effect"

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

const json = (status: number, tag: string, message: string, extra: Record<string, unknown> = {}) =>
  HttpServerResponse.unsafeJson({ _tag: tag, message, ...extra }, { status })

const isJsonType = (contentType: string | undefined) =>
  contentType === undefined || /^application\/([a-z.+-]+\+)?json\b/i.test(contentType.trim())

/**
 * The HTTP edge of the JSON API. Every rejection is the JSON error shape, including those the
 * framework would answer with an empty body:
 * - a JSON body over the size limit → 413 (by Content-Length before reading, and while reading);
 * - a body that is not `application/json` → 400; malformed JSON → 400;
 * - any body other than empty or `{}` on an endpoint that takes none → 400;
 * - an unknown route → 404; anything unexpected → 500 without internals (the cause is logged).
 */
export const requestGuard =
  (maxJsonBodyBytes: number) =>
  <E, R>(app: HttpApp.Default<E, R>): HttpApp.Default<E, R | HttpServerRequest.HttpServerRequest> =>
    Effect.gen(function* () {
      const request = yield* HttpServerRequest.HttpServerRequest
      const method = request.method
      if (method === "POST" || method === "PUT" || method === "PATCH" || method === "DELETE") {
        const length = request.headers["content-length"]
        const hasBody =
          (length !== undefined && length !== "0") || request.headers["transfer-encoding"] !== undefined
        if (length !== undefined && Number(length) > maxJsonBodyBytes) {
          return json(413, "PayloadTooLargeError", `request body is larger than ${maxJsonBodyBytes} bytes`, {
            limit_bytes: maxJsonBodyBytes
          })
        }
        if (hasBody && !isJsonType(request.headers["content-type"])) {
          return json(400, "InputInvalidError", "request body must be application/json")
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
      return yield* app.pipe(HttpServerRequest.withMaxBodySize(Option.some(maxJsonBodyBytes)))
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
          const error = defect.value as {
            _tag?: string
            reason?: string
            cause?: unknown
            description?: string
          }
          if (error._tag === "RequestError" && error.reason === "Decode") {
            const tooLarge = /max|large|limit/i.test(String(error.cause ?? error.description ?? ""))
            return Effect.succeed(
              tooLarge
                ? json(413, "PayloadTooLargeError", `request body is larger than ${maxJsonBodyBytes} bytes`, {
                    limit_bytes: maxJsonBodyBytes
                  })
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
