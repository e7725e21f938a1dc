import { HttpApiMiddleware, HttpApiSecurity, OpenApi } from "@effect/platform"
import { Context, Schema } from "effect"
import { AuthenticationFailedError, InputInvalidError } from "../shared/Errors"
import type { AgentId } from "../shared/Ids"

/** The authenticated caller of a request; derived from its credential, never from the body. */
export class CurrentAgent extends Context.Tag("CurrentAgent")<
  CurrentAgent,
  {
    readonly agent_id: AgentId
    /** How the caller proved it: a bearer token or an HTTP message signature by its bound key. */
    readonly credential: "bearer" | "signature"
  }
>() {}

/**
 * Authentication for agent endpoints: a bearer token (`Authorization: Bearer …`) or an HTTP message
 * signature (RFC 9421: `Signature-Input` + `Signature`, see `Signature.ts`) by the agent's bound key.
 * A signed request is judged by its signature alone. A body that does not match its
 * `Content-Digest` is a 400, every other refusal a 401.
 */
export class Authentication extends HttpApiMiddleware.Tag<Authentication>()("Authentication", {
  failure: Schema.Union(AuthenticationFailedError, InputInvalidError),
  provides: CurrentAgent,
  security: {
    bearer: HttpApiSecurity.bearer,
    signature: HttpApiSecurity.apiKey({ key: "Signature", in: "header" }).pipe(
      HttpApiSecurity.annotate(
        OpenApi.Description,
        "RFC 9421 HTTP message signature by the agent's bound Ed25519 key (keyid = agent id; covers @method, @path, @query, content-digest, idempotency-key; parameters created and nonce), sent with Signature-Input"
      )
    )
  }
}) {}
