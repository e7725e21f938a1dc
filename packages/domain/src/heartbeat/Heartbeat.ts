import { Schema } from "effect"
import { AgentId, strict } from "../shared/Ids"

export const HeartbeatRequest = Schema.Struct({
  busy: Schema.optional(Schema.Boolean)
}).annotations({ ...strict, identifier: "HeartbeatRequest" })

export const HeartbeatOutcome = Schema.Literal("first_seen", "updated", "recovered")
export type HeartbeatOutcome = typeof HeartbeatOutcome.Type

export const HeartbeatResponse = Schema.Struct({
  agent_id: AgentId,
  outcome: HeartbeatOutcome,
  /** How long this agent may stay silent before it times out, given its current state. */
  timeout_ms: Schema.Int
}).annotations({ identifier: "HeartbeatResponse" })
export type HeartbeatResponse = typeof HeartbeatResponse.Type
