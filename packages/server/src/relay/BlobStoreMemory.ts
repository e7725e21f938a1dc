import { Effect, Layer, Stream } from "effect"
import { BlobStore } from "./BlobStore"

/**
 * Blobs in RAM, for the memory store (tests, demos): it holds whole blobs by definition. A blob
 * becomes visible only once its write has completed.
 */
export const BlobStoreMemory = Layer.sync(BlobStore, () => {
  const blobs = new Map<string, ReadonlyArray<Uint8Array>>()
  return {
    kind: "memory" as const,
    write: (key, bytes) =>
      Effect.flatMap(Stream.runCollect(bytes), (chunks) =>
        Effect.sync(() => {
          blobs.set(key, [...chunks])
        })
      ),
    read: (key) =>
      Stream.suspend(() => {
        const chunks = blobs.get(key)
        return chunks === undefined ? Stream.dieMessage(`no relay blob ${key}`) : Stream.fromIterable(chunks)
      }),
    remove: (key) =>
      Effect.sync(() => {
        blobs.delete(key)
      }),
    keys: Effect.sync(() => [...blobs.keys()])
  }
})
