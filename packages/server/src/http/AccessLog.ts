import { HttpApp, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Clock, Effect, FiberRef, HashMap, Option } from "effect"
import { SecureRandom } from "../platform/SecureRandom"

/** A caller-supplied request id is kept when it is short and plain; otherwise the server makes one. */
const acceptedRequestId = /^[A-Za-z0-9._:-]{1,128}$/

/** The client address: the socket peer, or the first `X-Forwarded-For` hop behind a trusted proxy. */
export const clientAddressOf = (
  headers: Readonly<Record<string, string | ReadonlyArray<string> | undefined>>,
  remoteAddress: string | undefined,
  trustProxy: boolean
): string => {
  if (trustProxy) {
    const forwarded = headers["x-forwarded-for"]
    const first = (typeof forwarded === "string" ? forwarded : forwarded?.[0])?.split(",")[0]?.trim()
    if (first !== undefined && first !== "") return first
  }
  return remoteAddress ?? "unknown"
}

export const clientAddress = (request: HttpServerRequest.HttpServerRequest, trustProxy: boolean): string =>
  clientAddressOf(request.headers, Option.getOrUndefined(request.remoteAddress), trustProxy)

/**
 * The path as logged: without its query string, and with a relay slot's id replaced by
 * `:relay_id`. Slot ids never reach the logs: beside the client address of each line they would
 * link an uploader to its downloaders.
 */
export const loggedPath = (url: string): string =>
  url.split("?")[0]!.replace(/^\/relay\/[^/]+/, "/relay/:relay_id")

/** The request's id: the caller's `X-Request-Id` when it is short and plain, else a fresh one. */
export const requestIdFrom = (
  headers: Readonly<Record<string, string | ReadonlyArray<string> | undefined>>,
  random: SecureRandom["Type"]
): Effect.Effect<string> => {
  const given = headers["x-request-id"]
  return typeof given === "string" && acceptedRequestId.test(given) ? Effect.succeed(given) : random.hex(8)
}

/** One access line (`AGENT_MARKETPLACE_ACCESS_LOG`): no query string, no body, no credential. */
export const accessLine = (line: {
  readonly requestId: string
  readonly method: string
  readonly path: string
  readonly status: number
  readonly durationMs: number
  readonly client: string
}) =>
  Effect.logInfo("request").pipe(
    Effect.annotateLogs({
      request_id: line.requestId,
      method: line.method,
      path: line.path,
      status: line.status,
      duration_ms: line.durationMs,
      client: line.client
    })
  )

/**
 * The outermost middleware: gives every request an id (`X-Request-Id`, echoed on the response),
 * annotates every log line written while serving it with `request_id`, and, when
 * `AGENT_MARKETPLACE_ACCESS_LOG` is on, writes one JSON access line per request: method, route path
 * (no query string, no body, no credential), status, duration, client address.
 *
 * It runs on every request, so it sets the request fiber's log annotations and pre-response handler
 * directly (`FiberRef.update`: the fiber serves this one request and ends with it) instead of scoping
 * them (`annotateLogs`/`locally` save and restore around the app), and reads the clock only when the
 * access log is on.
 */
export const accessLog = (options: { readonly enabled: boolean; readonly trustProxy: boolean }) =>
  Effect.map(
    SecureRandom,
    (random) =>
      <E, R>(app: HttpApp.Default<E, R>): HttpApp.Default<E, R | HttpServerRequest.HttpServerRequest> => {
        const serve = (request: HttpServerRequest.HttpServerRequest, requestId: string, started: number) => {
          const path = loggedPath(request.url)
          const logLine = (status: number) =>
            Effect.flatMap(Clock.currentTimeMillis, (now) =>
              accessLine({
                requestId,
                method: request.method,
                path,
                status,
                durationMs: now - started,
                client: clientAddress(request, options.trustProxy)
              })
            )
          // Runs on the final response, after errors have been encoded, just before it is written.
          const preResponse = HttpApp.appendPreResponseHandler((_request, response) => {
            const tagged = HttpServerResponse.setHeader(response, "x-request-id", requestId)
            return options.enabled ? Effect.as(logLine(response.status), tagged) : Effect.succeed(tagged)
          })
          return Effect.zipRight(
            Effect.zipRight(
              FiberRef.update(
                FiberRef.currentLogAnnotations,
                HashMap.set("request_id", requestId as unknown)
              ),
              preResponse
            ),
            app
          )
        }
        return Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) =>
          Effect.flatMap(requestIdFrom(request.headers, random), (requestId) =>
            options.enabled
              ? Effect.flatMap(Clock.currentTimeMillis, (started) => serve(request, requestId, started))
              : serve(request, requestId, 0)
          )
        )
      }
  )
