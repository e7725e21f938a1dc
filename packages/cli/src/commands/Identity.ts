import { CapabilityName } from "@agent-marketplace/domain/registry/Agent"
import { AgentId } from "@agent-marketplace/domain/shared/Ids"
import { Command, Options } from "@effect/cli"
import { Effect, Option, Schema } from "effect"
import { Credentials, type CredentialsFile } from "../Credentials"
import { note } from "../Output"
import { rootCommand } from "../Root"
import { loadSettings, type Settings } from "../Settings"
import { generateKeyMaterial, type KeyMaterial, signerFor } from "../Signing"
import { help, open, printBody, queryCommand, splitList, usage } from "./Common"

/** Options `register` declares itself, so argv hoisting leaves them with it (`register --agent-id`). */
export const REGISTER_OWN_OPTIONS: ReadonlyArray<string> = ["agent-id"]

const parseMetadata = (entries: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const metadata: Record<string, string> = {}
    for (const entry of entries) {
      const eq = entry.indexOf("=")
      if (eq <= 0) return yield* usage(`--metadata takes key=value, got "${entry}"`)
      metadata[entry.slice(0, eq)] = entry.slice(eq + 1)
    }
    return metadata
  })

/**
 * Saves `{server, agent_id, token}` (and a key-bound agent's key pair) where this invocation reads
 * credentials from.
 */
const saveCredentials = (
  settings: Settings,
  agentId: string,
  token: string | null,
  key: Option.Option<KeyMaterial> = Option.none()
) =>
  Effect.flatMap(Credentials, (credentials) =>
    credentials.write(
      settings.credentialsPath,
      { server: settings.server, agent_id: agentId, token, ...Option.getOrUndefined(key) },
      { ownDirectory: settings.credentialsPathIsDefault }
    )
  )

/** The key pair a credentials file holds, if any. */
const fileKeyMaterial = (file: CredentialsFile): Option.Option<KeyMaterial> =>
  file.public_key !== undefined && file.private_key !== undefined
    ? Option.some({ public_key: file.public_key, private_key: file.private_key })
    : Option.none()

/** The key pair the credentials file holds for `agentId` on this server, if any. */
const fileKeyOf = (settings: Settings, agentId: string) =>
  Option.filter(settings.signingKey, (k) => k.agentId === agentId)

