import { createHash, createPublicKey, timingSafeEqual, verify } from "node:crypto"
import {
  parseContentDigest,
  parseSignature,
  SIGNATURE_WINDOW_SECS,
  signatureBase,
  splitTarget
} from "@agent-marketplace/domain/identity/Signature"
import { AuthenticationFailedError, InputInvalidError } from "@agent-marketplace/domain/shared/Errors"
import { AgentId } from "@agent-marketplace/domain/shared/Ids"
import type { HttpServerRequest } from "@effect/platform"
import { Clock, Context, Effect, Either, Layer, Option, Schema } from "effect"
import { AgentRepo } from "../registry/AgentRepo"
import { NonceRepo } from "./NonceRepo"

/** Whether a request carries a signature; a signed request is judged by its signature alone. */
export const isSigned = (headers: HttpServerRequest.HttpServerRequest["headers"]): boolean =>
  headers["signature-input"] !== undefined || headers.signature !== undefined

/** Ed25519 verification of `base` under a raw public key (unpadded base64url). */
export const verifyEd25519 = (publicKey: string, base: string, signature: Uint8Array): boolean => {
  try {
    const key = createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: publicKey }, format: "jwk" })
    return verify(null, Buffer.from(base, "utf8"), key, signature)
  } catch {
    return false
  }
}

/** Whether `publicKey` is a usable Ed25519 public key (node:crypto accepts it). */
export const isUsablePublicKey = (publicKey: string): boolean => {
  try {
    createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: publicKey }, format: "jwk" })
    return true
  } catch {
    return false
  }
}

const sha256 = (text: string): Buffer => createHash("sha256").update(text, "utf8").digest()

export interface VerifyOptions {
  /** Accept a `pending` agent (its own `/agents/*` endpoints in approval mode). */
  readonly allowPending?: boolean
  /** For `register`: accept `pending` and `deregistered` agents (re-registration by the bound key). */
  readonly forRegistration?: boolean
}

/**
 * Verification of RFC 9421 signed requests by key-bound agents (profile in the domain's
 * `Signature.ts`). Order: the headers' shape, `created` within ±60 s of the `Clock`, coverage of
 * the body and the Idempotency-Key, the agent's key and lifecycle, the signature itself, the body
 * against its `Content-Digest` (400), and last the nonce, inserted into the shared nonce store
 * (a replay is 401; a store failure fails the request).
 */
export class Signatures extends Context.Tag("Signatures")<
  Signatures,
  {
    readonly verify: (
      request: HttpServerRequest.HttpServerRequest,
      options?: VerifyOptions
    ) => Effect.Effect<AgentId, AuthenticationFailedError | InputInvalidError>
  }
>() {}

export const SignaturesLive = Layer.effect(
  Signatures,
  Effect.gen(function* () {
    const agents = yield* AgentRepo
    const nonces = yield* NonceRepo
    const fail = (message: string) => Effect.fail(new AuthenticationFailedError({ message }))

    return {
      verify: Effect.fn("Signatures.verify")(function* (
        request: HttpServerRequest.HttpServerRequest,
        options?: VerifyOptions
      ) {
        const headers = request.headers
        const input = headers["signature-input"]
        const signature = headers.signature
        if (input === undefined || signature === undefined) {
          return yield* fail("a signed request needs both Signature-Input and Signature")
        }
        const parsed = parseSignature(input, signature)
        if (Either.isLeft(parsed)) return yield* fail(`invalid signature: ${parsed.left}`)
        const { components, params } = parsed.right
        const agentId = Schema.decodeUnknownOption(AgentId)(params.keyid)
        if (Option.isNone(agentId)) return yield* fail("invalid signature: keyid is not an agent id")

        const now = yield* Clock.currentTimeMillis
        if (Math.abs(now / 1000 - params.created) > SIGNATURE_WINDOW_SECS) {
          return yield* fail(
            `signature created at ${params.created} is more than ${SIGNATURE_WINDOW_SECS} s from the server clock (${Math.floor(now / 1000)})`
          )
        }

        // The body as the app will read it (cached by the request): a read failure (too large, not
        // readable) is left to the request guard, which answers it as it answers the payload's.
        const body = yield* Effect.orDie(request.text)
        const digestHeader = headers["content-digest"]
        if ((body.length > 0 || digestHeader !== undefined) && !components.includes("content-digest")) {
          return yield* fail("invalid signature: a request with a body must cover content-digest")
        }
        if (headers["idempotency-key"] !== undefined && !components.includes("idempotency-key")) {
          return yield* fail(
            "invalid signature: a request with an Idempotency-Key must cover idempotency-key"
          )
        }

        const agent = yield* agents.get(agentId.value)
        if (Option.isNone(agent) || agent.value.public_key === null) {
          return yield* fail(`no key is bound to agent ${agentId.value}`)
        }
        const lifecycle = agent.value.lifecycle
        // Registration accepts the bound key's signature after a deregistration too (identity spec).
        const recovering = options?.forRegistration === true && lifecycle === "deregistered"
        if (lifecycle === "pending" && options?.allowPending !== true && options?.forRegistration !== true) {
          return yield* fail(
            `agent ${agentId.value} is pending operator approval: until then it is accepted only on its own /agents/* endpoints`
          )
        }
        if (lifecycle !== "registered" && lifecycle !== "pending" && !recovering) {
          return yield* fail(`agent ${agentId.value} is not active (${lifecycle})`)
        }

        const { path, query } = splitTarget(request.url)
        const base = signatureBase(
          { method: request.method, path, query, header: (name) => headers[name] },
          components,
          parsed.right.signatureParams
        )
        if (Either.isLeft(base)) return yield* fail(`invalid signature: ${base.left}`)
        if (!verifyEd25519(agent.value.public_key, base.right, parsed.right.signature)) {
          return yield* fail(`the signature does not verify with the key bound to agent ${agentId.value}`)
        }

        if (components.includes("content-digest")) {
          const digest = parseContentDigest(digestHeader ?? "")
          if (Option.isNone(digest)) {
            return yield* new InputInvalidError({
              message: "Content-Digest must carry a sha-256 digest (RFC 9530)"
            })
          }
          const actual = sha256(body)
          if (digest.value.length !== actual.length || !timingSafeEqual(digest.value, actual)) {
            return yield* new InputInvalidError({
              message: "the request body does not match its Content-Digest"
            })
          }
        }

        // Remembered for twice the window: every instant at which the same `created` is still accepted.
        const fresh = yield* nonces.insert({
          agent_id: agentId.value,
          nonce: params.nonce,
          expires_at: now + 2 * SIGNATURE_WINDOW_SECS * 1000,
          now
        })
        if (!fresh) return yield* fail("signature nonce already used (a replayed request)")
        return agentId.value
      })
    }
  })
)
