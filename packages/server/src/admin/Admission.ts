import type { Lifecycle } from "@agent-marketplace/domain/registry/Agent"
import { AuthenticationFailedError } from "@agent-marketplace/domain/shared/Errors"
import type { AgentId } from "@agent-marketplace/domain/shared/Ids"
import { Clock, Context, Effect, Layer, Option, Redacted } from "effect"
import { secretsEqual, sha256Hex } from "../platform/SecureRandom"
import { ServerConfig } from "../platform/ServerConfig"
import { iso } from "../platform/Wire"
import { InviteRepo } from "./InviteRepo"

export interface NewAgentRequest {
  readonly agentId: AgentId
  /** `invite_code` of the register body. */
  readonly inviteCode: string | undefined
  /** The `Registration-Token` header; the registry has already refused one that matches no secret. */
  readonly registrationToken: Option.Option<string>
}

/**
 * Who may register a new agent id, by `AGENT_MARKETPLACE_REGISTRATION` (design/admin.md):
 * - `open`: anyone; `token`: the registration token (or the admin token) is required;
 * - `invite`: a single-use invite code, consumed here in the registration's transaction (or the admin token);
 * - `approval`: anyone (with the registration token, when one is configured), as `pending` until an
 *   operator approves; with the admin token directly `registered`.
 * Runs inside the registration's transaction, so a failed registration gives its invite back.
 */
export class Admission extends Context.Tag("Admission")<
  Admission,
  {
    /** The lifecycle the new agent starts in, or 401 when it may not register. */
    readonly admitNew: (
      request: NewAgentRequest
    ) => Effect.Effect<Extract<Lifecycle, "registered" | "pending">, AuthenticationFailedError>
  }
>() {}

const refuse = (message: string) => Effect.fail(new AuthenticationFailedError({ message }))

export const AdmissionLive = Layer.effect(
  Admission,
  Effect.gen(function* () {
    const config = yield* ServerConfig
    const invites = yield* InviteRepo
    const isAdminToken = (presented: Option.Option<string>) =>
      Option.isSome(presented) &&
      Option.isSome(config.adminToken) &&
      secretsEqual(presented.value, Redacted.value(config.adminToken.value))
    const tokenRequired = () =>
      refuse("this server requires a registration token for new agents (Registration-Token header)")

    const consumeInvite = (agentId: AgentId, code: string) =>
      Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        const hash = sha256Hex(code)
        if (Option.isSome(yield* invites.consume(hash, agentId, now))) return "registered" as const
        // Why not, for the caller (who holds the code, so nothing is revealed to a guesser).
        const row = yield* invites.get(hash)
        if (Option.isNone(row)) return yield* refuse("unknown invite code")
        if (row.value.used_at !== null) return yield* refuse("this invite code has already been used")
        if (now >= row.value.expires_at) {
          return yield* refuse(`this invite code expired at ${iso(row.value.expires_at)}`)
        }
        return yield* refuse("this invite code is for another agent id")
      })

    return {
      admitNew: ({ agentId, inviteCode, registrationToken }) =>
        Effect.gen(function* () {
          switch (config.registration) {
            case "open":
              return "registered" as const
            case "token":
              return Option.isSome(registrationToken) ? ("registered" as const) : yield* tokenRequired()
            case "invite":
              if (isAdminToken(registrationToken)) return "registered" as const
              if (inviteCode === undefined) {
                return yield* refuse(
                  "this server admits new agents by invitation: send the operator's invite code (invite_code, register --invite-code)"
                )
              }
              return yield* consumeInvite(agentId, inviteCode)
            case "approval":
              if (isAdminToken(registrationToken)) return "registered" as const
              if (Option.isSome(config.registrationToken) && Option.isNone(registrationToken)) {
                return yield* tokenRequired()
              }
              return "pending" as const
          }
        })
    }
  })
)
