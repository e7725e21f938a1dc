import { AdminAuthentication } from "@agent-marketplace/domain/admin/AdminAuthentication"
import { AuthenticationFailedError } from "@agent-marketplace/domain/shared/Errors"
import { Effect, Layer, Option, Redacted } from "effect"
import { secretsEqual } from "../platform/SecureRandom"
import { ServerConfig } from "../platform/ServerConfig"

/**
 * `Admin-Token` on `/admin/*`: compared in constant time (by SHA-256, so the length does not leak)
 * with `AGENT_MARKETPLACE_ADMIN_TOKEN`, never logged. Without a configured admin token every admin
 * request is a 401 (the endpoints exist but nobody can use them).
 */
export const AdminAuthenticationLive = Layer.effect(
  AdminAuthentication,
  Effect.map(ServerConfig, (config) =>
    AdminAuthentication.of({
      adminToken: (presented) => {
        const fail = (message: string) => Effect.fail(new AuthenticationFailedError({ message }))
        if (Option.isNone(config.adminToken)) {
          return fail("the admin endpoints are disabled: this server has no AGENT_MARKETPLACE_ADMIN_TOKEN")
        }
        const value = Redacted.value(presented)
        if (value.length === 0) return fail("missing credential: send Admin-Token: <operator secret>")
        return secretsEqual(value, Redacted.value(config.adminToken.value))
          ? Effect.void
          : fail("wrong admin token")
      }
    })
  )
)
