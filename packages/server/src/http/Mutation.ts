import { CurrentAgent } from "@agent-marketplace/domain/identity/Authentication"
import type { AgentId } from "@agent-marketplace/domain/shared/Ids"
import { HttpServerResponse } from "@effect/platform"
import { Effect, type Schema } from "effect"
import { Idempotency, type StoredResponse } from "../idempotency/Idempotency"

/** The stored (or freshly stored) response, byte-for-byte, as the HTTP answer. */
export const respond = (stored: StoredResponse) =>
  HttpServerResponse.text(stored.body, { status: stored.status, contentType: "application/json" })

/**
 * An idempotent mutation by the authenticated caller: authorization, then the idempotency record and
 * the effect in one transaction (see `Idempotency.mutate`).
 */
export const mutation = <X, A, I, E1, E2, R1, R2>(
  request: {
    readonly key: string
    readonly method: string
    readonly path: string
    readonly body: unknown
    readonly success: Schema.Schema<A, I>
    readonly status: number
  },
  authorize: (caller: AgentId) => Effect.Effect<X, E1, R1>,
  apply: (authorized: X, caller: AgentId) => Effect.Effect<A, E2, R2>
) =>
  Effect.gen(function* () {
    const { agent_id } = yield* CurrentAgent
    const idempotency = yield* Idempotency
    const stored = yield* idempotency.mutate(
      { ...request, caller: agent_id },
      authorize(agent_id) as Effect.Effect<X, any, R1>,
      (x) => apply(x, agent_id) as Effect.Effect<A, any, R2>
    )
    return respond(stored)
  }) as Effect.Effect<
    HttpServerResponse.HttpServerResponse,
    E1 | E2 | Effect.Effect.Error<ReturnType<(typeof Idempotency.Service)["mutate"]>>,
    R1 | R2 | CurrentAgent | Idempotency
  >
