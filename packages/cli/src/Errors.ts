import { ValidationError } from "@effect/cli"
import { HttpApiSchema, HttpClientError } from "@effect/platform"
import { Data, ParseResult } from "effect"
import { paragraphs } from "./Help"

/** Exit codes of the CLI (cli.md). */
export const ExitCode = {
  ok: 0,
  refused: 1,
  usage: 2,
  unavailable: 3,
  localIo: 4,
  /** `handoff receive`: the bytes arrived but are not what the envelope announced (decrypt or hash). */
  contentRejected: 5
} as const
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode]

/** A command line that parses but makes no sense (missing id, conflicting flags, bad interval). */
export class UsageError extends Data.TaggedError("UsageError")<{ readonly message: string }> {}

/** The credentials file exists but is not a valid `{server, agent_id, token}` document. */
export class CredentialsMalformedError extends Data.TaggedError("CredentialsMalformedError")<{
  readonly path: string
  readonly message: string
}> {}

/** A command needs a token (or agent id) and none was given by flag, env or credentials file. */
export class CredentialsMissingError extends Data.TaggedError("CredentialsMissingError")<{
  readonly path: string
  readonly message: string
}> {}

/** A local file could not be read or written. */
export class LocalIoError extends Data.TaggedError("LocalIoError")<{
  readonly path: string
  readonly message: string
}> {}

/** No answer from the server after every retry (connection refused, reset, timeout). */
export class ServerUnreachableError extends Data.TaggedError("ServerUnreachableError")<{
  readonly url: string
  readonly message: string
  readonly idempotency_key?: string | undefined
}> {}

/** The server answered with a 5xx (after every retry) or with a body that is not the contract's. */
export class ServerFailedError extends Data.TaggedError("ServerFailedError")<{
  readonly url: string
  readonly status: number
  readonly message: string
  readonly idempotency_key?: string | undefined
}> {}

/** A 4xx the contract does not declare (e.g. a proxy's 404 or a gateway's non-JSON 401). */
export class UnexpectedResponseError extends Data.TaggedError("UnexpectedResponseError")<{
  readonly url: string
  readonly status: number
  readonly message: string
}> {}

/** An API error (JSON with a `_tag`) that this client's contract does not declare: shown as sent. */
export class UntypedServerError extends Data.TaggedError("UntypedServerError")<{
  readonly status: number
  readonly body: Record<string, unknown>
}> {}

/** A handoff envelope that is not valid JSON of the envelope's shape (`handoff receive --envelope`). */
export class EnvelopeMalformedError extends Data.TaggedError("EnvelopeMalformedError")<{
  readonly path: string
  readonly message: string
}> {}

/**
 * `handoff receive`: the relay answered 404 — the slot is unknown, expired, deleted, used up, not
 * uploaded yet, or the token is wrong (the relay does not say which). Reviewer verdict:
 * `artifact_unavailable`.
 */
export class HandoffRelayUnavailableError extends Data.TaggedError("HandoffRelayUnavailableError")<{
  readonly message: string
}> {
  readonly error = "relay-unavailable" as const
}

/**
 * `handoff receive`: the ciphertext does not decrypt with the identity (wrong key, tampered or
 * truncated bytes, not an age file). Reviewer verdict: `invalid_format`.
 */
export class HandoffDecryptFailedError extends Data.TaggedError("HandoffDecryptFailedError")<{
  readonly message: string
}> {
  readonly error = "decrypt-failed" as const
}

/**
 * `handoff receive`: it decrypted, but its SHA-256 or size differs from the envelope's. Reviewer
 * verdict: `hash_mismatch`.
 */
export class HandoffHashMismatchError extends Data.TaggedError("HandoffHashMismatchError")<{
  readonly message: string
  readonly expected_sha256: string
  readonly expected_size: number
  readonly received_sha256?: string | undefined
  readonly received_size: number
}> {
  readonly error = "hash-mismatch" as const
}

export type CliError =
  | UsageError
  | EnvelopeMalformedError
  | HandoffRelayUnavailableError
  | HandoffDecryptFailedError
  | HandoffHashMismatchError
  | CredentialsMalformedError
  | CredentialsMissingError
  | LocalIoError
  | ServerUnreachableError
  | ServerFailedError
  | UnexpectedResponseError

const localCodes: Record<CliError["_tag"], ExitCode> = {
  UsageError: ExitCode.usage,
  CredentialsMalformedError: ExitCode.localIo,
  CredentialsMissingError: ExitCode.localIo,
  LocalIoError: ExitCode.localIo,
  EnvelopeMalformedError: ExitCode.localIo,
  HandoffRelayUnavailableError: ExitCode.refused,
  HandoffDecryptFailedError: ExitCode.contentRejected,
  HandoffHashMismatchError: ExitCode.contentRejected,
  ServerUnreachableError: ExitCode.unavailable,
  ServerFailedError: ExitCode.unavailable,
  UnexpectedResponseError: ExitCode.refused
}

/** What a failure looks like to the caller: the exit code and the JSON document for stderr. */
export interface RenderedError {
  readonly code: ExitCode
  readonly json: Record<string, unknown>
}

const ownFields = (error: object): Record<string, unknown> => {
  const fields: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(error)) {
    if (value !== undefined) fields[key] = value
  }
  return fields
}

/** The HTTP status a typed API error is annotated with (its schema class carries it). */
const statusOfTypedError = (error: object): number | undefined => {
  const ast = (error.constructor as { ast?: unknown }).ast
  if (ast === undefined) return undefined
  try {
    return HttpApiSchema.getStatusError({ ast } as never)
  } catch {
    return undefined
  }
}

const isLocal = (error: { _tag: string }): error is CliError => error._tag in localCodes

/** Maps any failure of a command to its exit code and stderr JSON. */
export const renderError = (error: unknown): RenderedError => {
  if (ValidationError.isValidationError(error)) {
    // `@effect/cli` has printed the message as text already; the JSON line repeats it for programs.
    const message = paragraphs(error.error).join(" ").trim()
    return {
      code: ExitCode.usage,
      json: { _tag: "UsageError", message: message.length > 0 ? message : "invalid command line" }
    }
  }
  if (HttpClientError.isHttpClientError(error)) {
    return {
      code: ExitCode.unavailable,
      json: {
        _tag: "ServerUnreachableError",
        message: `cannot reach the server at ${error.request.url}: ${error.message}`,
        url: error.request.url
      }
    }
  }
  if (ParseResult.isParseError(error)) {
    return {
      code: ExitCode.unavailable,
      json: {
        _tag: "ServerFailedError",
        message: `the server's answer does not match the contract: ${error.message}`
      }
    }
  }
  if (typeof error === "object" && error !== null && "_tag" in error && typeof error._tag === "string") {
    const tagged = error as { _tag: string; message?: unknown }
    const message = typeof tagged.message === "string" ? tagged.message : String(tagged._tag)
    if (error instanceof UntypedServerError) {
      return {
        code: error.status >= 500 ? ExitCode.unavailable : ExitCode.refused,
        json: error.body
      }
    }
    if (isLocal(tagged)) {
      return {
        code: localCodes[tagged._tag],
        json: { _tag: tagged._tag, message, ...ownFields(tagged) }
      }
    }
    // A typed error of the HttpApi, decoded from the server's JSON error body.
    const status = statusOfTypedError(tagged) ?? 400
    return {
      code: status >= 500 ? ExitCode.unavailable : ExitCode.refused,
      json: { _tag: tagged._tag, message, ...ownFields(tagged) }
    }
  }
  return {
    code: ExitCode.unavailable,
    json: { _tag: "UnknownError", message: String(error) }
  }
}
