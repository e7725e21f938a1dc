import type { CreateInviteRequest, Invite, SuspendResponse } from "@agent-marketplace/domain/admin/Admin"
import type { AgentListing } from "@agent-marketplace/domain/registry/Agent"
import { notFound, StateConflictError } from "@agent-marketplace/domain/shared/Errors"
import type { AgentId } from "@agent-marketplace/domain/shared/Ids"
import { Clock, Context, Effect, Layer, Option } from "effect"
import { LivenessRepo } from "../heartbeat/LivenessRepo"
import { Identity } from "../identity/Identity"
import { SecureRandom, sha256Hex } from "../platform/SecureRandom"
import { Store } from "../platform/Store"
import { agentToWire, iso } from "../platform/Wire"
import { AgentRepo, type AgentRow } from "../registry/AgentRepo"
import { Tasks } from "../tasks/Tasks"
import { InviteRepo } from "./InviteRepo"

/** Invite codes: `invite-` and 32 random bytes as hex; only their SHA-256 is stored. */
export const INVITE_PREFIX = "invite-"

/** The idempotency scope of operator mutations (never an agent id: `@` is not allowed in one). */
export const OPERATOR_SCOPE = "@operator" as AgentId

type NotFound = ReturnType<typeof notFound>

/**
 * The operator's actions on agents: invites, approval, suspension. Each is one store transaction;
 * approve/suspend/unsuspend are naturally repeatable (an agent already in the target state is
 * answered as it is), so they take no Idempotency-Key.
 */
export class Admin extends Context.Tag("Admin")<
  Admin,
  {
    readonly createInvite: (request: CreateInviteRequest) => Effect.Effect<Invite, StateConflictError>
    /** pending → registered. */
    readonly approve: (agentId: AgentId) => Effect.Effect<AgentListing, NotFound | StateConflictError>
    /**
     * registered | pending → suspended: every token revoked, not alive, `assigned` work cancelled and
     * refunded and active participations left, as on a liveness timeout (`Tasks.releaseAgent`).
     */
    readonly suspend: (agentId: AgentId) => Effect.Effect<SuspendResponse, NotFound | StateConflictError>
    /** suspended → registered (its tokens stay revoked: new ones come from an operator re-registration). */
    readonly unsuspend: (agentId: AgentId) => Effect.Effect<AgentListing, NotFound | StateConflictError>
    /** The agent, when it exists in any lifecycle (404 otherwise). */
    readonly existing: (agentId: AgentId) => Effect.Effect<AgentRow, NotFound>
  }
>() {}

export const AdminLive = Layer.effect(
  Admin,
  Effect.gen(function* () {
    const agents = yield* AgentRepo
    const liveness = yield* LivenessRepo
    const identity = yield* Identity
    const tasks = yield* Tasks
    const invites = yield* InviteRepo
    const store = yield* Store
    const random = yield* SecureRandom

    const existing = (agentId: AgentId) =>
      Effect.flatMap(agents.get(agentId), (o) =>
        Option.isSome(o) ? Effect.succeed(o.value) : Effect.fail(notFound("agent", agentId))
      )
    const listing = (agentId: AgentId) =>
      Effect.map(agents.getWithLiveness(agentId), (o) => agentToWire(Option.getOrThrow(o)))
    const conflict = (agent: AgentRow, action: string) =>
      new StateConflictError({
        message: `cannot ${action} agent ${agent.agent_id}: it is ${agent.lifecycle}`
      })
    const setLifecycle = (agent: AgentRow, lifecycle: AgentRow["lifecycle"]) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => agents.put({ ...agent, lifecycle, updated_at: now }))

    return {
      existing,
      createInvite: (request) =>
        store.transaction(
          Effect.gen(function* () {
            const agentId = request.agent_id ?? null
            if (agentId !== null && Option.isSome(yield* agents.get(agentId))) {
              return yield* new StateConflictError({
                message: `agent ${agentId} already exists: invites admit new ids only (an operator re-registers an existing id with the admin token)`
              })
            }
            const now = yield* Clock.currentTimeMillis
            const code = `${INVITE_PREFIX}${yield* random.hex(32)}`
            const expiresAt = now + request.expires_in_secs * 1000
            yield* invites.insert({
              code_hash: sha256Hex(code),
              agent_id: agentId,
              created_at: now,
              expires_at: expiresAt,
              used_at: null,
              used_by: null
            })
            return { invite_code: code, expires_at: iso(expiresAt), agent_id: agentId }
          })
        ),
      approve: (agentId) =>
        store.transaction(
          Effect.gen(function* () {
            const agent = yield* existing(agentId)
            if (agent.lifecycle === "pending") yield* setLifecycle(agent, "registered")
            else if (agent.lifecycle !== "registered") return yield* conflict(agent, "approve")
            return yield* listing(agentId)
          })
        ),
      suspend: (agentId) =>
        store.transaction(
          Effect.gen(function* () {
            const agent = yield* existing(agentId)
            if (agent.lifecycle === "suspended") {
              return { agent: yield* listing(agentId), cancelled_assignments: [] }
            }
            if (agent.lifecycle === "deregistered") return yield* conflict(agent, "suspend")
            yield* setLifecycle(agent, "suspended")
            yield* identity.revokeAll(agentId)
            const live = yield* liveness.get(agentId)
            if (Option.isSome(live) && live.value.alive) yield* liveness.put({ ...live.value, alive: false })
            const { cancelled } = yield* tasks.releaseAgent(agentId)
            return { agent: yield* listing(agentId), cancelled_assignments: cancelled }
          })
        ),
      unsuspend: (agentId) =>
        store.transaction(
          Effect.gen(function* () {
            const agent = yield* existing(agentId)
            if (agent.lifecycle === "suspended") yield* setLifecycle(agent, "registered")
            else if (agent.lifecycle !== "registered") return yield* conflict(agent, "unsuspend")
            return yield* listing(agentId)
          })
        )
    }
  })
)
