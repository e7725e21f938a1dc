import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto"
import { Context, Effect, Layer } from "effect"

/** Secrets and tokens come from here (node:crypto), so tests can make them deterministic. */
export class SecureRandom extends Context.Tag("SecureRandom")<
  SecureRandom,
  { readonly hex: (bytes: number) => Effect.Effect<string> }
>() {
  static readonly layer = Layer.succeed(SecureRandom, {
    hex: (bytes) => Effect.sync(() => randomBytes(bytes).toString("hex"))
  })

  /** Deterministic: a counter rendered as hex, for tests that compare outputs. */
  static readonly layerTest = Layer.sync(SecureRandom, () => {
    let n = 0
    return { hex: (bytes) => Effect.sync(() => (++n).toString(16).padStart(bytes * 2, "0")) }
  })
}

export const sha256Hex = (value: string): string => createHash("sha256").update(value).digest("hex")

/** Constant-time comparison of two secrets (by their SHA-256, so lengths never leak). */
export const secretsEqual = (a: string, b: string): boolean =>
  timingSafeEqual(createHash("sha256").update(a).digest(), createHash("sha256").update(b).digest())

/** HMAC-SHA-256 of `value` under `key`, as hex (keyed pseudonyms that cannot be reversed without the key). */
export const keyedHashHex = (key: string, value: string): string =>
  createHmac("sha256", key).update(value).digest("hex")

/** Hex (an even number of digits) as unpadded base64url: 16 random bytes become 22 characters. */
export const hexToBase64Url = (hex: string): string => Buffer.from(hex, "hex").toString("base64url")
