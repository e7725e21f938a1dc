import { Authentication } from "@agent-marketplace/domain/identity/Authentication"
import { Effect, Layer, Redacted } from "effect"
import { Identity } from "./Identity"

/** Bearer authentication for every agent endpoint: the caller is derived from the credential only. */
export const AuthenticationLive = Layer.effect(
  Authentication,
  Effect.map(Identity, (identity) =>
    Authentication.of({
      bearer: (token) =>
        Effect.map(identity.authenticate(Redacted.value(token)), (agent_id) => ({ agent_id }))
    })
  )
)
