import { createHash, createPrivateKey, generateKeyPairSync, randomBytes, sign } from "node:crypto"
import type { RequestSigner } from "@agent-marketplace/domain/identity/SignedClient"
import { Effect } from "effect"

/**
 * A key-bound agent's Ed25519 key pair as the credentials file keeps it: the raw 32-byte public key
 * and private seed, unpadded base64url (the JWK `x` and `d`). The private key never leaves the file.
 */
export interface KeyMaterial {
  readonly public_key: string
  readonly private_key: string
}

/** A fresh Ed25519 key pair (node:crypto). */
export const generateKeyMaterial: Effect.Effect<KeyMaterial> = Effect.sync(() => {
  const { privateKey } = generateKeyPairSync("ed25519")
  const jwk = privateKey.export({ format: "jwk" })
  return { public_key: jwk.x!, private_key: jwk.d! }
})

/**
 * The signer of every request of `agentId` (RFC 9421 profile in the domain's `Signature.ts`):
 * Ed25519 with the key from the credentials file, SHA-256 for `Content-Digest`, 16 random bytes per
 * nonce. Throws (a defect) only if the file's key material is not an Ed25519 key.
 */
export const signerFor = (agentId: string, key: KeyMaterial): RequestSigner => {
  const privateKey = createPrivateKey({
    key: { kty: "OKP", crv: "Ed25519", x: key.public_key, d: key.private_key },
    format: "jwk"
  })
  return {
    keyid: agentId,
    sign: (base) => new Uint8Array(sign(null, base, privateKey)),
    sha256: (bytes) => new Uint8Array(createHash("sha256").update(bytes).digest()),
    nonce: Effect.sync(() => randomBytes(16).toString("base64url"))
  }
}

/** Whether the file's key material is a usable Ed25519 key pair. */
export const isUsableKeyMaterial = (key: KeyMaterial): boolean => {
  try {
    signerFor("check", key)
    return true
  } catch {
    return false
  }
}
