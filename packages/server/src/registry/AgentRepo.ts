import type { Capability, Lifecycle } from "@agent-marketplace/domain/registry/Agent"
import type { AgentId } from "@agent-marketplace/domain/shared/Ids"
import { Context, type Effect, type Option } from "effect"

/** One registered identity. Times are epoch milliseconds. */
export interface AgentRow {
  readonly agent_id: AgentId
  readonly seq: number
  readonly name: string | null
  readonly endpoint: string | null
  readonly metadata: Readonly<Record<string, string>>
  readonly lifecycle: Lifecycle
  readonly capabilities: ReadonlyArray<Capability>
  /** The bound Ed25519 public key (unpadded base64url), or null for a bearer-only agent. */
  readonly public_key: string | null
  /** Whether bearer tokens still work once a key is bound (`allow_bearer` at registration). */
  readonly allow_bearer: boolean
  readonly created_at: number
  readonly updated_at: number
}

/** Liveness as the heartbeat feature keeps it. */
export interface LivenessRow {
  readonly agent_id: AgentId
  readonly alive: boolean
  readonly busy: boolean
  readonly last_heartbeat_at: number
}

export interface AgentWithLiveness {
  readonly agent: AgentRow
  readonly liveness: Option.Option<LivenessRow>
  readonly load: number
}

/** A discovery candidate: what the answer shows of the agent, the matched capability, its load. */
export interface DiscoverHit {
  readonly agent: Pick<AgentRow, "agent_id" | "name" | "endpoint">
  readonly capability: Capability
  readonly load: number
  readonly last_heartbeat_at: number
}

export interface AgentRepoShape {
  readonly get: (agentId: AgentId) => Effect.Effect<Option.Option<AgentRow>>
  /** Insert (seq is assigned by the store when 0) or replace. */
  readonly put: (row: AgentRow) => Effect.Effect<AgentRow>
  readonly getWithLiveness: (agentId: AgentId) => Effect.Effect<Option.Option<AgentWithLiveness>>
  /** Registration order; `after` is an agent id from the previous page. */
  readonly list: (options: {
    readonly aliveOnly: boolean
    readonly includeDeregistered: boolean
    /** Only agents in this lifecycle (the operator's views). */
    readonly lifecycle?: Lifecycle | undefined
    readonly after: Option.Option<AgentId>
    readonly limit: number
  }) => Effect.Effect<ReadonlyArray<AgentWithLiveness>>
  /**
   * Registered, alive agents declaring `capability`; unless `includeBusy`, only those with load below
   * the capability's max_concurrency that did not say busy. Ordered by load, most recent heartbeat,
   * agent id.
   */
  readonly discover: (options: {
    readonly capability: string
    readonly includeBusy: boolean
    readonly limit: number
  }) => Effect.Effect<ReadonlyArray<DiscoverHit>>
}

export class AgentRepo extends Context.Tag("AgentRepo")<AgentRepo, AgentRepoShape>() {}
