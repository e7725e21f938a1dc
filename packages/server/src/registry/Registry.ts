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
import { LivenessRepo } from "../heartbeat/LivenessRepo"
import { Identity } from "../identity/Identity"
import { secretsEqual } from "../platform/SecureRandom"
import { ServerConfig } from "../platform/ServerConfig"
import { Store } from "../platform/Store"
import { agentToWire } from "../platform/Wire"
import { Tasks } from "../tasks/Tasks"
import { AgentRepo, type AgentRow } from "./AgentRepo"

export interface RegisterCredentials {
  readonly bearer: Option.Option<string>
  readonly registrationToken: Option.Option<string>
}

/** Identities, capabilities and the directory. */
export class Registry extends Context.Tag("Registry")<
  Registry,
  {
    readonly register: (
      request: RegisterRequest,
      credentials: RegisterCredentials
    ) => Effect.Effect<RegisterResponse, AuthenticationFailedError | PermissionDeniedError>
    readonly declareCapabilities: (
      caller: AgentId,
      capabilities: ReadonlyArray<Capability>
    ) => Effect.Effect<AgentListing, InputInvalidError>
    readonly deregister: (caller: AgentId) => Effect.Effect<{ readonly deregistered: boolean }>
    readonly rotateToken: (caller: AgentId) => Effect.Effect<{ readonly token: string }>
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

    const operatorSecret = (presented: Option.Option<string>) =>
      Option.isSome(presented) &&
      [config.registrationToken, config.adminToken].some(
        (secret) => Option.isSome(secret) && secretsEqual(presented.value, Redacted.value(secret.value))
      )

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
            if (Option.isNone(existing)) {
              if (Option.isSome(config.registrationToken) && Option.isNone(presentedRegistration)) {
                return yield* new AuthenticationFailedError({
                  message:
                    "this server requires a registration token for new agents (Registration-Token header)"
                })
              }
              const row: AgentRow = {
                agent_id: request.agent_id,
                seq: 0,
                ...fields,
                lifecycle: "registered",
                capabilities: [],
                created_at: now,
                updated_at: now
              }
              yield* agents.put(row)
              const token = yield* identity.issue(request.agent_id)
              return {
                agent_id: request.agent_id,
                outcome: "registered" as const,
                lifecycle: "registered" as const,
                token
              }
            }
            const agent = existing.value
            let allowed = Option.isSome(presentedRegistration)
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
                    : `agent id ${agent.agent_id} is registered to someone else; re-registering needs its current token or the registration token`
              })
            }
            const wasDeregistered = agent.lifecycle === "deregistered"
            yield* agents.put({
              ...agent,
              ...fields,
              lifecycle: agent.lifecycle === "deregistered" ? "registered" : agent.lifecycle,
              updated_at: now
            })
            yield* identity.revokeAll(agent.agent_id)
            const token = yield* identity.issue(agent.agent_id)
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
            yield* identity.revokeAll(caller)
            return { token: yield* identity.issue(caller) }
          })
        )
    }
  })
)
