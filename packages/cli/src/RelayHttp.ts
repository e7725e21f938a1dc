import { HttpClient } from "@effect/platform"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { Context, Layer } from "effect"

/**
 * The platform `HttpClient` relay calls use: `node:http` (`NodeHttpClient`), not the global fetch the
 * other commands use. undici's fetch keeps every chunk of a streamed request body until the request
 * ends (a 150 MiB upload peaked at 230 MB RSS) and drops nothing it was given, while `node:http`
 * writes with backpressure and sends the `Content-Length` the relay requires on a streamed body.
 */
export class RelayHttp extends Context.Tag("cli/RelayHttp")<RelayHttp, HttpClient.HttpClient>() {
  static readonly layer = Layer.effect(RelayHttp, HttpClient.HttpClient).pipe(
    Layer.provide(NodeHttpClient.layer)
  )
}
