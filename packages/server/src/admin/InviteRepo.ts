import type { AgentId } from "@agent-marketplace/domain/shared/Ids"
import { Context, type Effect, type Option } from "effect"

/** One invite. The code itself is never stored: only its SHA-256 hex. Times are epoch milliseconds. */
export interface InviteRow {
  readonly code_hash: string
  /** The only agent id that may use it, or null for any new id. */
  readonly agent_id: AgentId | null
  readonly created_at: number
  readonly expires_at: number
  readonly used_at: number | null
  readonly used_by: AgentId | null
}

export interface InviteRepoShape {
  readonly insert: (row: InviteRow) => Effect.Effect<void>
  readonly get: (codeHash: string) => Effect.Effect<Option.Option<InviteRow>>
  /**
   * Marks the invite used by `agentId` if, at `now`, it is unused, not expired (`now < expires_at`)
   * and bound to no agent or to `agentId`; returns the consumed row, or none. One atomic step: of two
   * concurrent consumers exactly one gets the row (SQL: a guarded `UPDATE … RETURNING`, so a second
   * transaction waits on the row lock and re-checks against the committed row).
   */
  readonly consume: (
    codeHash: string,
    agentId: AgentId,
    now: number
  ) => Effect.Effect<Option.Option<InviteRow>>
}

export class InviteRepo extends Context.Tag("InviteRepo")<InviteRepo, InviteRepoShape>() {}
