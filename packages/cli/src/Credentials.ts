import { FileSystem, Path } from "@effect/platform"
import { Context, Effect, Layer, Option, ParseResult, Random, Schema } from "effect"
import { CredentialsMalformedError, LocalIoError } from "./Errors"

/**
 * The credentials file: `{server, agent_id, token}`; a key-bound agent (`register --key`) also keeps
 * its Ed25519 key pair there (`public_key`, `private_key`: raw bytes, unpadded base64url), and its
 * `token` is null unless it registered with `--allow-bearer`.
 */
export const CredentialsFile = Schema.Struct({
  server: Schema.String,
  agent_id: Schema.String,
  token: Schema.NullOr(Schema.String),
  public_key: Schema.optional(Schema.String),
  private_key: Schema.optional(Schema.String)
})
export type CredentialsFile = typeof CredentialsFile.Type

const decode = Schema.decodeUnknownEither(Schema.parseJson(CredentialsFile))

/** Reads, writes and deletes the credentials file (0600 in a 0700 directory). */
export class Credentials extends Context.Tag("cli/Credentials")<
  Credentials,
  {
    /** None when the file does not exist; a malformed file is an error naming the file. */
    readonly read: (
      path: string
    ) => Effect.Effect<Option.Option<CredentialsFile>, CredentialsMalformedError | LocalIoError>
    /**
     * Writes atomically (temp file + rename) with mode 0600; creates a missing directory with 0700.
     * `ownDirectory` (the default `~/.agent-marketplace`) also tightens an existing directory to 0700;
     * a directory the user chose is left as it is.
     */
    readonly write: (
      path: string,
      credentials: CredentialsFile,
      options?: { readonly ownDirectory?: boolean }
    ) => Effect.Effect<void, LocalIoError>
    /** Deletes the file; a missing file is fine. */
    readonly remove: (path: string) => Effect.Effect<void, LocalIoError>
  }
>() {
  static readonly layer = Layer.effect(
    Credentials,
    Effect.gen(function* () {
      const fs = yield* FileSystem.FileSystem
      const path = yield* Path.Path
      const ioError = (file: string, action: string) => (cause: { message: string }) =>
        new LocalIoError({ path: file, message: `cannot ${action} ${file}: ${cause.message}` })

      const read = (file: string) =>
        Effect.gen(function* () {
          const exists = yield* fs.exists(file).pipe(Effect.mapError(ioError(file, "check")))
          if (!exists) return Option.none<CredentialsFile>()
          const text = yield* fs.readFileString(file).pipe(Effect.mapError(ioError(file, "read")))
          const decoded = decode(text)
          if (decoded._tag === "Left") {
            const reason = ParseResult.TreeFormatter.formatErrorSync(decoded.left)
            return yield* new CredentialsMalformedError({
              path: file,
              message: `the credentials file ${file} is malformed (expected JSON {server, agent_id, token}): ${reason}`
            })
          }
          return Option.some(decoded.right)
        })

      const write = (
        file: string,
        credentials: CredentialsFile,
        options?: { readonly ownDirectory?: boolean }
      ) =>
        Effect.gen(function* () {
          const dir = path.dirname(file)
          const dirExists = yield* fs.exists(dir).pipe(Effect.mapError(ioError(dir, "check")))
          if (!dirExists) {
            yield* fs
              .makeDirectory(dir, { recursive: true, mode: 0o700 })
              .pipe(Effect.mapError(ioError(dir, "create")))
          }
          if (!dirExists || options?.ownDirectory === true) {
            yield* fs.chmod(dir, 0o700).pipe(Effect.mapError(ioError(dir, "chmod")))
          }
          const suffix = yield* Random.nextIntBetween(0, 1_000_000_000)
          const temp = path.join(dir, `.${path.basename(file)}.${suffix}.tmp`)
          const body = `${JSON.stringify(credentials, null, 2)}\n`
          yield* fs.writeFileString(temp, body, { mode: 0o600 }).pipe(Effect.mapError(ioError(temp, "write")))
          yield* fs.chmod(temp, 0o600).pipe(Effect.mapError(ioError(temp, "chmod")))
          yield* fs.rename(temp, file).pipe(Effect.mapError(ioError(file, "write")))
        })

      const remove = (file: string) =>
        fs.exists(file).pipe(
          Effect.flatMap((exists) => (exists ? fs.remove(file) : Effect.void)),
          Effect.mapError(ioError(file, "delete"))
        )

      return { read, write, remove }
    })
  )
}