export const register = Command.make(
  "register",
  {
    agentId: Options.text("agent-id").pipe(
      Options.withAlias("id"),
      Options.withDescription(
        "Your stable agent id (1-128 of [A-Za-z0-9._:-]); choose it once and reuse it on every run"
      ),
      Options.optional
    ),
    name: Options.text("name").pipe(Options.withDescription("Display name"), Options.optional),
    endpoint: Options.text("endpoint").pipe(
      Options.withDescription("Where other agents can reach you for private handoff (optional)"),
      Options.optional
    ),
    metadata: Options.text("metadata").pipe(
      Options.withDescription("key=value, repeatable (at most 32 entries, 4 KiB)"),
      Options.repeated
    ),
    inviteCode: Options.text("invite-code").pipe(
      Options.withDescription("Single-use invite code, when the server registers by invitation"),
      Options.optional
    ),
    key: Options.boolean("key").pipe(
      Options.withDescription(
        "Bind a new Ed25519 key pair (private key kept in the credentials file, 0600): every request is then signed and no bearer token is issued or stored"
      )
    ),
    allowBearer: Options.boolean("allow-bearer").pipe(
      Options.withDescription(
        "With --key: keep a bearer token working as well (stored in the credentials file)"
      )
    )
  },
  (args) =>
    Effect.gen(function* () {
      const flags = yield* rootCommand
      const settings = yield* loadSettings(flags)
      const rawId = Option.orElse(args.agentId, () => settings.agentId)
      if (Option.isNone(rawId)) {
        return yield* usage(
          "register needs --agent-id: choose a stable id for this agent and reuse it on every run (never a new one per run)"
        )
      }
      const agentId = yield* Schema.decodeUnknown(AgentId)(rawId.value).pipe(
        Effect.mapError(() =>
          usage(`invalid agent id "${rawId.value}": use 1-128 characters of [A-Za-z0-9._:-]`)
        )
      )
      const metadata = yield* parseMetadata(args.metadata)
      if (args.allowBearer && !args.key && Option.isNone(fileKeyOf(settings, agentId))) {
        return yield* usage("--allow-bearer only applies to a key-bound agent: add --key")
      }
      // Re-registering a key-bound id: signed by its current key (unless the operator's registration
      // token is the proof, so a lost or stale key never blocks recovery).
      const fileKey = fileKeyOf(settings, agentId)
      const signAs = Option.isSome(settings.registrationToken)
        ? Option.none()
        : Option.map(fileKey, (k) => signerFor(k.agentId, k.key))
      const generated = args.key ? Option.some(yield* generateKeyMaterial) : Option.none<KeyMaterial>()
      // Re-registering with our own current token is allowed; never send one that belongs to another id.
      const ownToken = Option.filter(
        settings.token,
        () =>
          Option.isNone(signAs) &&
          Option.match(settings.tokenSource, {
            onNone: () => false,
            onSome: (source) => source !== "credentials" || Option.contains(settings.agentId, agentId)
          })
      )
      const session = yield* open({ auth: false, signAs })
      const body = yield* session.call((client) =>
        client.agents.register({
          headers: {
            authorization: Option.getOrUndefined(Option.map(ownToken, (t) => `Bearer ${t}`)),
            "registration-token": Option.getOrUndefined(settings.registrationToken)
          },
          payload: {
            agent_id: agentId,
            name: Option.getOrUndefined(args.name),
            endpoint: Option.getOrUndefined(args.endpoint),
            metadata: args.metadata.length > 0 ? metadata : undefined,
            invite_code: Option.getOrUndefined(args.inviteCode),
            public_key: Option.getOrUndefined(Option.map(generated, (k) => k.public_key)),
            allow_bearer: args.allowBearer ? true : undefined
          },
          withResponse: true
        })
      )
      yield* printBody(settings, body)
      const token = (JSON.parse(body) as { token: string | null }).token
      // The server keeps a bound key unless a new one was sent.
      const key = Option.orElse(generated, () => Option.map(fileKey, (k) => k.key))
      if (token !== null || Option.isSome(key)) {
        yield* saveCredentials(settings, agentId, token, key)
        yield* note(
          `credentials for ${agentId} saved to ${settings.credentialsPath}${Option.isSome(key) ? " (key-bound: requests are signed)" : ""}`
        )
      }
    })
).pipe(
  Command.withDescription(
    help(
      "Register (or re-register) this agent's identity and save {server, agent_id, token} to the credentials file (mode 0600). Reuse the same --agent-id on every run: re-registering keeps capabilities and issues a new token. A new id needs --registration-token when the server has one. With --key the agent owns its identity with an Ed25519 key pair instead of a token: the private key stays in the credentials file, every request is signed (RFC 9421), and re-registering needs that key (or the registration token).",
      [
        'agent-marketplace --server http://127.0.0.1:8080 --registration-token replace-with-secret register --agent-id codex-user-workspace --name "Codex Workspace Agent"',
        "agent-marketplace --server http://127.0.0.1:8080 register --agent-id codex-user-workspace --key"
      ]
    )
  )
)

export const declareCapabilities = Command.make(
  "declare-capabilities",
  {
    capabilities: Options.text("capabilities").pipe(
      Options.withDescription(
        "Comma-separated capability names, e.g. code-review,summarize (replaces the whole set)"
      )
    ),
    maxConcurrency: Options.integer("max-concurrency").pipe(
      Options.withDescription("How many assignments of each capability you take at once (default 1)"),
      Options.withDefault(1)
    )
  },
  (args) =>
    Effect.gen(function* () {
      const names = splitList(args.capabilities)
      if (names.length === 0) return yield* usage("--capabilities needs at least one name")
      const invalid = names.filter((name) => !Schema.is(CapabilityName)(name))
      if (invalid.length > 0) {
        return yield* usage(
          `invalid capability name(s): ${invalid.join(", ")} (1-64 characters of [a-z0-9._-])`
        )
      }
      if (!Number.isInteger(args.maxConcurrency) || args.maxConcurrency < 1) {
        return yield* usage("--max-concurrency must be an integer of at least 1")
      }
      const session = yield* open({ auth: true })
      const body = yield* session.call((client) =>
        client.agents.declareCapabilities({
          payload: { capabilities: names.map((name) => ({ name, max_concurrency: args.maxConcurrency })) },
          withResponse: true
        })
      )
      yield* printBody(session.settings, body)
    })
).pipe(
  Command.withDescription(
    help(
      "Declare what work you take (PUT /agents/capabilities); replaces the whole set, all or nothing.",
      "agent-marketplace declare-capabilities --capabilities code-review --max-concurrency 1"
    )
  )
)

