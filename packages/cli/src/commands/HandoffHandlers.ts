import { createHash } from "node:crypto"
import { RelayId } from "@agent-marketplace/domain/relay/Relay"
import { FileSystem } from "@effect/platform"
import * as NodeStream from "@effect/platform-node/NodeStream"
import * as age from "age-encryption"
import { Effect, Option, Ref, Schema, Stream } from "effect"
import {
  EnvelopeMalformedError,
  HandoffDecryptFailedError,
  HandoffHashMismatchError,
  HandoffRelayUnavailableError,
  LocalIoError,
  UsageError
} from "../Errors"
import { renderBody } from "../Format"
import { note, Output } from "../Output"
import { createSlot, deleteSlot, downloadSlot, RelayTransferError, uploadSlot } from "../RelayClient"
import { rootCommand } from "../Root"
import { normalizeServer } from "../Settings"
import {
  fileBytes,
  ioError,
  preferLocalFailure,
  regularFileSize,
  sinkTo,
  transferFailed,
  withProgress,
  writeAtomically
} from "../Transfers"
import { printBody } from "./Common"
import type { ReceiveArgs, SendArgs } from "./Handoff"
import { relayServer, slotOptions } from "./RelayHandlers"

/**
 * `handoff send` and `handoff receive`. Encryption is age (X25519) through `age-encryption`, as web
 * streams: the plaintext is read, hashed and encrypted chunk by chunk (64 KiB) while the ciphertext is
 * uploaded, and downloaded ciphertext is decrypted and hashed chunk by chunk into a temporary file,
 * so memory stays bounded whatever the file's size. This module is loaded only when a handoff runs.
 */

/** The envelope `handoff send` prints and `handoff receive` reads (never sent to the server). */
export const Envelope = Schema.Struct({
  v: Schema.Literal(1),
  server: Schema.String.pipe(Schema.pattern(/^https?:\/\/\S+$/)),
  relay_id: RelayId,
  download_token: Schema.String,
  expires_at: Schema.String,
  cipher: Schema.Literal("age-x25519"),
  identity: Schema.optional(Schema.String.pipe(Schema.startsWith("AGE-SECRET-KEY-1"))),
  plaintext_sha256: Schema.String.pipe(Schema.pattern(/^[0-9a-f]{64}$/)),
  plaintext_size: Schema.Int.pipe(Schema.nonNegative())
})
export type Envelope = typeof Envelope.Type

/** An age X25519 recipient: `age1` + 58 bech32 characters (post-quantum and tag recipients excluded). */
const X25519_RECIPIENT = /^age1[02-9ac-hj-np-z]{58}$/

/** Cancels a web stream that may not have been read to its end (releases the file it reads). */
const cancel = (stream: ReadableStream<Uint8Array>) =>
  Effect.promise(() => stream.cancel().catch(() => undefined))

const messageOf = (error: unknown): string =>
  error instanceof Error ? error.message : typeof error === "string" ? error : String(error)

/** Writes a secret file atomically with mode 0600 (the envelope holds a key and a download token). */
const writeSecretFile = (file: string, text: string) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    yield* writeAtomically(file, (temp) =>
      fs
        .writeFileString(temp, text, { flag: "wx", mode: 0o600 })
        .pipe(Effect.zipRight(fs.chmod(temp, 0o600)), Effect.mapError(ioError(file, "write")))
    )
  })

