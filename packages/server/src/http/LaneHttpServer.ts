import type { Server } from "node:http"
import { createServer } from "node:http"
import type { ListenOptions } from "node:net"
import { HttpServer } from "@effect/platform"
import { NodeHttpClient, NodeHttpServer } from "@effect/platform-node"
import { Effect, Layer, Option } from "effect"
import { FastLane } from "./FastLane"

/**
 * `NodeHttpServer`, with the fast lane in front of the app: each Node request goes to
 * `FastLane.serve` first (when a `FastLane` is provided where the app is served) and to the app's
 * handler when the lane leaves it. Listening, closing and the app's handler are `NodeHttpServer`'s own.
 */
const make = (evaluate: () => Server, options: ListenOptions) =>
  Effect.gen(function* () {
    let node: Server | undefined
    const inner = yield* NodeHttpServer.make(() => {
      node = evaluate()
      return node
    }, options)
    const server = node!
    return HttpServer.make({
      address: inner.address,
      serve: (app, middleware) =>
        Effect.gen(function* () {
          const lane = yield* Effect.serviceOption(FastLane)
          const handler = yield* NodeHttpServer.makeHandler(app, middleware!)
          const listener = Option.match(lane, {
            onNone: () => handler,
            onSome:
              (lane): typeof handler =>
              (request, response) => {
                if (!lane.serve(request, response)) handler(request, response)
              }
          })
          yield* Effect.addFinalizer(() => Effect.sync(() => server.off("request", listener)))
          server.on("request", listener)
        })
    })
  })

export const layer = (evaluate: () => Server, options: ListenOptions) =>
  Layer.mergeAll(Layer.scoped(HttpServer.HttpServer, make(evaluate, options)), NodeHttpServer.layerContext)

/** As `NodeHttpServer.layerTest`: port 0, and an `HttpClient` whose relative URLs go to it. */
export const layerTest = HttpServer.layerTestClient.pipe(
  Layer.provide(NodeHttpClient.layerWithoutAgent),
  Layer.provide(NodeHttpClient.makeAgentLayer({ keepAlive: false })),
  Layer.provideMerge(layer(createServer, { port: 0 }))
)
