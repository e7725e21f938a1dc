import { AuthenticationFailedError } from "@agent-marketplace/domain/shared/Errors"
import type { AgentId } from "@agent-marketplace/domain/shared/Ids"
import { Clock, Context, Effect, Layer, Option } from "effect"
import { SecureRandom, sha256Hex } from "../platform/SecureRandom"
import { AgentRepo } from "../registry/AgentRepo"
import { TokenRepo } from "./TokenRepo"

export const TOKEN_PREFIX = "agent-token-"

/** Agent credentials: bearer tokens (`agent-token-<64 hex>`), kept only as SHA-256. */
export class Identity extends Context.Tag("Identity")<
  Identity,
  {
    /**
     * The agent of a presented bearer token; never cached, so revocation is immediate. Only a
     * `registered` agent's token is accepted, and a `pending` one's where `allowPending` says so.
     */
    readonly authenticate: (
      token: string,
      options?: { readonly allowPending?: boolean }
    ) => Effect.Effect<AgentId, AuthenticationFailedError>
    /** Issues a new token for the agent (the caller revokes older ones when the rule says so). */
    readonly issue: (agentId: AgentId) => Effect.Effect<string>
    readonly revokeAll: (agentId: AgentId) => Effect.Effect<void>
  }
>() {}

export const IdentityLive = Layer.effect(
  Identity,
  Effect.gen(function* () {
    const tokens = yield* TokenRepo
    const agents = yield* AgentRepo
    const random = yield* SecureRandom
    const fail = (message: string) => Effect.fail(new AuthenticationFailedError({ message }))
    return {
      authenticate: (token, options) =>
        Effect.gen(function* () {
          if (token.length === 0)
            return yield* fail("missing credential: send Authorization: Bearer <agent token>")
          if (!token.startsWith(TOKEN_PREFIX) || token.length > 200)
            return yield* fail("invalid or revoked agent token")
          const agentId = yield* tokens.findActive(sha256Hex(token))
          if (Option.isNone(agentId)) return yield* fail("invalid or revoked agent token")
          const agent = yield* agents.get(agentId.value)
          if (Option.isNone(agent)) return yield* fail(`agent ${agentId.value} is not active`)
          const lifecycle = agent.value.lifecycle
          if (lifecycle === "pending" && options?.allowPending !== true) {
            return yield* fail(
              `agent ${agentId.value} is pending operator approval: until then its token is accepted only on its own /agents/* endpoints (heartbeat, whoami, capabilities, rotate-token, deregister)`
            )
          }
          if (lifecycle !== "registered" && lifecycle !== "pending") {
            return yield* fail(`agent ${agentId.value} is not active (${lifecycle})`)
          }
          if (agent.value.public_key !== null && !agent.value.allow_bearer) {
            return yield* fail(
              `agent ${agentId.value} is key-bound: sign the request with its key (bearer tokens are disabled for it)`
            )
          }
          return agentId.value
        }),
      issue: (agentId) =>
        Effect.gen(function* () {
          const token = `${TOKEN_PREFIX}${yield* random.hex(32)}`
          yield* tokens.insert({
            token_hash: sha256Hex(token),
            agent_id: agentId,
            created_at: yield* Clock.currentTimeMillis
          })
          return token
        }),
      revokeAll: (agentId) => Effect.flatMap(Clock.currentTimeMillis, (now) => tokens.revokeAll(agentId, now))
    }
  })
)
