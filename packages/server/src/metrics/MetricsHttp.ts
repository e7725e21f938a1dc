import { HttpApiBuilder, HttpApp, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Clock, Effect, Option, Redacted } from "effect"
import { secretsEqual } from "../platform/SecureRandom"
import { ServerConfig } from "../platform/ServerConfig"
import { Metrics, secondsBetween } from "./Metrics"
import { MetricsRepo } from "./MetricsRepo"
import { routeTemplate } from "./RouteTemplate"

/**
 * Times every request and counts it by method, route template and final status. It wraps the
 * request guard (so the guard's 400/413 and unknown routes' 404 are counted too) and records in a
 * pre-response handler, after errors have been encoded: the status is the one written.
 */
export const requestMetrics = Effect.map(
  Metrics,
  (metrics) =>
    <E, R>(app: HttpApp.Default<E, R>): HttpApp.Default<E, R | HttpServerRequest.HttpServerRequest> =>
      // On every request, so kept to a few steps: the clock is read synchronously (it is still the
      // fiber's `Clock`, a TestClock in tests).
      Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) =>
        Clock.clockWith((clock) => {
          const started = clock.unsafeCurrentTimeNanos()
          const route = routeTemplate(request.method, request.url)
          return Effect.zipRight(
            HttpApp.appendPreResponseHandler((_request, response) =>
              Effect.as(
                metrics.observeRequest(
                  { method: request.method, route, status: response.status },
                  secondsBetween(started, clock.unsafeCurrentTimeNanos())
                ),
                response
              )
            ),
            app
          )
        })
      )
)

const unauthorized = (message: string) =>
  HttpServerResponse.unsafeJson(
    { _tag: "AuthenticationFailedError", message },
    { status: 401, headers: { "www-authenticate": 'Bearer realm="metrics"' } }
  )

/**
 * `GET /metrics`: the Prometheus text exposition (`text/plain; version=0.0.4`), served beside the
 * HttpApi like `/openapi.json` (it is not part of the JSON contract). Open, unless
 * `AGENT_MARKETPLACE_METRICS_TOKEN` is set: then `Authorization: Bearer <that token>` (compared in
 * constant time) or a JSON 401. The store-wide gauges are read from the store on every scrape.
 */
export const MetricsRouteLive = HttpApiBuilder.Router.use((router) =>
  Effect.gen(function* () {
    const metrics = yield* Metrics
    const repo = yield* MetricsRepo
    const config = yield* ServerConfig
    yield* router.get(
      "/metrics",
      Effect.gen(function* () {
        if (Option.isSome(config.metricsToken)) {
          const request = yield* HttpServerRequest.HttpServerRequest
          const header = request.headers.authorization ?? ""
          if (!/^bearer /i.test(header)) {
            return unauthorized("missing credential: send Authorization: Bearer <metrics token>")
          }
          if (!secretsEqual(header.slice(7), Redacted.value(config.metricsToken.value))) {
            return unauthorized("wrong metrics token")
          }
        }
        const state = yield* repo.snapshot(yield* Clock.currentTimeMillis)
        const text = yield* metrics.scrape(state)
        return HttpServerResponse.text(text, { contentType: Metrics.contentType })
      })
    )
  })
)
