import type { AgentId } from "@agent-marketplace/domain/shared/Ids"
import { Context, type Effect, type Option } from "effect"

/** Agent bearer tokens, stored only as SHA-256 hex. */
export interface TokenRepoShape {
  readonly insert: (row: {
    readonly token_hash: string
    readonly agent_id: AgentId
    readonly created_at: number
  }) => Effect.Effect<void>
  /** The agent of a token that is not revoked. */
  readonly findActive: (tokenHash: string) => Effect.Effect<Option.Option<AgentId>>
  readonly revokeAll: (agentId: AgentId, at: number) => Effect.Effect<void>
  readonly revoke: (tokenHash: string, at: number) => Effect.Effect<void>
}

export class TokenRepo extends Context.Tag("TokenRepo")<TokenRepo, TokenRepoShape>() {}
