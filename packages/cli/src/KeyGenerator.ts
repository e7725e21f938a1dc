import { randomUUID } from "node:crypto"
import { Context, Effect, Layer, Ref } from "effect"

/** Fresh idempotency keys (one per mutating invocation unless `--idempotency-key` is given). */
export class KeyGenerator extends Context.Tag("cli/KeyGenerator")<
  KeyGenerator,
  { readonly next: Effect.Effect<string> }
>() {
  /** Random v4 UUIDs from `node:crypto`. */
  static readonly layer = Layer.succeed(KeyGenerator, { next: Effect.sync(() => randomUUID()) })

  /** `key-1`, `key-2`, … (deterministic, for tests). */
  static readonly layerTest = Layer.effect(
    KeyGenerator,
    Effect.map(Ref.make(0), (counter) => ({
      next: Ref.updateAndGet(counter, (n) => n + 1).pipe(Effect.map((n) => `key-${n}`))
    }))
  )
}
