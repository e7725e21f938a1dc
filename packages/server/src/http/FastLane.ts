import type { IncomingMessage, ServerResponse } from "node:http"
import { MarketplaceApi } from "@agent-marketplace/domain/Api"
import { Authentication, CurrentAgent } from "@agent-marketplace/domain/identity/Authentication"
import {
  HttpApi,
  HttpApiBuilder,
  type HttpApiEndpoint,
  HttpApiError,
  HttpApiSchema,
  HttpServerRequest,
  HttpServerResponse
} from "@effect/platform"
import {
  Cause,
  Chunk,
  Context,
  Effect,
  Either,
  Exit,
  FiberRef,
  HashMap,
  Layer,
  Option,
  type ParseResult,
  Runtime,
  Schema,
  type SchemaAST
} from "effect"
import { pendingAllowedOn } from "../identity/AuthenticationLive"
import { Identity } from "../identity/Identity"
import { Metrics, secondsBetween } from "../metrics/Metrics"
import { routeTemplate } from "../metrics/RouteTemplate"
import { SecureRandom } from "../platform/SecureRandom"
import { ServerConfig } from "../platform/ServerConfig"
import { accessLine, clientAddressOf, loggedPath, requestIdFrom } from "./AccessLog"
import { bodyRejection, type GuardAnswer, guardAnswers, isJsonType } from "./RequestGuard"

/**
 * The fast lane: the agent endpoints (those behind `Authentication` alone, with JSON in and out)
 * served straight from the Node request, beside the `HttpApiBuilder` app, with the same contract.
 * See design/performance.md ("The fast lane") for what it shares with the app and what it skips.
 */

type Item = HttpApiBuilder.Handlers.Item<any, any>

/** The handlers each group built, with the context it built them in (filled while the groups build). */
export class LaneHandlers extends Context.Tag("LaneHandlers")<
  LaneHandlers,
  {
    readonly add: (group: string, items: Chunk.Chunk<Item>, context: Context.Context<never>) => void
    readonly get: (
      group: string
    ) => { readonly items: Chunk.Chunk<Item>; readonly context: Context.Context<never> } | undefined
  }
>() {
  static readonly layer = Layer.sync(LaneHandlers, () => {
    const groups = new Map<string, { items: Chunk.Chunk<Item>; context: Context.Context<never> }>()
    return {
      add: (group, items, context) => void groups.set(group, { items, context }),
      get: (group) => groups.get(group)
    }
  })
}

/**
 * Wraps a group's build (`HttpApiBuilder.group(api, name, (handlers) => onLane(Effect.gen(…)))`):
 * the handlers it returns are served by the app as always, and are also handed to the fast lane.
 */
export const onLane = <
  H extends { readonly group: { readonly identifier: string }; readonly handlers: Chunk.Chunk<any> },
  E,
  R
>(
  build: Effect.Effect<H, E, R>
): Effect.Effect<H, E, R | LaneHandlers> =>
  Effect.flatMap(build, (built) =>
    Effect.flatMap(LaneHandlers, (lane) =>
      Effect.map(Effect.context<never>(), (context) => {
        lane.add(built.group.identifier, built.handlers, context)
        return built
      })
    )
  )

/**
 * The fast lane as the Node server sees it: `serve` answers `false` for a request it leaves to the
 * app; `served` counts the requests it took (tests read it to know the lane, not the app, answered).
 */
export class FastLane extends Context.Tag("FastLane")<
  FastLane,
  {
    readonly serve: (request: IncomingMessage, response: ServerResponse) => boolean
    readonly served: () => number
  }
>() {}

type Decoder = (input: unknown) => Either.Either<unknown, ParseResult.ParseError>

interface LaneRoute {
  readonly endpoint: HttpApiEndpoint.HttpApiEndpoint.AnyWithProps
  /** Literal segments, `undefined` for a parameter (its name is in `paramNames`). */
  readonly paramNames: ReadonlyArray<string | undefined>
  readonly decodePath: Decoder | undefined
  readonly decodePayload: Decoder | undefined
  readonly decodeHeaders: Decoder | undefined
  readonly decodeUrlParams: Decoder | undefined
  readonly urlParamsAst: SchemaAST.AST | undefined
  readonly encodeSuccess: (value: unknown) => Either.Either<unknown, ParseResult.ParseError>
  readonly successStatus: number
  readonly successEmpty: boolean
  /** The group's handler; it runs in the group's context (`runtime`), with the caller added. */
  readonly handler: (request: unknown) => Effect.Effect<unknown, unknown>
  readonly uninterruptible: boolean
  /** Behind `Authentication` (the caller is decided and set); `false` for an open read. */
  readonly authenticated: boolean
  readonly allowPending: boolean
  readonly runtime: Runtime.Runtime<never>
}

