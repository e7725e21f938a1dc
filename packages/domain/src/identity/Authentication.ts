import { HttpApiMiddleware, HttpApiSecurity } from "@effect/platform"
import { Context } from "effect"
import { AuthenticationFailedError } from "../shared/Errors"
import type { AgentId } from "../shared/Ids"

/** The authenticated caller of a request; derived from its credential, never from the body. */
export class CurrentAgent extends Context.Tag("CurrentAgent")<
  CurrentAgent,
  { readonly agent_id: AgentId }
>() {}

/** Bearer-token (or, later, signature) authentication for agent endpoints. */
export class Authentication extends HttpApiMiddleware.Tag<Authentication>()("Authentication", {
  failure: AuthenticationFailedError,
  provides: CurrentAgent,
  security: { bearer: HttpApiSecurity.bearer }
}) {}
