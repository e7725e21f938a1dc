import type { RequestSigner } from "@agent-marketplace/domain/identity/SignedClient"
import { Command, HelpDoc, Options } from "@effect/cli"
import type { HttpClientResponse } from "@effect/platform"
import { type Duration, Effect, Option, type Schema } from "effect"
import { type MarketplaceClient, makeClient } from "../ApiClient"
import { UsageError } from "../Errors"
import { renderBody } from "../Format"
import { KeyGenerator } from "../KeyGenerator"
import { note, Output } from "../Output"
import { rootCommand } from "../Root"
import { loadSettings, requireCredential, type Settings } from "../Settings"
import { signerFor } from "../Signing"

/** `--help` text: what the command does, then an example command line. */
export const help = (
  summary: string,
  example: string | ReadonlyArray<string>,
  ...more: ReadonlyArray<string>
) =>
  HelpDoc.blocks([
    HelpDoc.p(summary),
    ...more.map((text) => HelpDoc.p(text)),
    HelpDoc.p(
      [
        typeof example === "string" ? "Example:" : "Examples:",
        ...(typeof example === "string" ? [example] : example).map((line) => `  ${line}`)
      ].join("\n")
    )
  ])

/** `--idempotency-key K` of every mutation. */
export const idempotencyKeyOption = Options.text("idempotency-key").pipe(
  Options.withDescription(
    "Idempotency-Key for this request (default: a fresh UUID per invocation). Reuse the same key to retry safely across invocations."
  ),
  Options.optional
)

/** A text option checked against a domain schema at parse time (a bad id is a usage error, exit 2). */
export const schemaOption = <A, I extends string>(
  name: string,
  schema: Schema.Schema<A, I>,
  description: string
) =>
  Options.text(name).pipe(
    Options.withSchema(schema as unknown as Schema.Schema<A, string>),
    Options.withDescription(description)
  )

/** A kebab-case choice on the command line, sent as the API's snake_case value. */
export const kebabChoice = <const A extends string>(
  name: string,
  values: ReadonlyArray<A>,
  description: string
) =>
  Options.choiceWithValue(
    name,
    values.map((value) => [value.replaceAll("_", "-"), value] as [string, A])
  ).pipe(Options.withDescription(description))

/** Comma-separated values (`a,b`), trimmed, empty entries dropped. */
export const splitList = (value: string): Array<string> =>
  value
    .split(",")
    .map((part) => part.trim())
    .filter((part) => part.length > 0)

export interface Session {
  readonly settings: Settings
  readonly client: MarketplaceClient
  /** Runs a `withResponse: true` call and yields the success body exactly as sent. */
  readonly call: <A, E, R>(
    request: (
      client: MarketplaceClient
    ) => Effect.Effect<readonly [A, HttpClientResponse.HttpClientResponse], E, R>
  ) => Effect.Effect<string, unknown, R>
  /** `{ "idempotency-key": … }` for the request headers of a mutation. */
  readonly keyHeaders: { readonly "idempotency-key": string }
}

/**
 * Resolves settings (flag > env > credentials file > default), checks for a token when the endpoint
 * needs one, picks the invocation's idempotency key (mutations), and opens the client.
 * `retry: false` is for requests that must not be repeated blindly (rotate-token).
 */