interface Answer {
  readonly status: number
  readonly headers: Record<string, string>
  readonly body: string | Uint8Array | undefined
}

const decoderOf = (schema: Option.Option<Schema.Schema.Any>): Decoder | undefined =>
  Option.isSome(schema)
    ? (Schema.decodeUnknownEither(schema.value as Schema.Schema<unknown, unknown>) as Decoder)
    : undefined

const jsonAnswer = (status: number, value: unknown): Answer => ({
  status,
  headers: { "content-type": "application/json" },
  body: JSON.stringify(value)
})

const fromGuard = (answer: GuardAnswer): Answer => jsonAnswer(answer.status, answer.body)

/** An `HttpServerResponse` a handler returned (a stored idempotent response) as written bytes. */
const fromResponse = (response: HttpServerResponse.HttpServerResponse): Answer | undefined => {
  const body = response.body
  switch (body._tag) {
    case "Empty":
      return { status: response.status, headers: response.headers, body: undefined }
    case "Uint8Array":
      return { status: response.status, headers: response.headers, body: body.body }
    case "Raw":
      return typeof body.body === "string" || body.body instanceof Uint8Array
        ? { status: response.status, headers: response.headers, body: body.body }
        : undefined
    default:
      return undefined
  }
}

/** The API's error classes, each with its status, in the order `HttpApiBuilder`'s error union has them. */
const errorMembers = (() => {
  const schemas = new Set<Schema.Schema.Any>()
  const api = MarketplaceApi as unknown as HttpApi.HttpApi.AnyWithProps
  HttpApiSchema.deunionize(schemas, api.errorSchema)
  for (const group of Object.values(api.groups)) {
    for (const endpoint of Object.values(group.endpoints))
      HttpApiSchema.deunionize(schemas, endpoint.errorSchema)
    HttpApiSchema.deunionize(schemas, group.errorSchema)
  }
  return Array.from(schemas, (schema) => ({
    is: Schema.is(schema as Schema.Schema<unknown, unknown>),
    encode: Schema.encodeUnknownEither(schema as Schema.Schema<unknown, unknown>),
    status: HttpApiSchema.getStatusErrorAST(schema.ast),
    empty: HttpApiSchema.isVoid(schema.ast)
  }))
})()

/** A typed failure as the API encodes it, or `undefined` when no error schema of the API takes it. */
const encodeError = (error: unknown): Answer | undefined => {
  for (const member of errorMembers) {
    if (!member.is(error)) continue
    const encoded = member.encode(error)
    if (Either.isLeft(encoded)) return undefined
    return member.empty
      ? { status: member.status, headers: {}, body: undefined }
      : jsonAnswer(member.status, encoded.right)
  }
  return undefined
}

const internalError = fromGuard(guardAnswers.internal)

/**
 * Which endpoints ride the lane: behind `Authentication` and nothing else, or an open `GET` (no
 * middleware: the directory and discovery); a JSON payload or none, one JSON success schema, no
 * full-request handler. The rest (registration and the relay's slot creation, which read the raw
 * request, the relay's byte endpoints, admin) are served by the app only.
 */
