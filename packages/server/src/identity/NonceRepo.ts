import type { AgentId } from "@agent-marketplace/domain/shared/Ids"
import { Context, type Effect } from "effect"

/**
 * Signature nonces already seen, per agent, each until its expiry (epoch milliseconds). Shared by
 * every replica through the store, so a request replayed to another replica is refused too.
 */
export interface NonceRepoShape {
  /**
   * Records `(agent_id, nonce)` until `expires_at`. True when it was not seen before (or only under
   * an expiry at or before `now`); false when it is a replay. A store failure is a defect: the
   * request that needed the check fails (fails closed).
   */
  readonly insert: (row: {
    readonly agent_id: AgentId
    readonly nonce: string
    readonly expires_at: number
    readonly now: number
  }) => Effect.Effect<boolean>
  /** Deletes the nonces whose expiry is at or before `now`; the number deleted. */
  readonly deleteExpired: (now: number) => Effect.Effect<number>
}

export class NonceRepo extends Context.Tag("NonceRepo")<NonceRepo, NonceRepoShape>() {}
