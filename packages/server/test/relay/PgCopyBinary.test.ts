import * as fc from "fast-check"
import { describe, expect, it } from "vitest"
import {
  CopyBinaryColumnReader,
  copyBinaryHeader,
  copyBinaryTrailer,
  copyBinaryTuple
} from "../../src/platform/PgCopyBinary"

/** A binary COPY stream of one bytea column holding `rows`. */
const stream = (rows: ReadonlyArray<Uint8Array>, header: Buffer = copyBinaryHeader) =>
  Buffer.concat([
    header,
    ...rows.flatMap((row) => copyBinaryTuple([{ _tag: "bytes", pieces: [row] }])),
    copyBinaryTrailer
  ])

/** `bytes` cut at the given offsets. */
const cut = (bytes: Buffer, at: ReadonlyArray<number>) => {
  const points = [...new Set(at.map((n) => n % (bytes.length + 1)))].sort((a, b) => a - b)
  const chunks: Array<Buffer> = []
  let from = 0
  for (const p of [...points, bytes.length]) {
    chunks.push(bytes.subarray(from, p))
    from = p
  }
  return chunks
}

const readAll = (chunks: ReadonlyArray<Buffer>) => {
  const reader = new CopyBinaryColumnReader()
  const out = chunks.flatMap((c) => reader.push(c))
  return { reader, out }
}

describe("PostgreSQL binary COPY format", () => {
  it("reads back the column's bytes from any cutting of the stream, as views of the chunks", () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 8 }),
        fc.array(fc.nat(), { maxLength: 12 }),
        (rows, at) => {
          const chunks = cut(stream(rows), at)
          const { reader, out } = readAll(chunks)
          expect(Buffer.concat(out).equals(Buffer.concat(rows))).toBe(true)
          expect(reader.rows).toBe(rows.length)
          expect(reader.done).toBe(true)
          // nothing copied: every piece is a view of one of the chunks
          for (const piece of out) expect(chunks.some((c) => c.buffer === piece.buffer)).toBe(true)
        }
      ),
      { numRuns: 300 }
    )
  })

  it("writes a tuple's fields as big-endian lengths and values, passing byte pieces on uncopied", () => {
    const a = Buffer.from([1, 2, 3])
    const b = Buffer.from([4])
    const out = copyBinaryTuple([
      { _tag: "text", value: "k€" },
      { _tag: "int4", value: 258 },
      { _tag: "bytes", pieces: [a, Buffer.alloc(0), b] }
    ])
    expect(out[1]).toBe(a)
    expect(out[2]).toBe(b)
    expect([...Buffer.concat(out)]).toEqual([
      0, 3, 0, 0, 0, 4, 0x6b, 0xe2, 0x82, 0xac, 0, 0, 0, 4, 0, 0, 1, 2, 0, 0, 0, 4, 1, 2, 3, 4
    ])
    expect([...copyBinaryHeader]).toEqual([
      0x50, 0x47, 0x43, 0x4f, 0x50, 0x59, 0x0a, 0xff, 0x0d, 0x0a, 0x00, 0, 0, 0, 0, 0, 0, 0, 0
    ])
  })

  it("skips a header extension", () => {
    const header = Buffer.concat([copyBinaryHeader.subarray(0, 15), Buffer.from([0, 0, 0, 3, 9, 9, 9])])
    const { reader, out } = readAll(cut(stream([Buffer.from([7, 8])], header), [16, 20]))
    expect([...Buffer.concat(out)]).toEqual([7, 8])
    expect(reader.done).toBe(true)
  })

  it("refuses what is not a one-column, non-null binary COPY stream", () => {
    const tuple2 = Buffer.concat([
      copyBinaryHeader,
      ...copyBinaryTuple([
        { _tag: "int4", value: 1 },
        { _tag: "int4", value: 2 }
      ])
    ])
    const withNull = Buffer.concat([copyBinaryHeader, Buffer.from([0, 1, 0xff, 0xff, 0xff, 0xff])])
    expect(() => readAll([Buffer.from("PGCOPY\nxxxxxxxxxxxxxxxxxxx")])).toThrow("not a binary COPY stream")
    expect(() => readAll([tuple2])).toThrow("a binary COPY tuple of 2 fields, expected 1")
    expect(() => readAll([withNull])).toThrow("a NULL")
    expect(() => readAll([stream([]), Buffer.from([0])])).toThrow("bytes after a binary COPY trailer")
    // a stream cut before its trailer is not done
    const { reader } = readAll([stream([Buffer.from([1])]).subarray(0, -1)])
    expect(reader.done).toBe(false)
  })
})
