/**
 * PostgreSQL's binary `COPY` format (https://www.postgresql.org/docs/current/sql-copy.html, "Binary
 * Format"): an 11-byte signature, a 32-bit flags field and a header extension, then per tuple a
 * 16-bit field count and each field as a 32-bit length and its bytes, then a 16-bit -1 trailer.
 * All integers are big-endian. Written and read here so that `bytea` moves as raw bytes, without the
 * hex text (twice the size) of the query protocol.
 */

const SIGNATURE = Buffer.from([0x50, 0x47, 0x43, 0x4f, 0x50, 0x59, 0x0a, 0xff, 0x0d, 0x0a, 0x00])

/** The header of a binary COPY stream: the signature, no flags, no extension. */
export const copyBinaryHeader: Buffer = Buffer.concat([SIGNATURE, Buffer.alloc(8)])

/** The end of a binary COPY stream. */
export const copyBinaryTrailer: Buffer = Buffer.from([0xff, 0xff])

/** A field of a tuple being written: a value's bytes, given as one or several pieces. */
export type CopyField =
  | { readonly _tag: "text"; readonly value: string }
  | { readonly _tag: "int4"; readonly value: number }
  | { readonly _tag: "bytes"; readonly pieces: ReadonlyArray<Uint8Array> }

/**
 * The buffers of one tuple, in order: the field headers and small values are fresh buffers, the
 * pieces of a `bytes` field are passed on as they are (never copied).
 */
export const copyBinaryTuple = (fields: ReadonlyArray<CopyField>): Array<Uint8Array> => {
  const out: Array<Uint8Array> = []
  let head: Array<Buffer> = [int16(fields.length)]
  for (const field of fields) {
    switch (field._tag) {
      case "text": {
        const bytes = Buffer.from(field.value, "utf8")
        head.push(int32(bytes.length), bytes)
        break
      }
      case "int4": {
        const value = Buffer.alloc(4)
        value.writeInt32BE(field.value, 0)
        head.push(int32(4), value)
        break
      }
      case "bytes": {
        let length = 0
        for (const piece of field.pieces) length += piece.length
        head.push(int32(length))
        out.push(Buffer.concat(head))
        head = []
        for (const piece of field.pieces) if (piece.length > 0) out.push(piece)
        break
      }
    }
  }
  if (head.length > 0) out.push(Buffer.concat(head))
  return out
}

const int16 = (n: number) => {
  const b = Buffer.alloc(2)
  b.writeInt16BE(n, 0)
  return b
}
const int32 = (n: number) => {
  const b = Buffer.alloc(4)
  b.writeInt32BE(n, 0)
  return b
}

const EMPTY = Buffer.alloc(0)

/**
 * Reads a binary COPY stream of one non-null column, chunk by chunk as it arrives, and gives back the
 * column's bytes as views of the chunks (never copied, never gathered into a whole value). Anything
 * but that format — a wrong signature, a tuple of another width, a NULL — throws.
 */
export class CopyBinaryColumnReader {
  private state: "header" | "extension" | "tuple" | "length" | "data" | "done" = "header"
  private carry: Buffer = EMPTY
  private remaining = 0
  /** Tuples read so far. */
  rows = 0

  /** Whether the trailer has been read. */
  get done(): boolean {
    return this.state === "done"
  }

  /** The column bytes contained in `chunk`, in order. */
  push(chunk: Buffer): Array<Buffer> {
    const out: Array<Buffer> = []
    let at = 0
    // `n` bytes of a fixed-size field, once they have all arrived (a field may straddle chunks)
    const fixed = (n: number): Buffer | undefined => {
      const available = this.carry.length + chunk.length - at
      if (available < n) {
        this.carry = Buffer.concat([this.carry, chunk.subarray(at)])
        at = chunk.length
        return undefined
      }
      if (this.carry.length === 0) {
        at += n
        return chunk.subarray(at - n, at)
      }
      const take = n - this.carry.length
      const bytes = Buffer.concat([this.carry, chunk.subarray(at, at + take)])
      at += take
      this.carry = EMPTY
      return bytes
    }
    for (;;) {
      switch (this.state) {
        case "header": {
          const header = fixed(SIGNATURE.length + 8)
          if (header === undefined) return out
          if (!header.subarray(0, SIGNATURE.length).equals(SIGNATURE)) {
            throw new Error("not a binary COPY stream")
          }
          this.remaining = header.readUInt32BE(SIGNATURE.length + 4)
          this.state = "extension"
          break
        }
        case "extension": {
          const skip = Math.min(this.remaining, chunk.length - at)
          at += skip
          this.remaining -= skip
          if (this.remaining > 0) return out
          this.state = "tuple"
          break
        }
        case "tuple": {
          const count = fixed(2)
          if (count === undefined) return out
          const fields = count.readInt16BE(0)
          if (fields === -1) {
            this.state = "done"
            break
          }
          if (fields !== 1) throw new Error(`a binary COPY tuple of ${fields} fields, expected 1`)
          this.state = "length"
          break
        }
        case "length": {
          const length = fixed(4)
          if (length === undefined) return out
          this.remaining = length.readInt32BE(0)
          if (this.remaining < 0) throw new Error("a NULL in a binary COPY stream of non-null bytes")
          this.rows++
          this.state = "data"
          break
        }
        case "data": {
          const take = Math.min(this.remaining, chunk.length - at)
          if (take > 0) out.push(chunk.subarray(at, at + take))
          at += take
          this.remaining -= take
          if (this.remaining > 0) return out
          this.state = "tuple"
          break
        }
        case "done": {
          if (at < chunk.length || this.carry.length > 0) throw new Error("bytes after a binary COPY trailer")
          return out
        }
      }
    }
  }
}
