import { randomBytes } from "node:crypto"
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Deferred, Effect, Exit, Fiber, Stream } from "effect"
import { BlobStore } from "../../src/relay/BlobStore"
import { CHUNK_BYTES, READ_ROWS, WRITE_ROWS } from "../../src/relay/BlobStorePostgres"
import { relayStoreCases } from "../support/RelayStores"

const key = (n: number) => `relay_${String(n).padStart(22, "B")}.${n.toString(16).padStart(4, "0")}`

/** `size` random bytes, and the same bytes as a stream of `piece`-byte pieces. */
const blob = (size: number, piece = 64 * 1024) => {
  const bytes = new Uint8Array(randomBytes(size))
  const pieces: Array<Uint8Array> = []
  for (let at = 0; at < size; at += piece) pieces.push(bytes.subarray(at, Math.min(size, at + piece)))
  return { bytes, stream: Stream.fromIterable(pieces) }
}

const readAll = (blobs: typeof BlobStore.Service, k: string) =>
  Effect.map(Stream.runCollect(blobs.read(k)), (chunks) => {
    const pieces = Chunk.toReadonlyArray(chunks)
    return { bytes: Buffer.concat(pieces), largest: Math.max(0, ...pieces.map((p) => p.length)) }
  })

describe.each(relayStoreCases)("BlobStore contract ($name)", (storeCase) => {
  const run = <A, E>(effect: Effect.Effect<A, E, BlobStore>) =>
    Effect.scoped(Effect.flatMap(storeCase.make, (store) => Effect.provide(effect, store.layer)))

  it.effect("a multi-MiB blob written in pieces reads back byte for byte, in bounded pieces", () =>
    run(
      Effect.gen(function* () {
        const blobs = yield* BlobStore
        const { bytes, stream } = blob(3 * 1024 * 1024 + 12_345, 100_000)
        yield* blobs.write(key(1), stream)
        const back = yield* readAll(blobs, key(1))
        expect(back.bytes.equals(Buffer.from(bytes))).toBe(true)
        if (blobs.kind !== "memory") expect(back.largest).toBeLessThanOrEqual(CHUNK_BYTES + 100_000)
        expect(yield* blobs.keys).toEqual([key(1)])
        // A one-byte blob too.
        yield* blobs.write(key(2), Stream.make(Uint8Array.of(7)))
        expect([...(yield* readAll(blobs, key(2))).bytes]).toEqual([7])
        expect([...(yield* blobs.keys)].sort()).toEqual([key(1), key(2)])
      })
    )
  )

  it.effect("a failed write keeps nothing and passes the failure on", () =>
    run(
      Effect.gen(function* () {
        const blobs = yield* BlobStore
        const { stream } = blob(2 * 1024 * 1024)
        const error = yield* blobs.write(key(1), Stream.concat(stream, Stream.fail("cut"))).pipe(Effect.flip)
        expect(error).toBe("cut")
        expect(yield* blobs.keys).toEqual([])
        expect((yield* Effect.exit(readAll(blobs, key(1))))._tag).toBe("Failure")
        // The key can be written afterwards.
        yield* blobs.write(key(1), Stream.make(Uint8Array.of(1, 2)))
        expect([...(yield* readAll(blobs, key(1))).bytes]).toEqual([1, 2])
      })
    )
  )

  it.effect("an interrupted write keeps nothing", () =>
    run(
      Effect.gen(function* () {
        const blobs = yield* BlobStore
        const started = yield* Deferred.make<void>()
        // more than one COPY's worth on Postgres, so rows were committed before the interruption
        const { stream } = blob((WRITE_ROWS + 1) * CHUNK_BYTES + 10)
        const writer = yield* Effect.fork(
          blobs.write(
            key(1),
            stream.pipe(
              Stream.concat(Stream.fromEffect(Deferred.succeed(started, undefined)).pipe(Stream.drain)),
              Stream.concat(Stream.never)
            )
          )
        )
        yield* Deferred.await(started)
        const exit = yield* Fiber.interrupt(writer)
        expect(Exit.isInterrupted(exit)).toBe(true)
        expect(yield* blobs.keys).toEqual([])
      })
    )
  )

  it.effect("remove deletes a blob (and is a no-op when there is none); other blobs stay", () =>
    run(
      Effect.gen(function* () {
        const blobs = yield* BlobStore
        yield* blobs.write(key(1), blob(1000).stream)
        const kept = blob(1000)
        yield* blobs.write(key(2), kept.stream)
        yield* blobs.remove(key(1))
        yield* blobs.remove(key(1))
        yield* blobs.remove(key(3))
        expect(yield* blobs.keys).toEqual([key(2)])
        expect((yield* Effect.exit(readAll(blobs, key(1))))._tag).toBe("Failure")
        expect((yield* readAll(blobs, key(2))).bytes.equals(Buffer.from(kept.bytes))).toBe(true)
      })
    )
  )
})

describe.each(relayStoreCases.filter((c) => c.name !== "memory"))(
  "BlobStore physical layout ($name)",
  (storeCase) => {
    it.effect(
      "disk: one file per blob, no temporary file left; Postgres: ~256 KiB rows, and older rows of other sizes read back; remove leaves nothing",
      () =>
        Effect.scoped(
          Effect.gen(function* () {
            const store = yield* storeCase.make
            yield* Effect.gen(function* () {
              const blobs = yield* BlobStore
              const size = 5 * 1024 * 1024 + 1
              yield* blobs.write(key(1), blob(size).stream)
              if (storeCase.name === "sqlite") {
                expect(yield* store.physical).toEqual([key(1)])
              } else {
                const stats = yield* store.chunkStats
                expect(stats.bytes).toBe(size)
                expect(stats.rows).toBeGreaterThanOrEqual(Math.floor(size / (CHUNK_BYTES + 64 * 1024)))
                expect(stats.rows).toBeLessThanOrEqual(Math.ceil(size / CHUNK_BYTES))
                expect(stats.largest).toBeLessThanOrEqual(CHUNK_BYTES + 64 * 1024)
                // rows as an earlier release wrote them (1 MiB), more than one COPY's worth of rows
                const legacy = Array.from(
                  { length: READ_ROWS + 2 },
                  (_, i) => new Uint8Array(randomBytes(i === READ_ROWS + 1 ? 3 : 1024 * 1024))
                )
                yield* store.insertRows(key(2), legacy)
                const back = yield* readAll(yield* BlobStore, key(2))
                expect(back.bytes.equals(Buffer.concat(legacy))).toBe(true)
                yield* blobs.remove(key(2))
              }
              yield* blobs.remove(key(1))
              expect(yield* store.physical).toEqual([])
            }).pipe(Effect.provide(store.layer))
          })
        )
    )
  }
)
