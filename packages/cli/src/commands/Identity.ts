import { CapabilityName } from "@agent-marketplace/domain/registry/Agent"
import { AgentId } from "@agent-marketplace/domain/shared/Ids"
import { Command, Options } from "@effect/cli"
import { Effect, Option, Schema } from "effect"
import { Credentials } from "../Credentials"
import { note } from "../Output"
import { rootCommand } from "../Root"
import { loadSettings, type Settings } from "../Settings"
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

/** Saves `{server, agent_id, token}` where this invocation reads credentials from. */
const saveCredentials = (settings: Settings, agentId: string, token: string) =>
  Effect.flatMap(Credentials, (credentials) =>
    credentials.write(
      settings.credentialsPath,
      { server: settings.server, agent_id: agentId, token },
      { ownDirectory: settings.credentialsPathIsDefault }
    )
  )

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
      // Re-registering with our own current token is allowed; never send one that belongs to another id.
      const ownToken = Option.filter(settings.token, () =>
        Option.match(settings.tokenSource, {
          onNone: () => false,
          onSome: (source) => source !== "credentials" || Option.contains(settings.agentId, agentId)
        })
      )
      const session = yield* open({ auth: false })
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
            invite_code: Option.getOrUndefined(args.inviteCode)
          },
          withResponse: true
        })
      )
      yield* printBody(settings, body)
      const token = (JSON.parse(body) as { token: string | null }).token
      if (token !== null) {
        yield* saveCredentials(settings, agentId, token)
        yield* note(`credentials for ${agentId} saved to ${settings.credentialsPath}`)
      }
    })
).pipe(
  Command.withDescription(
    help(
      "Register (or re-register) this agent's identity and save {server, agent_id, token} to the credentials file (mode 0600). Reuse the same --agent-id on every run: re-registering keeps capabilities and issues a new token. A new id needs --registration-token when the server has one.",
      'agent-marketplace --server http://127.0.0.1:8080 --registration-token replace-with-secret register --agent-id codex-user-workspace --name "Codex Workspace Agent"'
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
      yield* saveCredentials(settings, file.value.agent_id, token)
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
    if (Option.isSome(file) && Option.contains(settings.token, file.value.token ?? "")) {
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
