/**
 * Key-bound agents in tests: Ed25519 key pairs (node:crypto), the shared signing client of the
 * domain, and raw signed requests that a test can tamper with after signing.
 */
import { createHash, generateKeyPairSync, type KeyObject, randomBytes, sign } from "node:crypto"
import { MarketplaceApi } from "@agent-marketplace/domain/Api"
import { SIGNATURE_ALGORITHM, signRequest, splitTarget } from "@agent-marketplace/domain/identity/Signature"
import { type RequestSigner, signingClient } from "@agent-marketplace/domain/identity/SignedClient"
import { AgentId } from "@agent-marketplace/domain/shared/Ids"
import { HttpApiClient } from "@effect/platform"
import { Clock, Effect } from "effect"
import { anonClient } from "./Harness"

export interface KeyPair {
  /** The raw public key, unpadded base64url (what `register` and `rotate-key` send). */
  readonly publicKey: string
  readonly privateKey: KeyObject
}

export const generateKey = (): KeyPair => {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519")
  const jwk = publicKey.export({ format: "jwk" })
  return { publicKey: jwk.x!, privateKey }
}

const sha256 = (bytes: Uint8Array) => new Uint8Array(createHash("sha256").update(bytes).digest())

/** A signer for `keyid` with `key` (fresh random nonces). */
export const signerFor = (keyid: string, key: KeyPair): RequestSigner => ({
  keyid,
  sign: (base) => new Uint8Array(sign(null, base, key.privateKey)),
  sha256,
  nonce: Effect.sync(() => randomBytes(16).toString("base64url"))
})

/** A typed client whose every request is signed by `key` as `keyid`. */
export const signedClientFor = (keyid: string, key: KeyPair) =>
  HttpApiClient.make(MarketplaceApi, {
    transformClient: (client) => signingClient(client, signerFor(keyid, key))
  })

/** Registers a key-bound agent (no bearer token unless `allowBearer`). */
export const registerKeyed = (rawId: string, options: { readonly allowBearer?: boolean } = {}) =>
  Effect.gen(function* () {
    const id = AgentId.make(rawId)
    const key = generateKey()
    const anon = yield* anonClient
    const res = yield* anon.agents.register({
      headers: {},
      payload: {
        agent_id: id,
        public_key: key.publicKey,
        ...(options.allowBearer === undefined ? {} : { allow_bearer: options.allowBearer })
      }
    })
    return { id, key, token: res.token, client: yield* signedClientFor(id, key) }
  })

export type KeyedAgent = Effect.Effect.Success<ReturnType<typeof registerKeyed>>

/** What a raw signed request is made of; change any field after signing to tamper with it. */
export interface SignedInit {
  readonly method: string
  /** Path and query string, as sent. */
  readonly target: string
  readonly headers: Record<string, string>
  readonly body: string | undefined
}

/**
 * Signs a raw request as the CLI would (`created` from the Clock unless given, a fresh nonce unless
 * given): `content-digest` for a body, `idempotency-key` covered when present.
 */
export const signRaw = (
  request: {
    readonly method: string
    readonly target: string
    readonly headers?: Record<string, string>
    readonly body?: string
  },
  keyid: string,
  key: KeyPair,
  params: { readonly created?: number; readonly nonce?: string } = {}
) =>
  Effect.gen(function* () {
    const signer = signerFor(keyid, key)
    const created = params.created ?? Math.floor((yield* Clock.currentTimeMillis) / 1000)
    const nonce = params.nonce ?? (yield* signer.nonce)
    const headers: Record<string, string> = { ...(request.headers ?? {}) }
    if (request.body !== undefined) headers["content-type"] = "application/json"
    const { path, query } = splitTarget(request.target)
    const added = signRequest(
      {
        method: request.method,
        path,
        query,
        headers,
        body: request.body === undefined ? undefined : new TextEncoder().encode(request.body)
      },
      { keyid, created, nonce, alg: SIGNATURE_ALGORITHM },
      signer
    )
    return {
      method: request.method,
      target: request.target,
      headers: { ...headers, ...added },
      body: request.body
    } satisfies SignedInit
  })

/** The `RequestInit` of a signed request for `Edge.send`. */
export const toInit = (signed: SignedInit): [string, RequestInit] => [
  signed.target,
  { method: signed.method, headers: signed.headers, body: signed.body }
]
