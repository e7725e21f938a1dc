import { MarketplaceApi } from "@agent-marketplace/domain/Api"
import { type RequestSigner, signingClient } from "@agent-marketplace/domain/identity/SignedClient"
import {
  type HttpApi,
  HttpApiClient,
  HttpClient,
  HttpClientError,
  HttpClientRequest,
  HttpClientResponse
} from "@effect/platform"
import { Context, Data, Duration, Effect, Option, ParseResult, Ref } from "effect"
import {
  ServerFailedError,
  ServerUnreachableError,
  UnexpectedResponseError,
  UntypedServerError,
  UsageError
} from "./Errors"
import { note, Output } from "./Output"
import { RetryPolicy } from "./RetryPolicy"

/** The typed client of the one HttpApi. */
export type MarketplaceClient =
  typeof MarketplaceApi extends HttpApi.HttpApi<infer _Id, infer Groups, infer ApiError, infer _R>
    ? HttpApiClient.Client<Groups, ApiError, never>
    : never

export interface ClientOptions {
  readonly server: string
  /** Sent as `Authorization: Bearer …` on every request when present. */
  readonly token: Option.Option<string>
  /** Sent as `Admin-Token: …` on every request when present (the admin commands). */
  readonly adminToken?: Option.Option<string> | undefined
  /**
   * A key-bound agent's signer: every request is signed right before each attempt is sent (so a
   * retry carries a fresh `created` and nonce), over the exact bytes sent.
   */
  readonly signer?: Option.Option<RequestSigner> | undefined
  /** Retry network failures, 5xx and 409 IdempotencyInProgressError (default true). */
  readonly retry?: boolean
  /** The idempotency key of this invocation, reported when the outcome is unknown. */
  readonly idempotencyKey?: string | undefined
  /** Bound for one attempt, when shorter than the policy's (the daemon: one interval). */
  readonly attemptTimeout?: Duration.Duration | undefined
}

interface LastAnswer {
  readonly url: string
  readonly status: number
  readonly body: string
}

/**
 * Where the transport records the last answer of the call in progress (provided per call, so
 * concurrent calls of one client — the daemon's heartbeat and poll loops — never mix them up).
 */
class CurrentAnswer extends Context.Tag("cli/CurrentAnswer")<
  CurrentAnswer,
  Ref.Ref<Option.Option<LastAnswer>>
>() {}

/** An answer that is worth asking again for (5xx, 429, 409 IdempotencyInProgressError). */
class RetryableAnswer extends Data.TaggedError("RetryableAnswer")<{
  readonly response: HttpClientResponse.HttpClientResponse
  readonly body: string
}> {}

const NULL_BODY_STATUSES = new Set([101, 204, 205, 304])

/** Reads the whole body once, so it can be printed verbatim and decoded by HttpApiClient. */
const buffered = (
  request: HttpClientRequest.HttpClientRequest,
  response: HttpClientResponse.HttpClientResponse
) =>
  Effect.map(response.arrayBuffer, (bytes) => {
    const copy = HttpClientResponse.fromWeb(
      request,
      new Response(NULL_BODY_STATUSES.has(response.status) ? null : bytes, {
        status: response.status,
        headers: new Headers(response.headers as Record<string, string>)
      })
    )
    return { response: copy, body: new TextDecoder().decode(bytes) }
  })

const tagOf = (body: string): string | undefined => {
  try {
    const parsed = JSON.parse(body)
    return typeof parsed === "object" && parsed !== null && typeof parsed._tag === "string"
      ? parsed._tag
      : undefined
  } catch {
    return undefined
  }
}

const isRetryableStatus = (status: number, body: string) =>
  status >= 500 || status === 429 || (status === 409 && tagOf(body) === "IdempotencyInProgressError")

const isRetryable = (error: HttpClientError.HttpClientError | RetryableAnswer) =>
  error._tag === "RetryableAnswer" ||
  (error._tag === "RequestError" && error.reason === "Transport") ||
  (error._tag === "ResponseError" && error.reason === "Decode")

const describe = (error: HttpClientError.HttpClientError | RetryableAnswer): string => {
  if (error._tag === "RetryableAnswer") {
    return `HTTP ${error.response.status}${tagOf(error.body) ? ` ${tagOf(error.body)}` : ""}`
  }
  const cause = error.cause as { cause?: { code?: string; message?: string }; message?: string } | undefined
  return cause?.cause?.code ?? cause?.cause?.message ?? error.description ?? cause?.message ?? error.reason
}

/**
 * One invocation's connection to the server: the `HttpApiClient` of `MarketplaceApi` over the
 * platform `HttpClient`, with bearer auth, whole-body buffering and retries of the *same* request
 * (same headers, so the same `Idempotency-Key`) under the injected `RetryPolicy`.
 */