export const send = (args: SendArgs) =>
  Effect.gen(function* () {
    if (Option.isSome(args.recipient) && !X25519_RECIPIENT.test(args.recipient.value)) {
      return yield* new UsageError({
        message: "--recipient takes an age X25519 public key: age1 followed by 58 characters"
      })
    }
    const settings = yield* relayServer
    const size = yield* regularFileSize(args.file)

    // 1. The key: a fresh X25519 identity for this handoff, or the receiver's own public key.
    const identity = Option.isSome(args.recipient)
      ? Option.none<string>()
      : Option.some(yield* Effect.promise(() => age.generateX25519Identity()))
    const recipient = Option.isSome(args.recipient)
      ? args.recipient.value
      : yield* Effect.promise(() => age.identityToRecipient(Option.getOrThrow(identity)))
    const encrypter = new age.Encrypter()
    yield* Effect.try({
      try: () => encrypter.addRecipient(recipient),
      catch: (error) => new UsageError({ message: `--recipient: ${messageOf(error)}` })
    })

    // 2. The plaintext as a stream, hashed on the way; the ciphertext as a stream of known size.
    const failure = yield* Ref.make(Option.none<LocalIoError>())
    const hash = createHash("sha256")
    const plaintext = (yield* fileBytes(args.file, size, failure)).pipe(
      Stream.tap((chunk) => Effect.sync(() => hash.update(chunk)))
    )
    const readable = yield* Stream.toReadableStreamEffect(plaintext)
    const ciphertext = yield* Effect.promise(() => encrypter.encrypt(readable))
    const sizeBytes = ciphertext.size(size)

    // 3. A slot of exactly that size, and the upload.
    const slot = yield* createSlot(settings.server, { size_bytes: sizeBytes, ...slotOptions(args) }).pipe(
      Effect.tapError((error) =>
        Effect.zipRight(
          cancel(ciphertext),
          error._tag === "PayloadTooLargeError"
            ? note(
                `${args.file} encrypts to ${sizeBytes} bytes (age adds a header and 16 bytes per 64 KiB), more than the relay's ${error.limit_bytes}`
              )
            : Effect.void
        )
      )
    )
    const body = Stream.fromReadableStream({
      evaluate: () => ciphertext,
      onError: (error) =>
        new LocalIoError({ path: args.file, message: `cannot encrypt ${args.file}: ${messageOf(error)}` })
    }).pipe(withProgress("uploading", sizeBytes, size))
    yield* uploadSlot(settings.server, slot.value.relay_id, slot.value.upload_token, body, sizeBytes).pipe(
      Effect.catchAll(preferLocalFailure(failure)),
      // A failed or interrupted (Ctrl-C) upload deletes its slot, best effort.
      Effect.onError(() =>
        deleteSlot(settings.server, slot.value.relay_id, slot.value.upload_token, { retry: false }).pipe(
          Effect.ignore
        )
      ),
      Effect.ensuring(cancel(ciphertext))
    )

    // 4. The envelope.
    const envelope: Envelope = {
      v: 1,
      server: settings.server,
      relay_id: slot.value.relay_id,
      download_token: slot.value.download_token,
      expires_at: slot.value.expires_at,
      cipher: "age-x25519",
      ...Option.match(identity, { onNone: () => ({}), onSome: (key) => ({ identity: key }) }),
      plaintext_sha256: hash.digest("hex"),
      plaintext_size: size
    }
    const text = JSON.stringify(envelope)
    if (Option.isNone(args.envelopeOut)) return yield* printBody(settings, text)
    yield* writeSecretFile(args.envelopeOut.value, `${text}\n`)
    yield* printBody(
      settings,
      JSON.stringify({
        envelope: args.envelopeOut.value,
        relay_id: envelope.relay_id,
        expires_at: envelope.expires_at,
        plaintext_size: envelope.plaintext_size
      })
    )
  })

/** The keys of an age identity file: one per line, `#` comments and blank lines ignored. */
const readIdentityFile = (file: string) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const text = yield* fs.readFileString(file).pipe(Effect.mapError(ioError(file, "read")))
    const keys = text
      .split(/\r?\n/)
      .map((line) => line.trim())
      .filter((line) => line.length > 0 && !line.startsWith("#"))
    if (keys.length === 0 || keys.some((key) => !key.startsWith("AGE-SECRET-KEY-"))) {
      return yield* new LocalIoError({
        path: file,
        message: `${file} is not an age identity file (one AGE-SECRET-KEY-1… per line, # comments)`
      })
    }
    return keys
  })

/** An envelope is a few hundred bytes; stdin is not read beyond this. */
const ENVELOPE_MAX_BYTES = 64 * 1024

/**
 * All of stdin as text (the process's stdin stream: `/dev/stdin` cannot be opened when stdin is a
 * socket, which is what Node's child_process gives a child for a pipe).
 */
const readStdin = Effect.suspend(() => {
  let size = 0
  return NodeStream.stdin.pipe(
    Stream.tap((chunk) => {
      size += chunk.length
      return size > ENVELOPE_MAX_BYTES
        ? Effect.fail(
            new EnvelopeMalformedError({
              path: "stdin",
              message: `the envelope on stdin is larger than 64 KiB`
            })
          )
        : Effect.void
    }),
    Stream.decodeText(),
    Stream.mkString
  )
})

