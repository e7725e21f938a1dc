import { MarketplaceApi } from "@agent-marketplace/domain/Api"
import { CurrentAgent } from "@agent-marketplace/domain/identity/Authentication"
import { InputInvalidError, PermissionDeniedError } from "@agent-marketplace/domain/shared/Errors"
import { HttpApiBuilder, HttpServerRequest } from "@effect/platform"
import { Effect, Option } from "effect"
import { Heartbeat } from "../heartbeat/Heartbeat"
import { onLane } from "../http/FastLane"
import { isSigned, Signatures } from "../identity/Signatures"
import { agentToWire, assignmentToWire, iso, nextCursor } from "../platform/Wire"
import { TaskRepo } from "../tasks/TaskRepo"
import { AgentRepo } from "./AgentRepo"
import { Registry } from "./Registry"

const DEFAULT_LIMIT = 100

export const AgentsHttp = HttpApiBuilder.group(MarketplaceApi, "agents", (handlers) =>
  onLane(
    Effect.gen(function* () {
      const registry = yield* Registry
      const heartbeat = yield* Heartbeat
      const agents = yield* AgentRepo
      const taskRepo = yield* TaskRepo
      const signatures = yield* Signatures
      return handlers
        .handle("register", ({ headers, payload }) =>
          Effect.gen(function* () {
            // A signed registration proves the id by its bound key (verified before anything else).
            const request = yield* HttpServerRequest.HttpServerRequest
            const signer = isSigned(request.headers)
              ? Option.some(yield* signatures.verify(request, { forRegistration: true }))
              : Option.none()
            return yield* registry.register(payload, {
              bearer: Option.fromNullable(headers.authorization).pipe(
                Option.filter((h) => h.startsWith("Bearer ")),
                Option.map((h) => h.slice("Bearer ".length))
              ),
              registrationToken: Option.fromNullable(headers["registration-token"]),
              signer
            })
          })
        )
        .handle("rotateToken", () => Effect.flatMap(CurrentAgent, (me) => registry.rotateToken(me.agent_id)))
        .handle("rotateKey", ({ payload }) =>
          Effect.flatMap(CurrentAgent, (me) => registry.rotateKey(me, payload.public_key))
        )
        .handle("declareCapabilities", ({ payload }) =>
          Effect.flatMap(CurrentAgent, (me) =>
            registry.declareCapabilities(me.agent_id, payload.capabilities)
          )
        )
        .handle("heartbeat", ({ payload }) =>
          Effect.flatMap(CurrentAgent, (me) => heartbeat.beat(me.agent_id, payload.busy ?? false))
        )
        .handle("deregister", () => Effect.flatMap(CurrentAgent, (me) => registry.deregister(me.agent_id)))
        .handle("me", () => Effect.flatMap(CurrentAgent, (me) => Effect.orDie(registry.listing(me.agent_id))))
        .handle("assignments", ({ path, urlParams }) =>
          Effect.gen(function* () {
            const me = yield* CurrentAgent
            if (me.agent_id !== path.agent_id) {
              return yield* new PermissionDeniedError({
                message: "an agent can list only its own assignments"
              })
            }
            const limit = urlParams.limit ?? DEFAULT_LIMIT
            const rows = yield* taskRepo.assignmentsOfAgent(
              me.agent_id,
              Option.fromNullable(urlParams.status),
              {
                after: Option.fromNullable(urlParams.after),
                limit
              }
            )
            return {
              items: rows.map(assignmentToWire),
              next: nextCursor(rows, limit, (a) => a.assignment_id)
            }
          })
        )
        .handle("list", ({ urlParams }) =>
          Effect.gen(function* () {
            const limit = urlParams.limit ?? DEFAULT_LIMIT
            const rows = yield* agents.list({
              aliveOnly: urlParams.alive_only ?? false,
              includeDeregistered: urlParams.include_deregistered ?? false,
              after: Option.fromNullable(urlParams.after),
              limit
            })
            return { items: rows.map(agentToWire), next: nextCursor(rows, limit, (a) => a.agent.agent_id) }
          })
        )
        .handle("discover", ({ urlParams }) =>
          Effect.gen(function* () {
            const capability = urlParams.capability ?? urlParams.cap
            if (capability === undefined) {
              return yield* new InputInvalidError({
                message: "discover needs ?capability=<name> (alias cap)"
              })
            }
            const hits = yield* agents.discover({
              capability,
              includeBusy: urlParams.include_busy ?? false,
              limit: urlParams.limit ?? DEFAULT_LIMIT
            })
            return {
              items: hits.map((h) => ({
                agent_id: h.agent.agent_id,
                name: h.agent.name,
                endpoint: h.agent.endpoint,
                capability: h.capability,
                current_load: h.load,
                max_concurrency: h.capability.max_concurrency,
                last_heartbeat_at: iso(h.last_heartbeat_at)
              }))
            }
          })
        )
    })
  )
)
