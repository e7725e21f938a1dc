import { createHash, createHmac, randomBytes, randomFillSync, timingSafeEqual } from "node:crypto"
import { Context, Effect, Layer } from "effect"

/** Secrets and tokens come from here (node:crypto), so tests can make them deterministic. */
export class SecureRandom extends Context.Tag("SecureRandom")<
  SecureRandom,
  { readonly hex: (bytes: number) => Effect.Effect<string> }
>() {
  /**
   * node:crypto, drawn in batches: one `randomFillSync` of 4 KiB serves many tokens and request ids
   * (as Node's own `randomUUID` does), instead of one call into OpenSSL each. Every byte is used once.
   */
  static readonly layer = Layer.sync(SecureRandom, () => {
    const pool = Buffer.alloc(4096)
    let offset = pool.length
    return {
      hex: (bytes) =>
        Effect.sync(() => {
          if (bytes > pool.length) return randomBytes(bytes).toString("hex")
          if (offset + bytes > pool.length) {
            randomFillSync(pool)
            offset = 0
          }
          offset += bytes
          return pool.toString("hex", offset - bytes, offset)
        })
    }
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
