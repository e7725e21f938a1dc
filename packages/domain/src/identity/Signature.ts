/**
 * The HTTP Message Signatures profile (RFC 9421) of key-bound agents, shared by the CLI (signing)
 * and the server (verifying). Pure: the two crypto operations (Ed25519 and SHA-256) are passed in by
 * the caller, so this module needs no `node:*` import.
 *
 * Profile: one signature, algorithm `ed25519`, `keyid` = the agent id, parameters `created`
 * (seconds) and `nonce`, covering `@method`, `@path`, `@query`, `content-digest` (RFC 9530,
 * `sha-256`) when there is a body and `idempotency-key` when that header is sent. Structured fields
 * (RFC 8941/9651) are parsed and serialized by `structured-headers`.
 */
import { Either, Option, Schema } from "effect"
import {
  type BareItem,
  type InnerList,
  type Item,
  isInnerList,
  parseDictionary,
  serializeDictionary,
  serializeInnerList,
  serializeItem
} from "structured-headers"

export const SIGNATURE_ALGORITHM = "ed25519"
/** The label this profile signs under (`Signature-Input: sig1=(…)`); any single label is accepted. */
export const SIGNATURE_LABEL = "sig1"
/** How far `created` may be from the server's clock, either way. */
export const SIGNATURE_WINDOW_SECS = 60

/** An Ed25519 public key: the 32 raw bytes as unpadded base64url (43 characters). */
export const PublicKey = Schema.String.pipe(
  Schema.pattern(/^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$/, {
    message: () => "public_key must be an Ed25519 public key: 32 bytes as unpadded base64url (43 characters)"
  }),
  Schema.annotations({ identifier: "PublicKey" })
)

/** Derived components and header fields this profile may cover. */
export const ALLOWED_COMPONENTS = ["@method", "@path", "@query", "content-digest", "idempotency-key"] as const
/** Components every signed request covers. */
export const REQUIRED_COMPONENTS = ["@method", "@path", "@query"] as const

/** The components a request covers: `content-digest` with a body, `idempotency-key` when sent. */
export const coveredComponents = (options: {
  readonly hasBody: boolean
  readonly hasIdempotencyKey: boolean
}): ReadonlyArray<string> => [
  ...REQUIRED_COMPONENTS,
  ...(options.hasBody ? ["content-digest"] : []),
  ...(options.hasIdempotencyKey ? ["idempotency-key"] : [])
]

export interface SignatureParams {
  readonly keyid: string
  /** Seconds since the epoch. */
  readonly created: number
  readonly nonce: string
  readonly alg?: string | undefined
}

/** A nonce: 1-128 characters of base64/base64url/token characters. */
export const isValidNonce = (nonce: string) => /^[A-Za-z0-9._~+/=-]{1,128}$/.test(nonce)

/** The inner list of `Signature-Input` (also the value of `@signature-params`). */
export const serializeSignatureParams = (
  components: ReadonlyArray<string>,
  params: SignatureParams
): string => {
  const parameters = new Map<string, BareItem>([
    ["created", params.created],
    ["nonce", params.nonce],
    ["keyid", params.keyid]
  ])
  if (params.alg !== undefined) parameters.set("alg", params.alg)
  return serializeInnerList([components.map((c): Item => [c, new Map()]), parameters])
}

/** The parts of a request a signature covers. */
export interface SignedMessage {
  readonly method: string
  /** The absolute path as sent, without the query (`/` when empty). */
  readonly path: string
  /** `?` and the query as sent; `?` alone when there is none (RFC 9421 §2.2.7). */
  readonly query: string
  /** `@authority` (only for other profiles' test vectors; this profile does not cover it). */
  readonly authority?: string | undefined
  /** A header field's value by lowercase name. */
  readonly header: (name: string) => string | undefined
}

