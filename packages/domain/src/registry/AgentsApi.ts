import { HttpApiEndpoint, HttpApiGroup } from "@effect/platform"
import { Schema } from "effect"
import { HeartbeatRequest, HeartbeatResponse } from "../heartbeat/Heartbeat"
import { Authentication } from "../identity/Authentication"
import { AuthenticationFailedError } from "../shared/Errors"
import { AgentId, AssignmentId, BooleanFromQuery, Items, Limit, Page, strict } from "../shared/Ids"
import { Assignment, AssignmentStatus } from "../tasks/Task"
import {
  AgentListing,
  CapabilitiesRequest,
  CapabilityName,
  DeregisterResponse,
  DiscoverCandidate,
  RegisterRequest,
  RegisterResponse,
  RotateKeyRequest,
  TokenResponse
} from "./Agent"

export const ListAgentsQuery = Schema.Struct({
  alive_only: Schema.optional(BooleanFromQuery),
  include_deregistered: Schema.optional(BooleanFromQuery),
  limit: Schema.optional(Limit),
  after: Schema.optional(AgentId)
}).annotations(strict)

export const DiscoverQuery = Schema.Struct({
  capability: Schema.optional(CapabilityName),
  cap: Schema.optional(CapabilityName),
  include_busy: Schema.optional(BooleanFromQuery),
  limit: Schema.optional(Limit)
}).annotations(strict)

export const MyAssignmentsQuery = Schema.Struct({
  status: Schema.optional(AssignmentStatus),
  limit: Schema.optional(Limit),
  after: Schema.optional(AssignmentId)
}).annotations(strict)

export const RegisterHeaders = Schema.Struct({
  authorization: Schema.optional(Schema.String),
  "registration-token": Schema.optional(Schema.String)
})

export class AgentsApi extends HttpApiGroup.make("agents")
  .add(HttpApiEndpoint.post("rotateToken", "/agents/rotate-token").addSuccess(TokenResponse))
  .add(
    HttpApiEndpoint.post("rotateKey", "/agents/rotate-key")
      .setPayload(RotateKeyRequest)
      .addSuccess(AgentListing)
  )
  .add(
    HttpApiEndpoint.put("declareCapabilities", "/agents/capabilities")
      .setPayload(CapabilitiesRequest)
      .addSuccess(AgentListing)
  )
  .add(
    HttpApiEndpoint.post("heartbeat", "/agents/heartbeat")
      .setPayload(HeartbeatRequest)
      .addSuccess(HeartbeatResponse)
  )
  .add(HttpApiEndpoint.post("deregister", "/agents/deregister").addSuccess(DeregisterResponse))
  .add(HttpApiEndpoint.get("me", "/agents/me").addSuccess(AgentListing))
  .add(
    HttpApiEndpoint.get("assignments", "/agents/:agent_id/assignments")
      .setPath(Schema.Struct({ agent_id: AgentId }))
      .setUrlParams(MyAssignmentsQuery)
      .addSuccess(Page(Assignment))
  )
  .middlewareEndpoints(Authentication)
  .add(
    HttpApiEndpoint.post("register", "/agents/register")
      .setHeaders(RegisterHeaders)
      .setPayload(RegisterRequest)
      .addSuccess(RegisterResponse)
      .addError(AuthenticationFailedError)
  )
  .add(HttpApiEndpoint.get("list", "/agents").setUrlParams(ListAgentsQuery).addSuccess(Page(AgentListing)))
  .add(
    HttpApiEndpoint.get("discover", "/agents/discover")
      .setUrlParams(DiscoverQuery)
      .addSuccess(Items(DiscoverCandidate))
  ) {}
