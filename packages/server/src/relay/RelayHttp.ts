import { MarketplaceApi } from "@agent-marketplace/domain/Api"
import { RelayRateLimit } from "@agent-marketplace/domain/relay/RelayApi"
import { InputInvalidError } from "@agent-marketplace/domain/shared/Errors"
import { HttpApiBuilder, HttpApp, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Effect, Layer, Option } from "effect"
import { clientAddress } from "../http/AccessLog"
import { ServerConfig } from "../platform/ServerConfig"
import { Relay } from "./Relay"

/** The request's `Content-Length`, when it has one. */
const declaredLength = (request: HttpServerRequest.HttpServerRequest): Option.Option<number> => {
  const value = request.headers["content-length"]
  return value === undefined ? Option.none() : Option.some(/^\d{1,16}$/.test(value) ? Number(value) : -1)
}

/**
 * The relay's handlers. Upload and download are raw: the upload's body is streamed from the request
 * into the blob backend (never decoded or buffered whole), the download streams the blob into the
 * response with its Content-Length.
 */
export const RelayHttp = HttpApiBuilder.group(MarketplaceApi, "relay", (handlers) =>
  Effect.gen(function* () {
    const relay = yield* Relay
    const config = yield* ServerConfig
    return handlers
      .handle("create", ({ payload, request }) =>
        relay.create(payload, clientAddress(request, config.trustProxy))
      )
      .handleRaw("upload", ({ path, headers, request }) =>
        relay
          .upload(path.relay_id, headers["relay-token"], declaredLength(request), request.stream)
          .pipe(
            Effect.catchTag("RequestError", () =>
              Effect.fail(new InputInvalidError({ message: "the upload body could not be read to its end" }))
            )
          )
      )
      .handleRaw("download", ({ path, headers }) =>
        Effect.map(relay.download(path.relay_id, headers["relay-token"]), (download) =>
          HttpServerResponse.stream(download.bytes, {
            contentType: "application/octet-stream",
            contentLength: download.size_bytes,
            headers: { "cache-control": "no-store" }
          })
        )
      )
      .handle("delete", ({ path, headers }) =>
        relay.remove(path.relay_id, headers["relay-token"], headers["admin-token"])
      )
  })
)

/**
 * The rate limit on slot creation, per client address (the trusted proxy's first hop when
 * `AGENT_MARKETPLACE_TRUST_PROXY=true`). Runs before the body is decoded; a 429 carries
 * `Retry-After` as well as `retry_after_secs`.
 */
export const RelayRateLimitLive = Layer.effect(
  RelayRateLimit,
  Effect.gen(function* () {
    const relay = yield* Relay
    const config = yield* ServerConfig
    return Effect.gen(function* () {
      const request = yield* HttpServerRequest.HttpServerRequest
      yield* relay
        .admit(clientAddress(request, config.trustProxy))
        .pipe(
          Effect.tapError((error) =>
            HttpApp.appendPreResponseHandler((_request, response) =>
              Effect.succeed(
                response.status === 429
                  ? HttpServerResponse.setHeader(response, "retry-after", String(error.retry_after_secs))
                  : response
              )
            )
          )
        )
    })
  })
)