/** `/a/b?x=1` → `{path: "/a/b", query: "?x=1"}` (a raw request target as the server receives it). */
export const splitTarget = (target: string): { readonly path: string; readonly query: string } => {
  const q = target.indexOf("?")
  const path = q === -1 ? target : target.slice(0, q)
  return { path: path === "" ? "/" : path, query: q === -1 ? "?" : target.slice(q) }
}

const componentValue = (message: SignedMessage, component: string): Either.Either<string, string> => {
  switch (component) {
    case "@method":
      return Either.right(message.method.toUpperCase())
    case "@path":
      return Either.right(message.path)
    case "@query":
      return Either.right(message.query)
    case "@authority":
      return message.authority === undefined
        ? Either.left("@authority is not known")
        : Either.right(message.authority.toLowerCase())
    default: {
      if (component.startsWith("@")) return Either.left(`unsupported derived component ${component}`)
      const value = message.header(component)
      return value === undefined
        ? Either.left(`covered header ${component} is missing`)
        : Either.right(value.trim().replace(/\r?\n\s*/g, " "))
    }
  }
}

/** The signature base (RFC 9421 §2.5): one line per covered component, then `@signature-params`. */
export const signatureBase = (
  message: SignedMessage,
  components: ReadonlyArray<string>,
  signatureParams: string
): Either.Either<string, string> => {
  const lines: Array<string> = []
  for (const component of components) {
    const value = componentValue(message, component)
    if (Either.isLeft(value)) return Either.left(value.left)
    lines.push(`${serializeItem([component, new Map()])}: ${value.right}`)
  }
  lines.push(`"@signature-params": ${signatureParams}`)
  return Either.right(lines.join("\n"))
}

/** `Content-Digest: sha-256=:<base64>:` (RFC 9530) for a body's SHA-256. */
export const contentDigestHeader = (sha256: Uint8Array): string =>
  serializeDictionary(new Map([["sha-256", [sha256, new Map()] as Item]]))

/**
 * The `sha-256` digest of a `Content-Digest` field: None when the field does not parse or has no
 * `sha-256` member (other algorithms are ignored, as RFC 9530 allows).
 */
export const parseContentDigest = (header: string): Option.Option<Uint8Array> => {
  try {
    const member = parseDictionary(header).get("sha-256")
    if (member === undefined || isInnerList(member) || !(member[0] instanceof ArrayBuffer))
      return Option.none()
    return Option.some(new Uint8Array(member[0]))
  } catch {
    return Option.none()
  }
}

/** The two headers carrying a signature. */
export const signatureHeaders = (
  label: string,
  signatureParams: string,
  signature: Uint8Array
): { readonly "signature-input": string; readonly signature: string } => ({
  "signature-input": `${label}=${signatureParams}`,
  signature: serializeDictionary(new Map([[label, [signature, new Map()] as Item]]))
})

/** A parsed `Signature-Input` + `Signature` pair of this profile. */
export interface ParsedSignature {
  readonly label: string
  readonly components: ReadonlyArray<string>
  readonly params: SignatureParams
  /** The inner list re-serialized: the `@signature-params` line of the base. */
  readonly signatureParams: string
  readonly signature: Uint8Array
}

const parseDictionaryEither = (name: string, value: string) =>
  Either.try({
    try: () => parseDictionary(value),
    catch: () => `${name} is not a valid structured-field dictionary`
  })

/**
 * Parses and checks the signature headers against this profile: exactly one signature, components
 * without parameters and from the allowed set (each once, the required ones present), the
 * parameters `keyid` (string), `created` (integer), `nonce` (string) and, if present, `alg` =
 * `ed25519`; nothing else. The failure is a human-readable reason.
 */