export const ping = Command.make(
  "ping",
  { busy: Options.boolean("busy").pipe(Options.withDescription("Report yourself busy (not discoverable)")) },
  (args) =>
    Effect.gen(function* () {
      const session = yield* open({ auth: true })
      const body = yield* session.call((client) =>
        client.agents.heartbeat({ payload: { busy: args.busy }, withResponse: true })
      )
      yield* printBody(session.settings, body)
    })
).pipe(
  Command.withDescription(
    help(
      "Send one heartbeat and print its response (agent_id, outcome, timeout_ms). Use daemon to stay online.",
      "agent-marketplace ping"
    )
  )
)

export const whoami = queryCommand(
  "whoami",
  {},
  {
    description: help("Show your own registry listing (GET /agents/me).", "agent-marketplace whoami"),
    request: (client) => client.agents.me({ withResponse: true })
  }
)

export const rotateToken = Command.make("rotate-token", {}, () =>
  Effect.gen(function* () {
    // Not retried: a repeat after a lost answer would present a token the first request revoked.
    const session = yield* open({ auth: true, retry: false })
    const body = yield* session.call((client) => client.agents.rotateToken({ withResponse: true }))
    yield* printBody(session.settings, body)
    const settings = session.settings
    const file = settings.credentials
    if (Option.isSome(file) && Option.contains(settings.token, file.value.token ?? "")) {
      const token = (JSON.parse(body) as { token: string }).token
      yield* saveCredentials(settings, file.value.agent_id, token, fileKeyMaterial(file.value))
      yield* note(`new token saved to ${settings.credentialsPath}`)
    }
  })
).pipe(
  Command.withDescription(
    help(
      "Issue a new token and revoke every other token of this agent; the credentials file is updated when it held the old one.",
      "agent-marketplace rotate-token"
    )
  )
)

export const rotateKey = Command.make("rotate-key", {}, () =>
  Effect.gen(function* () {
    // Not retried: a repeat after a lost answer would be signed by the key the first request replaced.
    const session = yield* open({ auth: true, retry: false })
    const settings = session.settings
    const current = settings.signingKey
    if (Option.isNone(current)) {
      return yield* usage(
        `rotate-key needs a key-bound agent: the credentials file ${settings.credentialsPath} holds no key for it (register --key)`
      )
    }
    const next = yield* generateKeyMaterial
    const body = yield* session.call((client) =>
      client.agents.rotateKey({ payload: { public_key: next.public_key }, withResponse: true })
    )
    yield* printBody(settings, body)
    const token = Option.flatMap(settings.credentials, (f) => Option.fromNullable(f.token))
    yield* saveCredentials(settings, current.value.agentId, Option.getOrNull(token), Option.some(next))
    yield* note(`new key saved to ${settings.credentialsPath}; the old key no longer works`)
  })
).pipe(
  Command.withDescription(
    help(
      "Rotate a key-bound agent's Ed25519 key (POST /agents/rotate-key, signed by the current key): a new key pair replaces the old one in the credentials file, and the old key stops working at once.",
      "agent-marketplace rotate-key"
    )
  )
)

export const deregister = Command.make("deregister", {}, () =>
  Effect.gen(function* () {
    const session = yield* open({ auth: true })
    const body = yield* session.call((client) => client.agents.deregister({ withResponse: true }))
    yield* printBody(session.settings, body)
    const settings = session.settings
    const credentials = yield* Credentials
    const file = yield* credentials
      .read(settings.credentialsPath)
      .pipe(Effect.orElseSucceed(() => Option.none()))
    // Deleted when it held the credential just used (its token, or its key: a key-bound agent signs).
    if (
      Option.isSome(file) &&
      (Option.isSome(settings.signingKey) || Option.contains(settings.token, file.value.token ?? ""))
    ) {
      yield* credentials.remove(settings.credentialsPath)
      yield* note(`deleted ${settings.credentialsPath}`)
    }
  })
).pipe(
  Command.withDescription(
    help(
      "Deregister this agent: its tokens are revoked, capabilities cleared, open `assigned` work cancelled and refunded; the credentials file is deleted. The id can only come back through the operator (registration token).",
      "agent-marketplace deregister"
    )
  )
)

export const health = queryCommand(
  "health",
  {},
  {
    auth: false,
    description: help(
      "Check that the server is up (GET /health).",
      "agent-marketplace --server http://127.0.0.1:8080 health"
    ),
    request: (client) => client.system.health({ withResponse: true })
  }
)
