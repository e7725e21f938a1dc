import { Context, type Effect, Stream } from "effect"

/**
 * Where relay bytes live, one backend per store layer: memory (the memory layer), files in a
 * directory (SQLite, the embedded default) or chunk rows in Postgres (shared by every replica).
 * Blobs are opaque ciphertext addressed by a key the relay chooses (one key per upload attempt);
 * the disk and Postgres backends move them in bounded pieces, never whole.
 */
export interface BlobStoreShape {
  readonly kind: "memory" | "disk" | "postgres"
  /**
   * Stores the stream as blob `key`. When the stream or the write fails (or is interrupted), whatever
   * was written is removed and the failure is passed on.
   */
  readonly write: <E>(key: string, bytes: Stream.Stream<Uint8Array, E>) => Effect.Effect<void, E>
  /** The blob's bytes, in pieces of at most about a MiB; a missing blob is a defect of the stream. */
  readonly read: (key: string) => Stream.Stream<Uint8Array>
  /** Removes the blob and any partial write of it; nothing happens when there is none. */
  readonly remove: (key: string) => Effect.Effect<void>
  /** The keys that have bytes in the backend (complete, or being written). */
  readonly keys: Effect.Effect<ReadonlyArray<string>>
}

export class BlobStore extends Context.Tag("BlobStore")<BlobStore, BlobStoreShape>() {}

/** Blob keys are `<relay_id>.<hex>`: safe as file names and as SQL text. */
export const validBlobKey = /^relay_[A-Za-z0-9_-]{22}\.[0-9a-f]{1,64}$/

/**
 * Gathers a stream of pieces into lists of consecutive pieces of at least `minBytes` in all (the
 * last list shorter), without copying a byte; empty pieces are dropped. A backend writes a list at a
 * time, so what an upload holds is bounded by the lists in hand, never by the blob.
 */
export const gatherPieces = <E, R>(
  bytes: Stream.Stream<Uint8Array, E, R>,
  minBytes: number
): Stream.Stream<Array<Uint8Array>, E, R> =>
  Stream.suspend(() => {
    let list: Array<Uint8Array> = []
    let listBytes = 0
    const take = () => {
      const full = list
      list = []
      listBytes = 0
      return full
    }
    return bytes.pipe(
      Stream.mapConcat((piece): ReadonlyArray<Array<Uint8Array>> => {
        if (piece.length === 0) return []
        list.push(piece)
        listBytes += piece.length
        return listBytes >= minBytes ? [take()] : []
      }),
      Stream.concat(Stream.suspend(() => (listBytes === 0 ? Stream.empty : Stream.make(take()))))
    )
  })