export const parseSignature = (
  signatureInput: string,
  signature: string
): Either.Either<ParsedSignature, string> =>
  Either.gen(function* () {
    const inputs = yield* parseDictionaryEither("Signature-Input", signatureInput)
    const signatures = yield* parseDictionaryEither("Signature", signature)
    if (inputs.size !== 1 || signatures.size !== 1) {
      return yield* Either.left("send exactly one signature (one Signature-Input and one Signature member)")
    }
    const [label, input] = [...inputs.entries()][0]!
    const sig = signatures.get(label)
    if (sig === undefined) return yield* Either.left(`Signature has no member ${label}`)
    if (isInnerList(sig) || !(sig[0] instanceof ArrayBuffer)) {
      return yield* Either.left("the Signature member must be a byte sequence")
    }
    if (!isInnerList(input)) return yield* Either.left("the Signature-Input member must be an inner list")
    const [items, parameters] = input as InnerList
    const components: Array<string> = []
    for (const [value, itemParams] of items) {
      if (typeof value !== "string" || itemParams.size > 0) {
        return yield* Either.left("covered components must be plain lowercase names without parameters")
      }
      if (!(ALLOWED_COMPONENTS as ReadonlyArray<string>).includes(value)) {
        return yield* Either.left(`component ${value} is not part of this signature profile`)
      }
      if (components.includes(value)) return yield* Either.left(`component ${value} is covered twice`)
      components.push(value)
    }
    for (const required of REQUIRED_COMPONENTS) {
      if (!components.includes(required)) return yield* Either.left(`the signature must cover ${required}`)
    }
    for (const key of parameters.keys()) {
      if (!["keyid", "created", "nonce", "alg"].includes(key)) {
        return yield* Either.left(`signature parameter ${key} is not supported`)
      }
    }
    const keyid = parameters.get("keyid")
    const created = parameters.get("created")
    const nonce = parameters.get("nonce")
    const alg = parameters.get("alg")
    if (typeof keyid !== "string") return yield* Either.left("keyid (the agent id) is required")
    if (typeof created !== "number" || !Number.isInteger(created)) {
      return yield* Either.left("created (integer seconds) is required")
    }
    if (typeof nonce !== "string" || !isValidNonce(nonce)) {
      return yield* Either.left("nonce (1-128 characters of [A-Za-z0-9._~+/=-]) is required")
    }
    if (alg !== undefined && alg !== SIGNATURE_ALGORITHM) {
      return yield* Either.left(`alg must be ${SIGNATURE_ALGORITHM}`)
    }
    return {
      label,
      components,
      params: { keyid, created, nonce, alg: alg === undefined ? undefined : SIGNATURE_ALGORITHM },
      signatureParams: serializeInnerList(input as InnerList),
      signature: new Uint8Array(sig[0])
    }
  })

/** The crypto a signer brings: Ed25519 over the base, SHA-256 over the body. */
export interface SignatureCrypto {
  readonly sign: (base: Uint8Array) => Uint8Array
  readonly sha256: (bytes: Uint8Array) => Uint8Array
}

/**
 * The headers to add to a request: `content-digest` (with a body), `signature-input`, `signature`.
 * `headers` are the request's own (lowercase names); an `idempotency-key` among them is covered.
 */
export const signRequest = (
  request: {
    readonly method: string
    readonly path: string
    readonly query: string
    readonly headers: Readonly<Record<string, string>>
    readonly body: Uint8Array | undefined
  },
  params: SignatureParams,
  crypto: SignatureCrypto
): Record<string, string> => {
  const added: Record<string, string> = {}
  const hasBody = request.body !== undefined && request.body.length > 0
  if (hasBody) added["content-digest"] = contentDigestHeader(crypto.sha256(request.body!))
  const headers = { ...request.headers, ...added }
  const components = coveredComponents({
    hasBody,
    hasIdempotencyKey: headers["idempotency-key"] !== undefined
  })
  const signatureParams = serializeSignatureParams(components, params)
  const base = signatureBase(
    { method: request.method, path: request.path, query: request.query, header: (name) => headers[name] },
    components,
    signatureParams
  )
  // Every covered header was just put in `headers`.
  const text = Either.getOrThrow(base)
  const signature = crypto.sign(new TextEncoder().encode(text))
  return { ...added, ...signatureHeaders(SIGNATURE_LABEL, signatureParams, signature) }
}