const laneEndpoints = (() => {
  const out = new Map<
    string,
    { group: string; endpoint: HttpApiEndpoint.HttpApiEndpoint.AnyWithProps; authenticated: boolean }
  >()
  HttpApi.reflect(MarketplaceApi, {
    onGroup: () => {},
    onEndpoint: ({ endpoint, group, middleware, payloads, successes }) => {
      const mw = middleware as ReadonlySet<unknown>
      const jsonPayload = payloads.size === 0 || (payloads.size === 1 && payloads.has("application/json"))
      const jsonSuccess =
        successes.size === 1 &&
        Array.from(successes.values()).every(
          (s) => Option.isNone(s.ast) || HttpApiSchema.getEncoding(s.ast.value).kind === "Json"
        )
      const authenticated = mw.size === 1 && mw.has(Authentication)
      const openRead = mw.size === 0 && endpoint.method === "GET"
      if ((authenticated || openRead) && jsonPayload && jsonSuccess) {
        out.set(`${endpoint.method} ${endpoint.path}`, {
          group: group.identifier,
          endpoint: endpoint as unknown as HttpApiEndpoint.HttpApiEndpoint.AnyWithProps,
          authenticated
        })
      }
    }
  })
  return out
})()

/**
 * `HttpApiBuilder`'s own query normalisation (a lone value for an array-typed key becomes an array),
 * so the lane decodes query strings exactly as the app does. It is exported at runtime but not typed.
 */
const normalizeUrlParams = (
  HttpApiBuilder as unknown as {
    readonly normalizeUrlParams: (
      params: Readonly<Record<string, string | Array<string>>>,
      ast: SchemaAST.AST
    ) => Readonly<Record<string, string | Array<string>>>
  }
).normalizeUrlParams
if (typeof normalizeUrlParams !== "function") throw new Error("HttpApiBuilder.normalizeUrlParams is missing")

const bodyMethods = new Set(["POST", "PUT", "PATCH", "DELETE"])

