import { FileSystem, Path } from "@effect/platform"
import { Effect, Option, Random, Ref, Sink, Stream } from "effect"
import { LocalIoError, ServerUnreachableError } from "./Errors"
import { PROGRESS_THRESHOLD_BYTES, Progress } from "./Progress"
import type { RelayTransferError } from "./RelayClient"

/**
 * Files as streams for relay transfers: reading a file of known size, writing a download through a
 * temporary file, and progress bars. Loaded lazily with the relay and handoff handlers (effect's
 * Stream machinery is not needed by any other command, and `--help` should not parse it).
 */

export const ioError = (path: string, action: string) => (cause: { readonly message: string }) =>
  new LocalIoError({ path, message: `cannot ${action} ${path}: ${cause.message}` })

/** The size of a regular file (a directory or a missing file is a local error, exit 4). */
export const regularFileSize = (file: string) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const info = yield* fs.stat(file).pipe(Effect.mapError(ioError(file, "read")))
    if (info.type !== "File") {
      return yield* new LocalIoError({ path: file, message: `cannot read ${file}: not a regular file` })
    }
    return Number(info.size)
  })

/**
 * Reads `file` as a stream of exactly `size` bytes (a file that shrinks while it is sent fails the
 * transfer). The first local failure is kept in `failure`, because a stream error that went through
 * an HTTP request body comes back as a transport error: the caller reports the local one instead.
 */
export const fileBytes = (file: string, size: number, failure: Ref.Ref<Option.Option<LocalIoError>>) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const read = yield* Ref.make(0)
    const complete = Effect.flatMap(Ref.get(read), (n) =>
      n === size
        ? Effect.void
        : Effect.fail(
            new LocalIoError({
              path: file,
              message: `cannot read ${file}: it changed while being sent (${n} of ${size} bytes)`
            })
          )
    )
    return fs.stream(file, { bytesToRead: size }).pipe(
      Stream.mapError(ioError(file, "read")),
      Stream.tap((chunk) => Ref.update(read, (n) => n + chunk.length)),
      Stream.concat(Stream.execute(complete)),
      Stream.tapError((error) => Ref.set(failure, Option.some(error)))
    )
  })

/** Fails with the local failure recorded by `fileBytes` when there is one, else with `error`. */
export const preferLocalFailure =
  (failure: Ref.Ref<Option.Option<LocalIoError>>) =>
  <E>(error: E): Effect.Effect<never, E | LocalIoError> =>
    Effect.flatMap(
      Ref.get(failure),
      (local): Effect.Effect<never, E | LocalIoError> =>
        Option.isSome(local) ? Effect.fail(local.value) : Effect.fail(error)
    )

/**
 * Writes to `out` through a temporary file next to it (`.<name>.<random>.part`): `write` fills the
 * temporary file and the rename happens only if it succeeds; on any failure or interruption the
 * temporary file is deleted, and an existing `out` is left untouched.
 */
export const writeAtomically = <A, E, R>(out: string, write: (temp: string) => Effect.Effect<A, E, R>) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const suffix = yield* Random.nextIntBetween(0, 1_000_000_000)
    const temp = path.join(path.dirname(out), `.${path.basename(out)}.${suffix}.part`)
    const renamed = yield* Ref.make(false)
    return yield* write(temp).pipe(
      Effect.tap(() =>
        fs
          .rename(temp, out)
          .pipe(Effect.mapError(ioError(out, "write")), Effect.zipRight(Ref.set(renamed, true)))
      ),
      Effect.ensuring(
        Effect.flatMap(Ref.get(renamed), (done) => (done ? Effect.void : Effect.ignore(fs.remove(temp))))
      )
    )
  })

/** `bytes` into a new file at `temp` (created exclusively, mode 0600); returns the byte count. */
export const sinkTo = <E, R>(temp: string, bytes: Stream.Stream<Uint8Array, E, R>) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    // Created up front (exclusively, 0600), so an empty stream still leaves an empty file.
    yield* Effect.scoped(fs.open(temp, { flag: "wx", mode: 0o600 })).pipe(
      Effect.mapError(ioError(temp, "write"))
    )
    let written = 0
    yield* bytes.pipe(
      // The platform's file sink refuses empty writes (age ends an empty file with an empty chunk).
      Stream.filter((chunk) => chunk.length > 0),
      Stream.tap((chunk) =>
        Effect.sync(() => {
          written += chunk.length
        })
      ),
      Stream.run(Sink.mapError(fs.sink(temp, { flag: "w" }), ioError(temp, "write")))
    )
    return written
  })

/** A download's transfer failure as the CLI reports it (exit 3: the server or the network). */
export const transferFailed = (error: RelayTransferError) =>
  new ServerUnreachableError({
    url: error.url,
    message: `the download from ${error.url} was cut off: ${String((error.cause as { message?: string })?.message ?? error.cause)}`
  })

/**
 * `bytes` (`total` of them) with a progress bar when the file is larger than the threshold
 * (`fileSize`: the plaintext's size when `bytes` are its ciphertext).
 */
export const withProgress =
  (label: string, total: number, fileSize: number = total) =>
  <E, R>(bytes: Stream.Stream<Uint8Array, E, R>): Stream.Stream<Uint8Array, E, R | Progress> =>
    fileSize <= PROGRESS_THRESHOLD_BYTES
      ? bytes
      : Stream.unwrapScoped(
          Effect.map(
            Effect.flatMap(Progress, (progress) => progress.bar(label, total)),
            (bar) => Stream.tap(bytes, (chunk) => Effect.sync(() => bar.advance(chunk.length)))
          )
        )
