import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify } from "node:crypto"
import { describe, expect, it } from "@effect/vitest"
import { Either, Option } from "effect"
import { parseDictionary, serializeInnerList } from "structured-headers"
import {
  contentDigestHeader,
  coveredComponents,
  parseContentDigest,
  parseSignature,
  serializeSignatureParams,
  signatureBase,
  signRequest,
  splitTarget
} from "../../src/identity/Signature"

// RFC 9421 Appendix B.1.4 (test-key-ed25519) and B.2.6 (signing a request using ed25519).
const RFC_PRIVATE =
  "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIJ+DYvh6SEqVTm50DFtMDoQikTmiCqirVv9mWG9qfSnF\n-----END PRIVATE KEY-----"
const RFC_PUBLIC =
  "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAJrQLj5P/89iXES9+vFgrIy29clF9CC/oPPsw3c5D0bs=\n-----END PUBLIC KEY-----"
const B26_INPUT =
  'sig-b26=("date" "@method" "@path" "@authority" "content-type" "content-length");created=1618884473;keyid="test-key-ed25519"'
const B26_SIGNATURE =
  "wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1u02Gb04v9EDgwUPiu4A0w6vuQv5lIp5WPpBKRCw=="
const B26_BASE = [
  '"date": Tue, 20 Apr 2021 02:07:55 GMT',
  '"@method": POST',
  '"@path": /foo',
  '"@authority": example.com',
  '"content-type": application/json',
  '"content-length": 18',
  '"@signature-params": ("date" "@method" "@path" "@authority" "content-type" "content-length");created=1618884473;keyid="test-key-ed25519"'
].join("\n")

const rfcHeaders: Record<string, string> = {
  date: "Tue, 20 Apr 2021 02:07:55 GMT",
  "content-type": "application/json",
  "content-length": "18"
}

const sha256 = (bytes: Uint8Array) => new Uint8Array(createHash("sha256").update(bytes).digest())

describe("RFC 9421 signature base", () => {
  it("builds the signature base of RFC 9421 B.2.6 byte for byte, and its signature verifies", () => {
    const inner = parseDictionary(B26_INPUT).get("sig-b26")!
    const params = serializeInnerList(inner as never)
    const components = ["date", "@method", "@path", "@authority", "content-type", "content-length"]
    const { path, query } = splitTarget("/foo?param=Value&Pet=dog")
    const base = signatureBase(
      { method: "POST", path, query, authority: "example.com", header: (name) => rfcHeaders[name] },
      components,
      params
    )
    expect(base).toEqual(Either.right(B26_BASE))
    const publicKey = createPublicKey(RFC_PUBLIC)
    expect(verify(null, Buffer.from(B26_BASE), publicKey, Buffer.from(B26_SIGNATURE, "base64"))).toBe(true)
    // Ed25519 is deterministic: signing the same base with the RFC's private key gives its signature.
    const privateKey = createPrivateKey(RFC_PRIVATE)
    expect(sign(null, Buffer.from(B26_BASE), privateKey).toString("base64")).toBe(B26_SIGNATURE)
  })

  it("Content-Digest of RFC 9530's example body", () => {
    const digest = sha256(new TextEncoder().encode('{"hello": "world"}'))
    const header = contentDigestHeader(digest)
    expect(header).toBe("sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:")
    expect(Option.map(parseContentDigest(header), (d) => Buffer.from(d).toString("base64"))).toEqual(
      Option.some("X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=")
    )
    // Other algorithms are ignored; a field without sha-256 or that does not parse has none.
    expect(Option.isSome(parseContentDigest(`sha-512=:AAAA:, ${header}`))).toBe(true)
    expect(parseContentDigest("sha-512=:AAAA:")).toEqual(Option.none())
    expect(parseContentDigest("not a dictionary (")).toEqual(Option.none())
  })

  it("splits a raw request target into @path and @query", () => {
    expect(splitTarget("/tasks")).toEqual({ path: "/tasks", query: "?" })
    expect(splitTarget("/tasks?role=publisher&limit=2")).toEqual({
      path: "/tasks",
      query: "?role=publisher&limit=2"
    })
    expect(splitTarget("/tasks?")).toEqual({ path: "/tasks", query: "?" })
    expect(splitTarget("")).toEqual({ path: "/", query: "?" })
  })
})

