import { Authentication, type CurrentAgent } from "@agent-marketplace/domain/identity/Authentication"
import { AuthenticationFailedError } from "@agent-marketplace/domain/shared/Errors"
import { HttpRouter, HttpServerRequest } from "@effect/platform"
import type { Context } from "effect"
import { Effect, Layer, Redacted } from "effect"
import { Identity } from "./Identity"
import { isSigned, Signatures } from "./Signatures"

type Caller = Context.Tag.Service<typeof CurrentAgent>

/** A `pending` agent (approval mode) may call only its own `/agents/*` endpoints (route templates). */
export const pendingAllowedOn = (routePath: string): boolean => routePath.startsWith("/agents/")

/**
 * Authentication for every agent endpoint: the caller is derived from the credential only, a bearer
 * token or an RFC 9421 signature by the agent's bound key. A `pending` agent (approval mode) is
 * accepted only on its own `/agents/*` endpoints.
 *
 * The framework tries `bearer`, then `signature` when it fails. A signed request is judged by its
 * signature alone, so `bearer` steps aside for it; an unsigned request's answer is the bearer one,
 * which `signature` repeats (one more token lookup, on refused requests only). Neither caches.
 */
export const AuthenticationLive = Layer.effect(
  Authentication,
  Effect.gen(function* () {
    const identity = yield* Identity
    const signatures = yield* Signatures
    const allowPending = Effect.map(HttpRouter.RouteContext, (route) => ({
      allowPending: pendingAllowedOn(route.route.path)
    }))
    const bearer = (
      token: string
    ): Effect.Effect<Caller, AuthenticationFailedError, HttpRouter.RouteContext> =>
      Effect.flatMap(allowPending, (options) => identity.authenticate(token, options)).pipe(
        Effect.map((agent_id) => ({ agent_id, credential: "bearer" }))
      )
    return Authentication.of({
      bearer: (token) =>
        Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) =>
          isSigned(request.headers)
            ? Effect.fail(new AuthenticationFailedError({ message: "signed request" }))
            : bearer(Redacted.value(token))
        ),
      signature: () =>
        Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) =>
          isSigned(request.headers)
            ? Effect.flatMap(allowPending, (options) => signatures.verify(request, options)).pipe(
                Effect.map((agent_id): Caller => ({ agent_id, credential: "signature" }))
              )
            : bearer((request.headers.authorization ?? "").replace(/^Bearer /, ""))
        )
    })
  })
)
