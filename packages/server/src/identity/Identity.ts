import { AuthenticationFailedError } from "@agent-marketplace/domain/shared/Errors"
import type { AgentId } from "@agent-marketplace/domain/shared/Ids"
import { Clock, Context, Effect, Layer, Option } from "effect"
import { SecureRandom, sha256Hex } from "../platform/SecureRandom"
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
    const random = yield* SecureRandom
    const fail = (message: string) => Effect.fail(new AuthenticationFailedError({ message }))
    return {
      // Plain checks and one repository read (token and holder together): this runs on every
      // authenticated request, never from a cache.
      authenticate: (token, options) => {
        if (token.length === 0) return fail("missing credential: send Authorization: Bearer <agent token>")
        if (!token.startsWith(TOKEN_PREFIX) || token.length > 200)
          return fail("invalid or revoked agent token")
        return Effect.flatMap(tokens.findActiveHolder(sha256Hex(token)), (found) => {
          if (Option.isNone(found)) return fail("invalid or revoked agent token")
          const { agent, agent_id } = found.value
          if (agent === null) return fail(`agent ${agent_id} is not active`)
          const lifecycle = agent.lifecycle
          if (lifecycle === "pending" && options?.allowPending !== true) {
            return fail(
              `agent ${agent_id} is pending operator approval: until then its token is accepted only on its own /agents/* endpoints (heartbeat, whoami, capabilities, rotate-token, deregister)`
            )
          }
          if (lifecycle !== "registered" && lifecycle !== "pending") {
            return fail(`agent ${agent_id} is not active (${lifecycle})`)
          }
          if (agent.public_key !== null && !agent.allow_bearer) {
            return fail(
              `agent ${agent_id} is key-bound: sign the request with its key (bearer tokens are disabled for it)`
            )
          }
          return Effect.succeed(agent_id)
        })
      },
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