/** Reads and checks the envelope from a file or, for `-`, from stdin. */
const readEnvelope = (source: string) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const label = source === "-" ? "stdin" : source
    const text =
      source === "-"
        ? yield* readStdin
        : yield* fs.readFileString(source).pipe(Effect.mapError(ioError(label, "read")))
    return yield* Schema.decodeUnknown(Schema.parseJson(Envelope))(text.trim()).pipe(
      Effect.mapError(
        (error) =>
          new EnvelopeMalformedError({
            path: label,
            message: `the envelope in ${label} is malformed (expected the JSON that handoff send printed): ${error.message}`
          })
      )
    )
  })

export const receive = (args: ReceiveArgs) =>
  Effect.gen(function* () {
    const envelope = yield* readEnvelope(args.envelope)
    const keys = [
      ...(envelope.identity === undefined ? [] : [envelope.identity]),
      ...(Option.isSome(args.identityFile) ? yield* readIdentityFile(args.identityFile.value) : [])
    ]
    if (keys.length === 0) {
      return yield* new UsageError({
        message:
          "the envelope carries no key (it was sent with --recipient): pass --identity-file with your age secret key"
      })
    }
    // The envelope names its server; an explicit --server flag overrides it (e.g. another route to it).
    const flags = yield* rootCommand
    const server = normalizeServer(Option.getOrElse(flags.server, () => envelope.server))

    const decrypter = new age.Decrypter()
    for (const key of keys) {
      yield* Effect.try({
        try: () => decrypter.addIdentity(key),
        catch: (error) =>
          new LocalIoError({
            path: Option.getOrElse(args.identityFile, () => args.envelope),
            message: `not a usable age identity: ${messageOf(error)}`
          })
      })
    }

    const download = yield* downloadSlot(server, envelope.relay_id, envelope.download_token).pipe(
      Effect.catchTag("RelayNotFoundError", (error) =>
        Effect.fail(
          new HandoffRelayUnavailableError({
            message: `the relay slot ${envelope.relay_id} is not available (${error.message}): it expired, was deleted or used up, was never uploaded, or the token is wrong`
          })
        )
      )
    )
    const failed = (error: unknown) =>
      error instanceof RelayTransferError
        ? transferFailed(error)
        : new HandoffDecryptFailedError({
            message: `the handoff does not decrypt with the given identity: ${messageOf(error)}`
          })

    const hash = createHash("sha256")
    let received = 0
    const plaintext = (ciphertext: ReadableStream<Uint8Array>) =>
      Stream.fromReadableStream({ evaluate: () => ciphertext, onError: failed }).pipe(
        Stream.tap((chunk) => {
          received += chunk.length
          if (received > envelope.plaintext_size) {
            return Effect.fail(
              new HandoffHashMismatchError({
                message: `the handoff is larger than the ${envelope.plaintext_size} bytes the envelope announced`,
                expected_sha256: envelope.plaintext_sha256,
                expected_size: envelope.plaintext_size,
                received_size: received
              })
            )
          }
          hash.update(chunk)
          return Effect.void
        })
      )

    yield* writeAtomically(args.out, (temp) =>
      Effect.gen(function* () {
        const source = yield* Stream.toReadableStreamEffect(
          download.bytes.pipe(
            withProgress(
              "downloading",
              Option.getOrElse(download.size, () => 0)
            )
          )
        )
        // Aborting the guard cancels the download when decryption stops early (wrong key, bad header).
        const guard = new AbortController()
        const guarded = source.pipeThrough(new TransformStream<Uint8Array, Uint8Array>(), {
          signal: guard.signal
        })
        yield* Effect.tryPromise({ try: () => decrypter.decrypt(guarded), catch: failed }).pipe(
          Effect.flatMap((decrypted) => sinkTo(temp, plaintext(decrypted))),
          Effect.onError(() => Effect.sync(() => guard.abort()))
        )
        const digest = hash.digest("hex")
        if (received !== envelope.plaintext_size || digest !== envelope.plaintext_sha256) {
          return yield* new HandoffHashMismatchError({
            message:
              received !== envelope.plaintext_size
                ? `the handoff has ${received} bytes, the envelope announced ${envelope.plaintext_size}`
                : "the handoff's SHA-256 differs from the envelope's plaintext_sha256",
            expected_sha256: envelope.plaintext_sha256,
            expected_size: envelope.plaintext_size,
            received_sha256: digest,
            received_size: received
          })
        }
      })
    )
    const output = yield* Output
    yield* output.stdout(
      renderBody(
        JSON.stringify({
          out: args.out,
          relay_id: envelope.relay_id,
          plaintext_size: received,
          plaintext_sha256: envelope.plaintext_sha256
        }),
        flags.format
      )
    )
  })
