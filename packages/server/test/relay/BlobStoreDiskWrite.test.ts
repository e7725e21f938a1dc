import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { writeAll } from "../../src/relay/BlobStoreDisk"

/** A file handle whose `writev` writes at most `limit` bytes a call (as a short write may). */
const shortWriter = (limit: number) => {
  const written: Array<number> = []
  const calls: Array<number> = []
  return {
    written,
    calls,
    handle: {
      writev: async (buffers: Array<Uint8Array>) => {
        let room = limit
        for (const buffer of buffers) {
          const n = Math.min(room, buffer.length)
          written.push(...buffer.subarray(0, n))
          room -= n
          if (room === 0) break
        }
        calls.push(limit - room)
        return { bytesWritten: limit - room }
      }
    }
  }
}

describe("BlobStoreDisk writeAll", () => {
  it.effect("short writes go on from the first unwritten byte until every buffer is written, in order", () =>
    Effect.promise(async () => {
      const buffers = [
        Uint8Array.of(1, 2, 3),
        Uint8Array.of(4),
        Uint8Array.of(5, 6, 7, 8, 9),
        Uint8Array.of(10)
      ]
      const fake = shortWriter(4)
      await writeAll(fake.handle, buffers)
      expect(fake.written).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
      expect(fake.calls).toEqual([4, 4, 2])
    })
  )

  it.effect("a short write ending inside a buffer resumes inside it; nothing to write makes no call", () =>
    Effect.promise(async () => {
      const fake = shortWriter(2)
      await writeAll(fake.handle, [Uint8Array.of(1, 2, 3, 4, 5)])
      expect(fake.written).toEqual([1, 2, 3, 4, 5])
      expect(fake.calls).toEqual([2, 2, 1])
      const idle = shortWriter(2)
      await writeAll(idle.handle, [])
      expect(idle.calls).toEqual([])
    })
  )
})
