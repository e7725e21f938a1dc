import { HttpApiMiddleware, HttpApiSecurity } from "@effect/platform"
import { AuthenticationFailedError } from "../shared/Errors"

/**
 * The operator's credential on `/admin/*`: the `Admin-Token` header, compared in constant time with
 * `AGENT_MARKETPLACE_ADMIN_TOKEN`. A missing or wrong token is a 401; so is any token when the server
 * has no admin token configured (the admin endpoints are then disabled).
 */
export class AdminAuthentication extends HttpApiMiddleware.Tag<AdminAuthentication>()("AdminAuthentication", {
  failure: AuthenticationFailedError,
  security: { adminToken: HttpApiSecurity.apiKey({ key: "Admin-Token", in: "header" }) }
}) {}