export const FastLaneLive = Layer.effect(
  FastLane,
  Effect.gen(function* () {
    // The app (and with it every group's handlers) is built before the lane.
    yield* HttpApi.Api
    const registry = yield* LaneHandlers
    const identity = yield* Identity
    const metrics = yield* Metrics
    const random = yield* SecureRandom
    const config = yield* ServerConfig
    const clock = yield* Effect.clock
    const base = yield* Effect.runtime<never>()
    const maxBody = config.maxJsonBodyBytes

    const routes = new Map<string, LaneRoute>()
    for (const [key, { group, endpoint, authenticated }] of laneEndpoints) {
      const built = registry.get(group)
      if (built === undefined) continue
      const item = Chunk.findFirst(built.items, (i) => i.endpoint.name === endpoint.name)
      if (Option.isNone(item) || item.value.withFullRequest) continue
      const success = new Set<Schema.Schema.Any>()
      HttpApiSchema.deunionize(success, endpoint.successSchema)
      const [successSchema] = Array.from(success)
      if (success.size !== 1 || successSchema === undefined) continue
      routes.set(key, {
        endpoint,
        paramNames: endpoint.path
          .split("/")
          .slice(1)
          .map((s) => (s.startsWith(":") ? s.slice(1) : undefined)),
        decodePath: decoderOf(endpoint.pathSchema),
        decodePayload: decoderOf(endpoint.payloadSchema),
        decodeHeaders: decoderOf(endpoint.headersSchema),
        decodeUrlParams: decoderOf(endpoint.urlParamsSchema),
        urlParamsAst: Option.getOrUndefined(Option.map(endpoint.urlParamsSchema, (s) => s.ast)),
        encodeSuccess: Schema.encodeUnknownEither(successSchema as Schema.Schema<unknown, unknown>),
        successStatus: HttpApiSchema.getStatusSuccessAST(successSchema.ast),
        successEmpty: HttpApiSchema.isVoid(successSchema.ast),
        handler: item.value.handler as (request: unknown) => Effect.Effect<unknown, unknown>,
        uninterruptible: item.value.uninterruptible,
        authenticated,
        allowPending: pendingAllowedOn(endpoint.path),
        runtime: Runtime.make({
          context: Context.merge(base.context, built.context),
          fiberRefs: base.fiberRefs,
          runtimeFlags: base.runtimeFlags
        })
      })
    }

    /**
     * The caller, decided exactly as `AuthenticationLive` decides an unsigned request; an open read
     * has none (`undefined`).
     */
    const authenticate = (route: LaneRoute, authorization: string) => {
      if (!route.authenticated) return Effect.void
      const allowPending = route.allowPending
      return Effect.catchAll(
        identity.authenticate(authorization.slice("Bearer ".length), { allowPending }),
        () => identity.authenticate(authorization.replace(/^Bearer /, ""), { allowPending })
      )
    }

    const decodeFailed = (error: ParseResult.ParseError) =>
      Effect.flatMap(HttpApiError.HttpApiDecodeError.fromParseError(error), Effect.fail)

    /** Decode, authorise, handle and encode, in `HttpApiBuilder`'s order. */
    const answer = (
      route: LaneRoute,
      request: IncomingMessage,
      path: string,
      query: string,
      text: string | undefined
    ): Effect.Effect<Answer, unknown> =>
      Effect.flatMap(authenticate(route, request.headers.authorization ?? ""), (agent_id) =>
        Effect.suspend(() => {
          const input: Record<string, unknown> = {}
          if (route.decodePath !== undefined) {
            const parts = path.split("/").slice(1)
            const params: Record<string, string> = {}
            route.paramNames.forEach((name, i) => {
              if (name !== undefined) params[name] = decodeURIComponent(parts[i]!)
            })
            const decoded = route.decodePath(params)
            if (Either.isLeft(decoded)) return decodeFailed(decoded.left)
            input.path = decoded.right
          }
          if (route.decodePayload !== undefined) {
            let json: unknown
            try {
              json = text === undefined || text === "" ? null : JSON.parse(text)
            } catch {
              return Effect.succeed(fromGuard(guardAnswers.invalidJson))
            }
            const decoded = route.decodePayload(json)
            if (Either.isLeft(decoded)) return decodeFailed(decoded.left)
            input.payload = decoded.right
          }
          if (route.decodeHeaders !== undefined) {
            const decoded = route.decodeHeaders(request.headers)
            if (Either.isLeft(decoded)) return decodeFailed(decoded.left)
            input.headers = decoded.right
          }
          if (route.decodeUrlParams !== undefined) {
            const params = normalizeUrlParams(
              // Parsed as the app parses it (a repeated key becomes an array).
              HttpServerRequest.searchParamsFromURL(new URL(`?${query}`, "http://lane")),
              route.urlParamsAst!
            )
            const decoded = route.decodeUrlParams(params)
            if (Either.isLeft(decoded)) return decodeFailed(decoded.left)
            input.urlParams = decoded.right
          }
          const handled =
            agent_id === undefined
              ? route.handler(input)
              : Effect.zipRight(
                  // This fiber serves this one request: the caller is set in its context, not scoped.
                  FiberRef.update(FiberRef.currentContext, (context) =>
                    Context.add(context, CurrentAgent, { agent_id, credential: "bearer" })
                  ),
                  route.handler(input)
                )
          return Effect.flatMap(
            route.uninterruptible ? Effect.uninterruptible(handled) : handled,
            (result) => {
              if (HttpServerResponse.isServerResponse(result)) {
                const written = fromResponse(result)
                return written === undefined
                  ? Effect.die(new Error("unsupported response body"))
                  : Effect.succeed(written)
              }
              const encoded = route.encodeSuccess(result)
              if (Either.isLeft(encoded)) return decodeFailed(encoded.left)
              return Effect.succeed(
                route.successEmpty
                  ? { status: route.successStatus, headers: {}, body: undefined }
                  : jsonAnswer(route.successStatus, encoded.right)
              )
            }
          )
        })
      ).pipe(
        Effect.catchAllCause((cause): Effect.Effect<Answer, unknown> => {
          const failure = Cause.failureOption(cause)
          if (Option.isSome(failure)) {
            const encoded = encodeError(failure.value)
            if (encoded !== undefined) return Effect.succeed(encoded)
          } else if (Cause.isInterruptedOnly(cause)) {
            return Effect.failCause(cause)
          }
          return Effect.as(Effect.logError("unhandled request failure", cause), internalError)
        })
      )

    const write = (response: ServerResponse, result: Answer, requestId: string) => {
      if (response.writableEnded || response.destroyed) return
      const headers: Record<string, string | number> = { ...result.headers, "x-request-id": requestId }
      if (result.body !== undefined) headers["content-length"] = Buffer.byteLength(result.body)
      response.writeHead(result.status, headers)
      response.end(result.body)
    }

    /**
     * One request in one fiber: request id (annotating every log line), the answer, then the
     * metrics and the access line for its final status, then the bytes.
     */
    const run = (
      route: LaneRoute,
      template: string,
      request: IncomingMessage,
      response: ServerResponse,
      produce: Effect.Effect<Answer, unknown>
    ) => {
      const started = clock.unsafeCurrentTimeNanos()
      const startedMs = clock.unsafeCurrentTimeMillis()
      const method = request.method!
      const url = request.url!
      const program = Effect.flatMap(requestIdFrom(request.headers, random), (requestId) =>
        Effect.zipRight(
          FiberRef.update(FiberRef.currentLogAnnotations, HashMap.set("request_id", requestId as unknown)),
          Effect.flatMap(produce, (result) => {
            const observed = metrics.observeRequest(
              { method, route: template, status: result.status },
              secondsBetween(started, clock.unsafeCurrentTimeNanos())
            )
            const logged = config.accessLog
              ? Effect.zipRight(
                  observed,
                  accessLine({
                    requestId,
                    method,
                    path: loggedPath(url),
                    status: result.status,
                    durationMs: clock.unsafeCurrentTimeMillis() - startedMs,
                    client: clientAddressOf(request.headers, request.socket.remoteAddress, config.trustProxy)
                  })
                )
              : observed
            return Effect.zipRight(
              logged,
              Effect.sync(() => write(response, result, requestId))
            )
          })
        )
      )
      const fiber = Runtime.runFork(route.runtime)(program)
      fiber.addObserver((exit) => {
        if (Exit.isFailure(exit) && !Cause.isInterruptedOnly(exit.cause) && !response.headersSent) {
          response.writeHead(500, { "content-type": "application/json" }).end(internalError.body)
        }
      })
      response.on("close", () => {
        if (!response.writableEnded) fiber.unsafeInterruptAsFork(fiber.id())
      })
    }

    let served = 0
    const serve = (request: IncomingMessage, response: ServerResponse): boolean => {
      const method = request.method ?? ""
      const url = request.url ?? ""
      const template = routeTemplate(method, url)
      const route = routes.get(`${method} ${template}`)
      if (route === undefined) return false
      const headers = request.headers
      // Left to the app: signed requests (verified over the raw request) and bodies that are not JSON.
      if (
        headers.signature !== undefined ||
        headers["signature-input"] !== undefined ||
        !isJsonType(headers["content-type"])
      )
        return false
      const queryAt = url.indexOf("?")
      const path = queryAt === -1 ? url : url.slice(0, queryAt)
      const query = queryAt === -1 ? "" : url.slice(queryAt + 1)
      for (const part of path.split("/")) {
        // A parameter the router would decode differently (or not at all) is left to it.
        if (part.includes("%")) {
          try {
            decodeURIComponent(part)
          } catch {
            return false
          }
        }
      }
      served++
      const reply = (answer: GuardAnswer) =>
        run(route, template, request, response, Effect.succeed(fromGuard(answer)))
      if (!bodyMethods.has(method)) {
        run(route, template, request, response, answer(route, request, path, query, undefined))
        return true
      }
      const length = headers["content-length"]
      const hasBody = (length !== undefined && length !== "0") || headers["transfer-encoding"] !== undefined
      if (!hasBody) {
        run(route, template, request, response, answer(route, request, path, query, ""))
        return true
      }
      if (length !== undefined && Number(length) > maxBody) {
        reply(guardAnswers.tooLarge(maxBody))
        return true
      }
      // The body, read with plain callbacks and at most the limit kept (the rest is drained).
      const chunks: Array<Buffer> = []
      let size = 0
      let done = false
      const finish = (thunk: () => void) => {
        if (done) return
        done = true
        thunk()
      }
      request.on("data", (chunk: Buffer) => {
        size += chunk.length
        if (size <= maxBody) chunks.push(chunk)
      })
      request.once("end", () =>
        finish(() => {
          if (size > maxBody) return reply(guardAnswers.tooLarge(maxBody))
          const text = (chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)).toString("utf8")
          const rejected = bodyRejection(method, path, text)
          if (rejected !== undefined) return reply(rejected)
          run(route, template, request, response, answer(route, request, path, query, text))
        })
      )
      const failed = () => finish(() => reply(guardAnswers.unreadable))
      request.once("error", failed)
      request.once("close", () => {
        if (!request.readableEnded) failed()
      })
      return true
    }

    return { serve, served: () => served }
  })
)
