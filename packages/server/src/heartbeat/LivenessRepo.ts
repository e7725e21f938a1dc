import type { AgentId } from "@agent-marketplace/domain/shared/Ids"
import { Context, type Effect, type Option } from "effect"
import type { LivenessRow } from "../registry/AgentRepo"

export interface LivenessRepoShape {
  readonly get: (agentId: AgentId) => Effect.Effect<Option.Option<LivenessRow>>
  readonly put: (row: LivenessRow) => Effect.Effect<void>
  /**
   * A heartbeat of an agent that is alive, as one atomic step: when the agent's row exists and is
   * alive, sets its `busy` and `last_heartbeat_at` and answers whether the agent has load; `None`
   * (nothing written) when there is no row or it is not alive.
   */
  readonly touch: (
    agentId: AgentId,
    busy: boolean,
    now: number
  ) => Effect.Effect<Option.Option<{ readonly loaded: boolean }>>
  /** The agent's row and whether the agent has load, in one read (`None`: never beat). */
  readonly peek: (
    agentId: AgentId
  ) => Effect.Effect<Option.Option<{ readonly row: LivenessRow; readonly loaded: boolean }>>
  /**
   * Coalesced heartbeats, one batched write: raises each agent's `last_heartbeat_at` to the given
   * time where the stored one is older; `alive` and `busy` are left as they are.
   */
  readonly writeLastSeen: (
    batch: ReadonlyArray<{ readonly agent_id: AgentId; readonly at: number }>
  ) => Effect.Effect<void>
  /**
   * Alive agents that have been silent too long: effectively busy (said busy, or load > 0) and last
   * heartbeat before `busyCutoff`, or idle and last heartbeat before `idleCutoff` (strictly).
   */
  readonly expired: (cutoffs: {
    readonly idleCutoff: number
    readonly busyCutoff: number
  }) => Effect.Effect<ReadonlyArray<AgentId>>
  /**
   * Marks an alive agent not alive, but only if it is still alive and still silent past the cutoffs;
   * true when this call did it (so exactly one caller performs the cleanup of one outage).
   */
  readonly claimTimeout: (
    agentId: AgentId,
    cutoffs: { readonly idleCutoff: number; readonly busyCutoff: number }
  ) => Effect.Effect<boolean>
}

export class LivenessRepo extends Context.Tag("LivenessRepo")<LivenessRepo, LivenessRepoShape>() {}
