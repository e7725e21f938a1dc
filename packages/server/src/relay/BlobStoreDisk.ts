import { createReadStream } from "node:fs"
import * as fs from "node:fs/promises"
import { join } from "node:path"
import * as NodeStream from "@effect/platform-node/NodeStream"
import { Effect, Exit, Layer, Stream } from "effect"
import { BlobStore, gatherPieces, validBlobKey } from "./BlobStore"

/** Pieces read back from disk. */
const READ_CHUNK_BYTES = 256 * 1024

/** A filesystem call; a failure is a defect (the disk is ours). */
const io = <A>(f: () => Promise<A>) => Effect.orDie(Effect.tryPromise(f))

const ignoreMissing = (f: () => Promise<unknown>) =>
  io(() =>
    f().catch((error: NodeJS.ErrnoException) => (error.code === "ENOENT" ? undefined : Promise.reject(error)))
  )

/** Bytes of incoming pieces gathered into one `writev` while the previous one is written. */
const WRITE_BATCH_BYTES = 256 * 1024

/** Writes all of `buffers` at the file's position (a `writev` may write fewer bytes than asked). */
export const writeAll = async (
  handle: { readonly writev: (buffers: Array<Uint8Array>) => Promise<{ readonly bytesWritten: number }> },
  buffers: ReadonlyArray<Uint8Array>
) => {
  let rest = buffers
  while (rest.length > 0) {
    let { bytesWritten } = await handle.writev([...rest])
    let i = 0
    while (i < rest.length && bytesWritten >= rest[i]!.length) bytesWritten -= rest[i++]!.length
    rest =
      i < rest.length && bytesWritten > 0
        ? [rest[i]!.subarray(bytesWritten), ...rest.slice(i + 1)]
        : rest.slice(i)
  }
}

/**
 * Streams `bytes` into `handle` with one write in flight: pieces that arrive while a batch is
 * written gather into the next (`gatherPieces`, at least `WRITE_BATCH_BYTES`), so receiving and
 * writing overlap and an upload holds at most two batches. Awaiting each piece's own write made the
 * upload wait for the disk once every 64 KiB socket read (design/relay.md).
 */
const writeStream = <E, R>(handle: fs.FileHandle, bytes: Stream.Stream<Uint8Array, E, R>) =>
  Effect.suspend(() => {
    let inFlight: Promise<void> = Promise.resolve()
    const written = io(() => inFlight)
    return Stream.runForEach(gatherPieces(bytes, WRITE_BATCH_BYTES), (batch) =>
      Effect.zipRight(
        written,
        Effect.sync(() => {
          inFlight = writeAll(handle, batch)
          // Marked handled here; the failure surfaces where `inFlight` is awaited.
          inFlight.catch(() => undefined)
        })
      )
    ).pipe(
      Effect.zipRight(written),
      // A failed or interrupted upload still waits for the write in flight before the file is closed.
      Effect.onExit((exit) =>
        Exit.isFailure(exit) ? Effect.promise(() => inFlight.catch(() => undefined)) : Effect.void
      )
    )
  })

/**
 * Blobs as files in one directory (`$AGENT_MARKETPLACE_DATA_DIR/relay` for the embedded default).
 * A write streams into `<key>.tmp` (created exclusively, mode 0600; `writeStream`), fsyncs it,
 * renames it to `<key>` and fsyncs the directory, so a blob is either complete under its name or
 * not there; a failed or interrupted write removes its temporary file. Reads stream the file in
 * 256 KiB pieces: resident memory never grows with the blob's size. A file removed while a download
 * still reads it stays readable to that download (POSIX unlink).
 */
export const BlobStoreDisk = (dir: string) =>
  Layer.effect(
    BlobStore,
    Effect.gen(function* () {
      yield* io(() => fs.mkdir(dir, { recursive: true, mode: 0o700 }))
      const pathOf = (key: string) =>
        validBlobKey.test(key) ? Effect.succeed(join(dir, key)) : Effect.dieMessage("invalid relay blob key")
      const syncDir = io(async () => {
        const handle = await fs.open(dir, "r")
        try {
          await handle.sync()
        } finally {
          await handle.close()
        }
      })
      return {
        kind: "disk",
        write: (key, bytes) =>
          Effect.gen(function* () {
            const path = yield* pathOf(key)
            const temporary = `${path}.tmp`
            yield* Effect.acquireUseRelease(
              io(() => fs.open(temporary, "wx", 0o600)),
              (handle) => writeStream(handle, bytes).pipe(Effect.zipLeft(io(() => handle.sync()))),
              (handle, exit) =>
                io(() => handle.close()).pipe(
                  Effect.zipRight(
                    Exit.isFailure(exit) ? ignoreMissing(() => fs.unlink(temporary)) : Effect.void
                  )
                )
            )
            yield* io(() => fs.rename(temporary, path))
            yield* syncDir
          }),
        read: (key) =>
          Stream.unwrap(
            Effect.map(pathOf(key), (path) =>
              NodeStream.fromReadable(
                () => createReadStream(path, { highWaterMark: READ_CHUNK_BYTES }),
                (error) => error,
                { chunkSize: READ_CHUNK_BYTES }
              ).pipe(Stream.orDie)
            )
          ),
        remove: (key) =>
          Effect.flatMap(pathOf(key), (path) =>
            Effect.zipRight(
              ignoreMissing(() => fs.unlink(path)),
              ignoreMissing(() => fs.unlink(`${path}.tmp`))
            )
          ),
        keys: io(() => fs.readdir(dir)).pipe(
          Effect.map((names) => [
            ...new Set(names.map((n) => n.replace(/\.tmp$/, "")).filter((n) => validBlobKey.test(n)))
          ])
        )
      }
    })
  )
