import { MarketplaceApi } from "@agent-marketplace/domain/Api"
import { AgentId } from "@agent-marketplace/domain/shared/Ids"
import { HttpApiClient, HttpClient, HttpClientRequest, HttpServer } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { type Duration, Effect, Layer, TestClock } from "effect"
import { Sweeper } from "../../src/heartbeat/Heartbeat"
import * as LaneHttpServer from "../../src/http/LaneHttpServer"
import { ServerConfig, type ServerConfigShape } from "../../src/platform/ServerConfig"
import { AppLive } from "../../src/ServerLive"
import { memoryCase, type StoreCase } from "./Stores"

/** A fixed, realistic start instant for the TestClock. */
export const START = Date.parse("2026-01-01T00:00:00.000Z")

/**
 * How requests are served: `"lane"` is production's (the fast lane in front of the app), `"app"` the
 * `HttpApiBuilder` app alone (the reference the lane is compared with).
 */
export type Serving = "lane" | "app"

/**
 * The whole application on a fresh store (memory by default), served by a real Node server on port 0
 * with the fast lane in front, as in production (or the app alone).
 */
export const makeServer = (
  overrides: Partial<ServerConfigShape> = {},
  store: StoreCase = memoryCase,
  serving: Serving = "lane"
) =>
  AppLive(store.layer()).pipe(
    Layer.provideMerge(serving === "lane" ? LaneHttpServer.layerTest : NodeHttpServer.layerTest),
    Layer.provideMerge(ServerConfig.layerTest(overrides))
  )

export type ServerServices = Layer.Layer.Success<ReturnType<typeof makeServer>>

/**
 * Sets the TestClock first, then builds the server inside the test's scope, so the sweeper sleeps on
 * the TestClock.
 */
export const withServer = <A, E>(
  body: Effect.Effect<A, E, ServerServices>,
  overrides: Partial<ServerConfigShape> = {},
  store: StoreCase = memoryCase
) =>
  Effect.gen(function* () {
    yield* TestClock.setTime(START)
    return yield* body.pipe(Effect.provide(makeServer(overrides, store)))
  })

/**
 * Moves the TestClock forward and waits until every sweep that came due has finished its store work
 * (on Postgres a sweep is real I/O that outlives `TestClock.adjust`).
 */
export const advance = (duration: Duration.DurationInput) =>
  Effect.gen(function* () {
    const sweeper = yield* Sweeper
    yield* TestClock.adjust(duration)
    yield* sweeper.idle
  })

let keyCounter = 0
/** A fresh idempotency key. */
export const freshKey = () => `key-${Date.now()}-${++keyCounter}`
/** Headers of a mutation with a fresh idempotency key. */
export const idem = () => ({ "idempotency-key": freshKey() })

/** The unauthenticated client. */
export const anonClient = HttpApiClient.make(MarketplaceApi)

/** A client that presents `token` as a bearer credential. */
export const clientFor = (token: string) =>
  HttpApiClient.make(MarketplaceApi, {
    transformClient: HttpClient.mapRequest(HttpClientRequest.bearerToken(token))
  })

/** Registers an agent and returns its id, token and an authenticated client. */
export const registerAgent = (rawId: string) =>
  Effect.gen(function* () {
    const agentId = AgentId.make(rawId)
    const anon = yield* anonClient
    const res = yield* anon.agents.register({ headers: {}, payload: { agent_id: agentId } })
    const token = res.token!
    const client = yield* clientFor(token)
    return { id: agentId, token, client }
  })

export type AgentHandle = Effect.Effect.Success<ReturnType<typeof registerAgent>>

/** The base URL of the test server (for raw `fetch`). */
export const serverUrl = Effect.gen(function* () {
  const server = yield* HttpServer.HttpServer
  const address = server.address
  if (address._tag !== "TcpAddress") return yield* Effect.dieMessage("not a TCP server")
  return `http://127.0.0.1:${address.port}`
})

export const available = (agent: AgentHandle) =>
  Effect.map(agent.client.settlement.balance(), (b) => b.available)

/** Whether `agentId` is alive according to the public directory. */
export const isAlive = (agentId: string) =>
  Effect.gen(function* () {
    const anon = yield* anonClient
    const page = yield* anon.agents.list({ urlParams: { limit: 1000 } })
    const listing = page.items.find((a) => a.agent_id === agentId)
    return listing?.alive ?? false
  })