export const makeClient = (options: ClientOptions) =>
  Effect.gen(function* () {
    const policy = yield* RetryPolicy
    const output = yield* Output
    const retry = options.retry ?? true
    const attemptTimeout =
      options.attemptTimeout === undefined
        ? policy.attemptTimeout
        : Duration.min(policy.attemptTimeout, options.attemptTimeout)

    const transport = (client: HttpClient.HttpClient): HttpClient.HttpClient =>
      HttpClient.transform(client, (execute, request) => {
        const attempt = execute.pipe(
          Effect.flatMap((response) => buffered(request, response)),
          Effect.timeoutFail({
            duration: attemptTimeout,
            onTimeout: () =>
              new HttpClientError.RequestError({
                request,
                reason: "Transport",
                description: "no answer in time"
              })
          }),
          Effect.tap(({ response, body }) =>
            Effect.flatMap(Effect.serviceOption(CurrentAnswer), (slot) =>
              Option.isSome(slot)
                ? Ref.set(slot.value, Option.some({ url: request.url, status: response.status, body }))
                : Effect.void
            )
          ),
          Effect.flatMap(({ response, body }) =>
            isRetryableStatus(response.status, body)
              ? Effect.fail(new RetryableAnswer({ response, body }))
              : Effect.succeed(response)
          )
        )
        const withRetries = Effect.gen(function* () {
          const attempts = yield* Ref.make(0)
          return yield* Ref.getAndUpdate(attempts, (n) => n + 1).pipe(
            Effect.flatMap((n) =>
              n === 0
                ? attempt
                : Effect.zipRight(
                    note(`retrying ${request.method} ${request.url} (attempt ${n + 1})`).pipe(
                      Effect.provideService(Output, output)
                    ),
                    attempt
                  )
            ),
            Effect.tapError((error) =>
              isRetryable(error)
                ? note(`${request.method} ${request.url} failed: ${describe(error)}`).pipe(
                    Effect.provideService(Output, output)
                  )
                : Effect.void
            ),
            Effect.retry({ schedule: policy.schedule, while: isRetryable })
          )
        })
        return (retry ? withRetries : attempt).pipe(
          Effect.catchTag("RetryableAnswer", (answer) => Effect.succeed(answer.response))
        )
      })

    const client = yield* HttpApiClient.make(MarketplaceApi, {
      baseUrl: options.server,
      transformClient: (base) => {
        const withTracing = HttpClient.withTracerPropagation(base, false)
        const authed = Option.match(options.token, {
          onNone: () => withTracing,
          onSome: (token) => HttpClient.mapRequest(withTracing, HttpClientRequest.bearerToken(token))
        })
        const operator = Option.match(options.adminToken ?? Option.none(), {
          onNone: () => authed,
          onSome: (token) => HttpClient.mapRequest(authed, HttpClientRequest.setHeader("admin-token", token))
        })
        const signed = Option.match(options.signer ?? Option.none(), {
          onNone: () => operator,
          onSome: (signer) => signingClient(operator, signer)
        })
        return transport(signed)
      }
    })

    /**
     * Runs one call made with `withResponse: true` and returns the success body exactly as the
     * server sent it; failures become the CLI's errors (typed API errors pass through unchanged).
     */
    const call = <A, E, R>(
      request: (
        client: MarketplaceClient
      ) => Effect.Effect<readonly [A, HttpClientResponse.HttpClientResponse], E, R>
    ) =>
      Effect.gen(function* () {
        const answer = yield* Ref.make(Option.none<LastAnswer>())
        return yield* request(client).pipe(
          Effect.provideService(CurrentAnswer, answer),
          Effect.zipRight(Ref.get(answer)),
          Effect.map((last) => Option.match(last, { onNone: () => "", onSome: (a) => a.body })),
          Effect.catchIf(
            (error): error is Extract<E, HttpClientError.HttpClientError | ParseResult.ParseError> =>
              HttpClientError.isHttpClientError(error) || ParseResult.isParseError(error),
            (error) => translate(error as HttpClientError.HttpClientError | ParseResult.ParseError, answer)
          ),
          Effect.tapError((error) => reportServerFailure(error, answer))
        )
      })

    /** A readable line naming the URL when a typed 5xx error survives every retry. */
    const reportServerFailure = (error: unknown, last: Ref.Ref<Option.Option<LastAnswer>>) =>
      Effect.gen(function* () {
        const answer = yield* Ref.get(last)
        if (
          Option.isSome(answer) &&
          answer.value.status >= 500 &&
          typeof error === "object" &&
          error !== null
        ) {
          const tag = (error as { _tag?: unknown })._tag
          if (tag !== "ServerFailedError" && tag !== "UntypedServerError") {
            yield* note(
              `the server at ${answer.value.url} answered ${answer.value.status} after every retry`
            ).pipe(Effect.provideService(Output, output))
          }
        }
      })

    const translate = (
      error: HttpClientError.HttpClientError | ParseResult.ParseError,
      last: Ref.Ref<Option.Option<LastAnswer>>
    ) =>
      Effect.gen(function* () {
        const key = options.idempotencyKey
        if (HttpClientError.isHttpClientError(error) && error._tag === "RequestError") {
          return yield* new ServerUnreachableError({
            url: error.request.url,
            message: `cannot reach the server at ${options.server} (${error.request.method} ${error.request.url}): ${describe(error)}`,
            idempotency_key: key
          })
        }
        const answer = yield* Ref.get(last)
        if (Option.isNone(answer)) {
          // No answer was received: the request itself could not be encoded (bad input).
          return yield* new UsageError({ message: `invalid request: ${error.message}` })
        }
        const { url, status, body } = answer.value
        if (status >= 400 && status < 500) {
          const tag = tagOf(body)
          if (tag !== undefined) {
            return yield* new UntypedServerError({
              status,
              body: JSON.parse(body) as Record<string, unknown>
            })
          }
          return yield* new UnexpectedResponseError({
            url,
            status,
            message: `the server at ${url} answered ${status} with a body that is not an API error`
          })
        }
        return yield* new ServerFailedError({
          url,
          status,
          message:
            status >= 500
              ? `the server at ${url} answered ${status} after every retry`
              : `the server at ${url} answered ${status} with a body that does not match the API contract: ${error.message}`,
          idempotency_key: key
        })
      })

    return { client, call } as const
  })
