import type { CurrentAgent } from "@agent-marketplace/domain/identity/Authentication"
import type {
  AgentListing,
  Capability,
  RegisterRequest,
  RegisterResponse
} from "@agent-marketplace/domain/registry/Agent"
import {
  AuthenticationFailedError,
  InputInvalidError,
  notFound,
  PermissionDeniedError
} from "@agent-marketplace/domain/shared/Errors"
import type { AgentId } from "@agent-marketplace/domain/shared/Ids"
import { Clock, Context, Effect, Layer, Option, Redacted } from "effect"
import { Admission } from "../admin/Admission"
import { LivenessRepo } from "../heartbeat/LivenessRepo"
import { Identity } from "../identity/Identity"
import { isUsablePublicKey } from "../identity/Signatures"
import { secretsEqual } from "../platform/SecureRandom"
import { ServerConfig } from "../platform/ServerConfig"
import { Store } from "../platform/Store"
import { agentToWire } from "../platform/Wire"
import { Tasks } from "../tasks/Tasks"
import { AgentRepo, type AgentRow } from "./AgentRepo"

type CurrentAgentShape = Context.Tag.Service<typeof CurrentAgent>

export interface RegisterCredentials {
  readonly bearer: Option.Option<string>
  readonly registrationToken: Option.Option<string>
  /** The agent whose bound key signed the request (already verified), if it was signed. */
  readonly signer: Option.Option<AgentId>
}

/** Identities, capabilities and the directory. */
export class Registry extends Context.Tag("Registry")<
  Registry,
  {
    readonly register: (
      request: RegisterRequest,
      credentials: RegisterCredentials
    ) => Effect.Effect<
      RegisterResponse,
      AuthenticationFailedError | PermissionDeniedError | InputInvalidError
    >
    readonly declareCapabilities: (
      caller: AgentId,
      capabilities: ReadonlyArray<Capability>
    ) => Effect.Effect<AgentListing, InputInvalidError>
    readonly deregister: (caller: AgentId) => Effect.Effect<{ readonly deregistered: boolean }>
    /** Bearer agents (and key-bound ones with allow_bearer): a new token, every other revoked. */
    readonly rotateToken: (
      caller: AgentId
    ) => Effect.Effect<{ readonly token: string }, PermissionDeniedError>
    /** Binds a new public key; only a request signed by the current key may (403 otherwise). */
    readonly rotateKey: (
      caller: CurrentAgentShape,
      publicKey: string
    ) => Effect.Effect<AgentListing, InputInvalidError | PermissionDeniedError>
    readonly listing: (agentId: AgentId) => Effect.Effect<AgentListing, ReturnType<typeof notFound>>
  }
>() {}