export const open = (options: {
  readonly auth: boolean
  /** An admin command: sends the operator's `Admin-Token` (flag > env) and no agent token. */
  readonly admin?: boolean
  /** Sign as this agent although the endpoint needs no credential (re-registering a key-bound id). */
  readonly signAs?: Option.Option<RequestSigner>
  readonly retry?: boolean
  readonly mutation?: boolean
  readonly idempotencyKey?: Option.Option<string>
  readonly attemptTimeout?: Duration.Duration
}) =>
  Effect.gen(function* () {
    const flags = yield* rootCommand
    const settings = yield* loadSettings(flags)
    if (settings.credentialsIgnored) {
      yield* note(
        `ignoring the credentials in ${settings.credentialsPath}: they belong to another server than ${settings.server}`
      )
    }
    const credential = options.auth ? Option.some(yield* requireCredential(settings)) : Option.none()
    const token = Option.flatMap(credential, (c) =>
      c._tag === "bearer" ? Option.some(c.token) : Option.none()
    )
    // A key-bound agent signs; `signAs` lets an unauthenticated call (register) sign too.
    const signer = Option.orElse(
      Option.flatMap(credential, (c) =>
        c._tag === "key" ? Option.some(signerFor(c.agentId, c.key)) : Option.none()
      ),
      () => options.signAs ?? Option.none()
    )
    const adminToken =
      options.admin === true ? Option.some(yield* requireAdminToken(settings)) : Option.none()
    const key =
      options.mutation === true
        ? yield* Option.match(options.idempotencyKey ?? Option.none(), {
            onSome: (given) => Effect.succeed(given),
            onNone: () => Effect.flatMap(KeyGenerator, (keys) => keys.next)
          })
        : undefined
    const { call, client } = yield* makeClient({
      server: settings.server,
      token,
      signer,
      adminToken,
      retry: options.retry ?? true,
      idempotencyKey: key,
      attemptTimeout: options.attemptTimeout
    })
    const session: Session = {
      settings,
      client,
      call: call as Session["call"],
      keyHeaders: { "idempotency-key": key ?? "" }
    }
    return session
  })

/** Prints a success body on stdout (verbatim JSON, or a table with `--format table`). */
export const printBody = (settings: Settings, body: string) =>
  Effect.flatMap(Output, (output) => output.stdout(renderBody(body, settings.format)))

export const usage = (message: string) => new UsageError({ message })

/** The operator secret of the admin commands; it never comes from the credentials file. */
const requireAdminToken = (settings: Settings) =>
  Option.match(settings.adminToken, {
    onSome: Effect.succeed,
    onNone: () =>
      Effect.fail(
        usage(
          "admin commands need the operator secret: pass --admin-token or set AGENT_MARKETPLACE_ADMIN_TOKEN"
        )
      )
  })

type Config = Command.Command.Config
type Request<C extends Config, E> = (
  client: MarketplaceClient,
  args: Command.Command.ParseConfig<C>,
  session: Session
) => Effect.Effect<readonly [unknown, HttpClientResponse.HttpClientResponse], E>

/** A read-only command: one API call, its body printed. `auth: false` endpoints need no token. */
export const queryCommand = <const Name extends string, const C extends Config, E>(
  name: Name,
  config: C,
  spec: {
    readonly description: HelpDoc.HelpDoc
    readonly auth?: boolean
    /** An admin command (`Admin-Token` instead of the agent token). */
    readonly admin?: boolean
    readonly request: Request<C, E>
  }
) =>
  Command.make(name, config, (args) =>
    Effect.gen(function* () {
      const session = yield* open({
        auth: spec.admin === true ? false : (spec.auth ?? true),
        admin: spec.admin
      })
      const body = yield* session.call((client) =>
        spec.request(client, args as Command.Command.ParseConfig<C>, session)
      )
      yield* printBody(session.settings, body)
    })
  ).pipe(Command.withDescription(spec.description))

/** A keyed mutation: gets `--idempotency-key` and sends the invocation's key on every attempt. */
export const mutationCommand = <const Name extends string, const C extends Config, E>(
  name: Name,
  config: C,
  spec: {
    readonly description: HelpDoc.HelpDoc
    /** An admin command (`Admin-Token` instead of the agent token). */
    readonly admin?: boolean
    readonly request: Request<C, E>
  }
) =>
  Command.make(name, { ...config, idempotencyKey: idempotencyKeyOption }, (args) =>
    Effect.gen(function* () {
      const key = (args as unknown as { readonly idempotencyKey: Option.Option<string> }).idempotencyKey
      const admin = spec.admin === true
      const session = yield* open({ auth: !admin, admin, mutation: true, idempotencyKey: key })
      const body = yield* session.call((client) =>
        spec.request(client, args as unknown as Command.Command.ParseConfig<C>, session)
      )
      yield* printBody(session.settings, body)
    })
  ).pipe(Command.withDescription(spec.description))
