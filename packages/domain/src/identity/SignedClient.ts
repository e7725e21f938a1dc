import { HttpClient, type HttpClientError, HttpClientRequest } from "@effect/platform"
import { Clock, Effect } from "effect"
import { SIGNATURE_ALGORITHM, type SignatureCrypto, signRequest } from "./Signature"

/** What a key-bound agent signs with: its id, its key (through `sign`) and a source of nonces. */
export interface RequestSigner extends SignatureCrypto {
  readonly keyid: string
  /** A fresh, unpredictable nonce per signature. */
  readonly nonce: Effect.Effect<string>
}

/** The body bytes a request will send: none, or its buffered bytes (streams cannot be signed). */
const bodyBytes = (request: HttpClientRequest.HttpClientRequest): Effect.Effect<Uint8Array | undefined> => {
  const body = request.body
  switch (body._tag) {
    case "Empty":
      return Effect.succeed(undefined)
    case "Uint8Array":
      return Effect.succeed(body.body)
    case "Raw":
      return typeof body.body === "string"
        ? Effect.succeed(new TextEncoder().encode(body.body))
        : body.body instanceof Uint8Array
          ? Effect.succeed(body.body)
          : Effect.dieMessage("cannot sign a request whose body is not buffered")
    default:
      return Effect.dieMessage(`cannot sign a request with a ${body._tag} body`)
  }
}

/**
 * Signs `request` as it will be sent: path and query from its final URL (query parameters
 * appended), the digest of its body bytes, `created` from the `Clock`, a fresh nonce.
 */
export const signHttpRequest = (request: HttpClientRequest.HttpClientRequest, signer: RequestSigner) =>
  Effect.gen(function* () {
    // A relative URL (a client whose base URL is added later) keeps its path and query.
    const url = new URL(request.url, "http://signing.invalid")
    for (const [key, value] of request.urlParams) url.searchParams.append(key, value)
    const body = yield* bodyBytes(request)
    const created = Math.floor((yield* Clock.currentTimeMillis) / 1000)
    const nonce = yield* signer.nonce
    const headers = signRequest(
      {
        method: request.method,
        path: url.pathname === "" ? "/" : url.pathname,
        query: url.search === "" ? "?" : url.search,
        headers: request.headers,
        body
      },
      { keyid: signer.keyid, created, nonce, alg: SIGNATURE_ALGORITHM },
      signer
    )
    return HttpClientRequest.setHeaders(request, headers)
  })

/**
 * A client that signs every request right before it is executed, so a transform above it that
 * re-executes a request (a retry with the same Idempotency-Key) sends a fresh `created` and nonce
 * each time. Requests reach `signingClient` with their final URL when the client is given to
 * `HttpApiClient`'s `transformClient` (its base URL is prepended before the transformed client runs).
 */
export const signingClient = (client: HttpClient.HttpClient, signer: RequestSigner): HttpClient.HttpClient =>
  HttpClient.makeWith<never, never, HttpClientError.HttpClientError, never>(
    (request) =>
      Effect.flatMap(request, (r) =>
        Effect.flatMap(signHttpRequest(r, signer), (signed) => client.execute(signed))
      ),
    (request) => Effect.succeed(request)
  )
