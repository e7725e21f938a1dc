import type { Lifecycle } from "@agent-marketplace/domain/registry/Agent"
import type { AgentId } from "@agent-marketplace/domain/shared/Ids"
import { Context, type Effect, type Option } from "effect"

/** What authentication checks about the agent holding a token. */
export interface TokenHolder {
  readonly agent_id: AgentId
  /** Null when there is no agent row for the token's agent id. */
  readonly agent: {
    readonly lifecycle: Lifecycle
    readonly public_key: string | null
    readonly allow_bearer: boolean
  } | null
}

/** Agent bearer tokens, stored only as SHA-256 hex. */
export interface TokenRepoShape {
  readonly insert: (row: {
    readonly token_hash: string
    readonly agent_id: AgentId
    readonly created_at: number
  }) => Effect.Effect<void>
  /** The agent of a token that is not revoked. */
  readonly findActive: (tokenHash: string) => Effect.Effect<Option.Option<AgentId>>
  /**
   * `findActive` and the holder's lifecycle and key binding, read together (one query on SQL: the
   * per-request bearer check, never cached).
   */
  readonly findActiveHolder: (tokenHash: string) => Effect.Effect<Option.Option<TokenHolder>>
  readonly revokeAll: (agentId: AgentId, at: number) => Effect.Effect<void>
  readonly revoke: (tokenHash: string, at: number) => Effect.Effect<void>
}

export class TokenRepo extends Context.Tag("TokenRepo")<TokenRepo, TokenRepoShape>() {}