export const RegistryLive = Layer.effect(
  Registry,
  Effect.gen(function* () {
    const agents = yield* AgentRepo
    const liveness = yield* LivenessRepo
    const identity = yield* Identity
    const tasks = yield* Tasks
    const store = yield* Store
    const config = yield* ServerConfig
    const admission = yield* Admission

    const operatorSecret = (presented: Option.Option<string>) =>
      Option.isSome(presented) &&
      [config.registrationToken, config.adminToken].some(
        (secret) => Option.isSome(secret) && secretsEqual(presented.value, Redacted.value(secret.value))
      )

    /** Whether the agent's bearer tokens work: no bound key, or `allow_bearer`. */
    const bearerAllowed = (agent: AgentRow) => agent.public_key === null || agent.allow_bearer

    /** A new token when bearer tokens work for the agent; none (null) for a key-only agent. */
    const issueIfBearer = (agent: AgentRow) =>
      bearerAllowed(agent) ? identity.issue(agent.agent_id) : Effect.succeed(null)

    const listing = (agentId: AgentId) =>
      Effect.flatMap(agents.getWithLiveness(agentId), (o) =>
        Option.match(o, {
          onNone: () => Effect.fail(notFound("agent", agentId)),
          onSome: (a) => Effect.succeed(agentToWire(a))
        })
      )

    return {
      listing,
      register: (request, credentials) =>
        store.transaction(
          Effect.gen(function* () {
            const now = yield* Clock.currentTimeMillis
            const existing = yield* agents.get(request.agent_id)
            const presentedRegistration = credentials.registrationToken
            if (Option.isSome(presentedRegistration) && !operatorSecret(presentedRegistration)) {
              return yield* new AuthenticationFailedError({ message: "wrong registration token" })
            }
            const fields = {
              name: request.name ?? null,
              endpoint: request.endpoint ?? null,
              metadata: request.metadata ?? {}
            }
            if (request.public_key !== undefined && !isUsablePublicKey(request.public_key)) {
              return yield* new InputInvalidError({
                message: "public_key is not a usable Ed25519 public key"
              })
            }
            if (Option.isNone(existing)) {
              // The registration mode decides (token, invite consumed here, or pending approval).
              const lifecycle = yield* admission.admitNew({
                agentId: request.agent_id,
                inviteCode: request.invite_code,
                registrationToken: presentedRegistration
              })
              const row: AgentRow = {
                agent_id: request.agent_id,
                seq: 0,
                ...fields,
                lifecycle,
                capabilities: [],
                public_key: request.public_key ?? null,
                allow_bearer: request.allow_bearer ?? false,
                created_at: now,
                updated_at: now
              }
              yield* agents.put(row)
              const token = yield* issueIfBearer(row)
              return {
                agent_id: request.agent_id,
                outcome: "registered" as const,
                lifecycle,
                token
              }
            }
            const agent = existing.value
            let allowed = Option.isSome(presentedRegistration)
            if (!allowed && Option.isSome(credentials.signer)) {
              // A signature by the bound key proves the id, also after a deregistration.
              if (credentials.signer.value !== agent.agent_id) {
                return yield* new PermissionDeniedError({
                  message: `the request is signed by agent ${credentials.signer.value}, not by ${agent.agent_id}`
                })
              }
              allowed = true
            }
            if (!allowed && Option.isSome(credentials.bearer) && agent.lifecycle === "registered") {
              const owner = yield* Effect.either(identity.authenticate(credentials.bearer.value))
              if (owner._tag === "Left") return yield* owner.left
              allowed = owner.right === agent.agent_id
            }
            if (!allowed) {
              return yield* new PermissionDeniedError({
                message:
                  agent.lifecycle === "deregistered"
                    ? `agent id ${agent.agent_id} was deregistered; only the operator (registration token) can register it again`
                    : `agent id ${agent.agent_id} is registered to someone else; re-registering needs its current token, a signature by its key, or the registration token`
              })
            }
            const wasDeregistered = agent.lifecycle === "deregistered"
            const updated = yield* agents.put({
              ...agent,
              ...fields,
              lifecycle: agent.lifecycle === "deregistered" ? "registered" : agent.lifecycle,
              // A new key replaces the bound one; without one the binding stays.
              public_key: request.public_key ?? agent.public_key,
              allow_bearer: request.allow_bearer ?? agent.allow_bearer,
              updated_at: now
            })
            yield* identity.revokeAll(agent.agent_id)
            const token = yield* issueIfBearer(updated)
            const lifecycle = wasDeregistered ? "registered" : agent.lifecycle
            return {
              agent_id: agent.agent_id,
              outcome: wasDeregistered ? ("re_registered" as const) : ("updated" as const),
              lifecycle,
              token
            }
          })
        ),
      declareCapabilities: (caller, capabilities) =>
        Effect.gen(function* () {
          const names = capabilities.map((c) => c.name)
          if (capabilities.length === 0) {
            return yield* new InputInvalidError({ message: "capabilities must not be empty" })
          }
          const duplicate = names.find((n, i) => names.indexOf(n) !== i)
          if (duplicate !== undefined) {
            return yield* new InputInvalidError({ message: `capability ${duplicate} is declared twice` })
          }
          yield* store.transaction(
            Effect.gen(function* () {
              const agent = Option.getOrThrow(yield* agents.get(caller))
              yield* agents.put({ ...agent, capabilities, updated_at: yield* Clock.currentTimeMillis })
            })
          )
          return yield* Effect.orDie(listing(caller))
        }),
      deregister: (caller) =>
        store.transaction(
          Effect.gen(function* () {
            const now = yield* Clock.currentTimeMillis
            const agent = Option.getOrThrow(yield* agents.get(caller))
            yield* agents.put({ ...agent, lifecycle: "deregistered", capabilities: [], updated_at: now })
            yield* identity.revokeAll(caller)
            const live = yield* liveness.get(caller)
            if (Option.isSome(live) && live.value.alive) yield* liveness.put({ ...live.value, alive: false })
            yield* tasks.releaseAgent(caller)
            return { deregistered: true }
          })
        ),
      rotateToken: (caller) =>
        store.transaction(
          Effect.gen(function* () {
            const agent = Option.getOrThrow(yield* agents.get(caller))
            if (!bearerAllowed(agent)) {
              return yield* new PermissionDeniedError({
                message: `agent ${caller} is key-bound without allow_bearer: it has no bearer tokens (use rotate-key)`
              })
            }
            yield* identity.revokeAll(caller)
            return { token: yield* identity.issue(caller) }
          })
        ),
      rotateKey: (caller, publicKey) =>
        Effect.gen(function* () {
          if (caller.credential !== "signature") {
            return yield* new PermissionDeniedError({
              message:
                "rotate-key needs a request signed by the agent's current key (a bearer token cannot rotate it)"
            })
          }
          if (!isUsablePublicKey(publicKey)) {
            return yield* new InputInvalidError({ message: "public_key is not a usable Ed25519 public key" })
          }
          yield* store.transaction(
            Effect.gen(function* () {
              const agent = Option.getOrThrow(yield* agents.get(caller.agent_id))
              yield* agents.put({
                ...agent,
                public_key: publicKey,
                updated_at: yield* Clock.currentTimeMillis
              })
            })
          )
          return yield* Effect.orDie(listing(caller.agent_id))
        })
    }
  })
)