describe("the agent-marketplace signature profile", () => {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519")
  const crypto = { sign: (b: Uint8Array) => new Uint8Array(sign(null, b, privateKey)), sha256 }
  const params = { keyid: "buyer-1", created: 1_767_225_600, nonce: "bm9uY2U", alg: "ed25519" }

  const signed = (body: string | undefined, headers: Record<string, string> = {}) =>
    signRequest(
      {
        method: "POST",
        path: "/settlement/deposit",
        query: "?",
        headers,
        body: body === undefined ? undefined : new TextEncoder().encode(body)
      },
      params,
      crypto
    )

  it("covers the body's digest and the idempotency key when present, and verifies", () => {
    const headers = { "idempotency-key": "k-1" }
    const out = signed('{"amount":5}', headers)
    expect(out["content-digest"]).toBe(contentDigestHeader(sha256(new TextEncoder().encode('{"amount":5}'))))
    expect(out["signature-input"]).toBe(
      'sig1=("@method" "@path" "@query" "content-digest" "idempotency-key");created=1767225600;nonce="bm9uY2U";keyid="buyer-1";alg="ed25519"'
    )
    const parsed = parseSignature(out["signature-input"]!, out.signature!)
    expect(Either.isRight(parsed)).toBe(true)
    const p = Either.getOrThrow(parsed)
    expect(p.params).toEqual(params)
    expect(p.components).toEqual(coveredComponents({ hasBody: true, hasIdempotencyKey: true }))
    const all: Record<string, string> = { ...headers, ...out }
    const base = Either.getOrThrow(
      signatureBase(
        { method: "POST", path: "/settlement/deposit", query: "?", header: (n) => all[n] },
        p.components,
        p.signatureParams
      )
    )
    expect(verify(null, Buffer.from(base), publicKey, p.signature)).toBe(true)
    // The same base with another path does not verify.
    const other = Either.getOrThrow(
      signatureBase(
        { method: "POST", path: "/settlement/withdraw", query: "?", header: (n) => all[n] },
        p.components,
        p.signatureParams
      )
    )
    expect(verify(null, Buffer.from(other), publicKey, p.signature)).toBe(false)
  })

  it("a bodyless request without a key covers @method, @path and @query only", () => {
    const out = signed(undefined)
    expect(out["content-digest"]).toBeUndefined()
    expect(Either.getOrThrow(parseSignature(out["signature-input"]!, out.signature!)).components).toEqual([
      "@method",
      "@path",
      "@query"
    ])
  })

  it("parseSignature refuses what the profile does not allow", () => {
    const sig = "sig1=:AAAA:"
    const input = (inner: string) => `sig1=${inner}`
    const ok = '("@method" "@path" "@query");created=1;nonce="n";keyid="a"'
    expect(Either.isRight(parseSignature(input(ok), sig))).toBe(true)
    const refused = [
      [input('("@method" "@path");created=1;nonce="n";keyid="a"'), sig], // @query missing
      [input('("@method" "@path" "@query" "date");created=1;nonce="n";keyid="a"'), sig], // not in profile
      [input('("@method" "@path" "@query" "@query");created=1;nonce="n";keyid="a"'), sig], // twice
      [input('("@method";req "@path" "@query");created=1;nonce="n";keyid="a"'), sig], // parameters
      [input('("@method" "@path" "@query");nonce="n";keyid="a"'), sig], // no created
      [input('("@method" "@path" "@query");created=1;keyid="a"'), sig], // no nonce
      [input('("@method" "@path" "@query");created=1;nonce="n"'), sig], // no keyid
      [input('("@method" "@path" "@query");created=1;nonce="n";keyid="a";alg="rsa-pss-sha512"'), sig],
      [input('("@method" "@path" "@query");created=1;nonce="n";keyid="a";expires=2'), sig],
      [input('("@method" "@path" "@query");created=1.5;nonce="n";keyid="a"'), sig],
      [input(ok), "sig2=:AAAA:"], // labels differ
      [input(ok), 'sig1="text"'], // not a byte sequence
      [`${input(ok)}, sig2=${ok}`, `${sig}, sig2=:AAAA:`], // two signatures
      ["sig1=(", sig] // not a dictionary
    ] as const
    for (const [i, s] of refused) {
      expect({ input: i, ok: Either.isRight(parseSignature(i, s)) }).toEqual({ input: i, ok: false })
    }
  })

  it("serializes the signature parameters in a fixed order", () => {
    expect(serializeSignatureParams(["@method"], { keyid: "a", created: 2, nonce: "n" })).toBe(
      '("@method");created=2;nonce="n";keyid="a"'
    )
  })
})
