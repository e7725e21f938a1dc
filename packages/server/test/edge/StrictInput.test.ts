/**
 * Strict input at the HTTP edge, generated from `MarketplaceApi`: for every mutating endpoint,
 * unknown fields (content fields included), wrong types, malformed JSON, non-JSON content types,
 * oversized bodies (with Content-Length and chunked) and bad Idempotency-Keys are answered with a
 * 4xx JSON error and change no state; the same call with a valid body then succeeds. Query strings
 * are checked the same way on every endpoint that has them. The relay upload takes raw bytes: its
 * bad inputs are other content types, lengths that differ from the slot's size (by Content-Length
 * and chunked), a Content-Length over the relay's limit and a missing or wrong `Relay-Token`.
 */

import * as http from "node:http"
import type { HttpServer } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { defaultRelayLimits } from "../../src/platform/ServerConfig"
import {
  callEndpoint,
  calls,
  type EndpointCall,
  edgeConfig,
  type Fixture,
  fillPath,
  jsonHeaders,
  type RawResponse,
  type ReflectedEndpoint,
  reflectedEndpoints,
  send,
  setupFixture,
  snapshot,
  tokenOf
} from "../support/Edge"
import { type ServerServices, serverUrl, withServer as withServerOn } from "../support/Harness"

/** The harness server with an admin token (`edgeConfig`), so the admin endpoints answer too. */
const withServer = <A, E>(body: Effect.Effect<A, E, ServerServices>) => withServerOn(body, edgeConfig)

const LIMIT = 64 * 1024
const RELAY_LIMIT = defaultRelayLimits.maxBlobBytes
const CONTENT_FIELDS = ["manifest_uri", "content_hash", "file_name", "prompt"] as const
const CONTENT_VALUES: Record<(typeof CONTENT_FIELDS)[number], string> = {
  manifest_uri: "s3://bucket/manifest.json",
  content_hash: "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
  file_name: "report.pdf",
  prompt: "summarise the attached contract"
}

/** The decode-failure shape: the framework's `HttpApiDecodeError`, kept as our 400 (see design/http-edge.md). */
const DECODE = { status: 400, tag: "HttpApiDecodeError" } as const
const INVALID = { status: 400, tag: "InputInvalidError" } as const
const TOO_LARGE = { status: 413, tag: "PayloadTooLargeError" } as const
const RELAY_TOO_LARGE = { status: 413, tag: "PayloadTooLargeError", limit: RELAY_LIMIT } as const
const SIZE_MISMATCH = { status: 400, tag: "RelaySizeMismatchError" } as const
const RELAY_NOT_FOUND = { status: 404, tag: "RelayNotFoundError" } as const

/** Public fields an error body may carry beside `_tag` and `message`. */
const PUBLIC_FIELDS: Record<string, ReadonlyArray<string>> = {
  HttpApiDecodeError: ["issues"],
  PayloadTooLargeError: ["limit_bytes"],
  InputInvalidError: [],
  RelaySizeMismatchError: ["expected_bytes"],
  RelayNotFoundError: []
}

/** A 4xx JSON error `{_tag, message, ...public fields}`, nothing internal. */
const expectErrorShape = (
  label: string,
  res: RawResponse,
  expected: { status: number; tag: string; limit?: number }
) => {
  expect({ label, status: res.status, tag: res.json?._tag }).toEqual({
    label,
    status: expected.status,
    tag: expected.tag
  })
  expect(res.contentType, label).toContain("application/json")
  const body = res.json as Record<string, unknown>
  expect(typeof body.message, label).toBe("string")
  expect(Object.keys(body).sort(), label).toEqual(["_tag", "message", ...PUBLIC_FIELDS[expected.tag]!].sort())
  expect(res.text, label).not.toMatch(/node_modules|\.[jt]s:\d+|\bat .+\(|stack/)
  if (expected.tag === "HttpApiDecodeError") {
    expect(Array.isArray(body.issues), label).toBe(true)
    for (const issue of body.issues as Array<Record<string, unknown>>) {
      expect(Object.keys(issue).sort(), label).toEqual(["_tag", "message", "path"])
    }
  }
  if (expected.tag === "PayloadTooLargeError") expect(body.limit_bytes, label).toBe(expected.limit ?? LIMIT)
}

// ---------------------------------------------------------------------------------------------
// Body mutations

type Path = ReadonlyArray<string | number>
const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v)

/** Every node of a JSON value with its path (the root included). */
const nodes = (value: unknown, path: Path = []): Array<{ path: Path; value: unknown }> => [
  { path, value },
  ...(Array.isArray(value)
    ? value.flatMap((v, i) => nodes(v, [...path, i]))
    : isRecord(value)
      ? Object.entries(value).flatMap(([k, v]) => nodes(v, [...path, k]))
      : [])
]

const setAt = (value: unknown, path: Path, replacement: unknown): unknown => {
  if (path.length === 0) return replacement
  const [head, ...rest] = path
  if (Array.isArray(value)) return value.map((v, i) => (i === head ? setAt(v, rest, replacement) : v))
  const record = value as Record<string, unknown>
  return { ...record, [head!]: setAt(record[head!], rest, replacement) }
}

/** Values of another JSON type than `value`. */
const wrongTypes = (value: unknown): ReadonlyArray<unknown> =>
  typeof value === "string"
    ? [42, true, null, ["x"]]
    : typeof value === "number"
      ? [String(value), true, null, [value]]
      : typeof value === "boolean"
        ? [String(value), 1, null]
        : Array.isArray(value)
          ? ["x", {}, 1, null]
          : [[], "x", 7, true, null]

const show = (path: Path) => (path.length === 0 ? "(body)" : path.join("."))

// ---------------------------------------------------------------------------------------------
// Raw senders

/** A request whose body is streamed with `Transfer-Encoding: chunked` (no Content-Length). */
const sendChunked = (
  method: string,
  path: string,
  headers: Record<string, string>,
  chunks: ReadonlyArray<string | Uint8Array>
) =>
  Effect.flatMap(serverUrl, (base) =>
    Effect.async<RawResponse>((resume) => {
      const req = http.request(
        new URL(path, base),
        { method, headers: { ...headers, "transfer-encoding": "chunked" } },
        (res) => {
          let text = ""
          res.setEncoding("utf8")
          res.on("data", (chunk) => {
            text += chunk
          })
          res.on("end", () => {
            let json: unknown
            try {
              json = JSON.parse(text)
            } catch {
              json = undefined
            }
            resume(
              Effect.succeed({
                status: res.statusCode ?? 0,
                contentType: res.headers["content-type"] ?? null,
                text,
                json
              })
            )
          })
        }
      )
      req.on("error", (error) =>
        resume(
          Effect.succeed({
            status: 0,
            contentType: null,
            text: `connection error: ${error.message}`,
            json: undefined
          })
        )
      )
      for (const chunk of chunks) req.write(chunk)
      req.end()
    })
  )

/**
 * Only a request head announcing `length` body bytes: the answer is read, then the connection is
 * dropped without sending the body (for limits checked by Content-Length before reading).
 */
const sendHeadOnly = (method: string, path: string, headers: Record<string, string>, length: number) =>
  Effect.flatMap(serverUrl, (base) =>
    Effect.async<RawResponse>((resume) => {
      const req = http.request(new URL(path, base), {
        method,
        headers: { ...headers, "content-length": String(length) }
      })
      req.on("response", (res) => {
        let text = ""
        res.setEncoding("utf8")
        res.on("data", (chunk) => {
          text += chunk
        })
        res.on("end", () => {
          req.destroy()
          let json: unknown
          try {
            json = JSON.parse(text)
          } catch {
            json = undefined
          }
          resume(
            Effect.succeed({
              status: res.statusCode ?? 0,
              contentType: res.headers["content-type"] ?? null,
              text,
              json
            })
          )
        })
      })
      req.on("error", (error) =>
        resume(
          Effect.succeed({
            status: 0,
            contentType: null,
            text: `connection error: ${error.message}`,
            json: undefined
          })
        )
      )
      req.flushHeaders()
    })
  )

interface BadRequest {
  readonly label: string
  readonly run: Effect.Effect<RawResponse, never, HttpServer.HttpServer>
  readonly expected: { readonly status: number; readonly tag: string; readonly limit?: number }
}

/** The bad variants of a raw (relay upload) call. */
const rawBadRequests = (endpoint: ReflectedEndpoint, call: EndpointCall, f: Fixture): Array<BadRequest> => {
  const path = fillPath(endpoint.path, call.params?.(f) ?? {})
  const headers = { ...jsonHeaders(endpoint, tokenOf(f, call.as)), ...call.headers?.(f) }
  const valid = call.raw!(f)
  const octets: Record<string, string> = { ...headers, "content-type": "application/octet-stream" }
  const raw = (h: Record<string, string>, body: string | Uint8Array) =>
    send(path, { method: endpoint.method, headers: h, body })
  const out: Array<BadRequest> = []
  const add = (label: string, run: BadRequest["run"], expected: BadRequest["expected"]) =>
    out.push({ label: `${endpoint.key}: ${label}`, run, expected })
  const longer = new Uint8Array(valid.length + 3)
  longer.set(valid)
  // Bodies that are not raw bytes.
  add("JSON body", raw({ ...headers, "content-type": "application/json" }, '{"manifest_uri":"x"}'), INVALID)
  add("text/plain body", raw({ ...headers, "content-type": "text/plain" }, "hello"), INVALID)
  add(
    "form-encoded body",
    raw({ ...headers, "content-type": "application/x-www-form-urlencoded" }, "file_name=x"),
    INVALID
  )
  add(
    "multipart body",
    raw(
      { ...headers, "content-type": "multipart/form-data; boundary=b" },
      '--b\r\nContent-Disposition: form-data; name="file_name"\r\n\r\nx\r\n--b--\r\n'
    ),
    INVALID
  )
  // Lengths other than size_bytes: by Content-Length, and counted on chunked bodies.
  add("empty body", raw(octets, new Uint8Array(0)), SIZE_MISMATCH)
  add("Content-Length one byte short", raw(octets, valid.slice(0, -1)), SIZE_MISMATCH)
  add("Content-Length three bytes long", raw(octets, longer), SIZE_MISMATCH)
  add(
    "chunked body one byte short",
    sendChunked(endpoint.method, path, octets, [valid.slice(0, 10), valid.slice(10, -1)]),
    SIZE_MISMATCH
  )
  add(
    "chunked body three bytes long",
    sendChunked(endpoint.method, path, octets, [valid, longer.slice(-3)]),
    SIZE_MISMATCH
  )
  add(
    "Content-Length over the relay limit",
    sendHeadOnly(endpoint.method, path, octets, RELAY_LIMIT + 1),
    RELAY_TOO_LARGE
  )
  // The slot's token, missing or wrong.
  const { "relay-token": _token, ...withoutToken } = octets
  add("no Relay-Token", raw(withoutToken, valid), RELAY_NOT_FOUND)
  add("malformed Relay-Token", raw({ ...octets, "relay-token": "x" }, valid), RELAY_NOT_FOUND)
  return out
}

/** Every bad variant of one valid call. */
const badRequests = (endpoint: ReflectedEndpoint, call: EndpointCall, f: Fixture): Array<BadRequest> => {
  if (call.raw !== undefined) return rawBadRequests(endpoint, call, f)
  const token = tokenOf(f, call.as)
  const path = `${fillPath(endpoint.path, call.params?.(f) ?? {})}${call.query ?? ""}`
  const valid = call.body?.(f)
  const raw = (headers: Record<string, string>, body: string | undefined) =>
    send(path, { method: endpoint.method, headers: { ...jsonHeaders(endpoint, token), ...headers }, body })
  const asJson = (body: string) => raw({ "content-type": "application/json" }, body)
  const out: Array<BadRequest> = []
  const add = (label: string, run: BadRequest["run"], expected: BadRequest["expected"]) =>
    out.push({ label: `${endpoint.key}: ${label}`, run, expected })

  if (endpoint.hasPayload) {
    // Unknown fields, on the body and on every nested object: content fields first of all.
    for (const node of nodes(valid).filter((n) => isRecord(n.value))) {
      for (const field of CONTENT_FIELDS) {
        const body = setAt(valid, node.path, { ...(node.value as object), [field]: CONTENT_VALUES[field] })
        add(
          `unknown field ${field} at ${show(node.path)}`,
          callEndpoint(endpoint, call, f, token, body),
          DECODE
        )
      }
    }
    // Wrong types for every field (and the body itself).
    for (const node of nodes(valid)) {
      for (const wrong of wrongTypes(node.value)) {
        add(
          `${show(node.path)} = ${JSON.stringify(wrong)}`,
          callEndpoint(endpoint, call, f, token, setAt(valid, node.path, wrong)),
          DECODE
        )
      }
    }
    // The body padded to exactly the limit is read (and refused for its unknown field)…
    const padded = (size: number) => {
      const base = JSON.stringify({ ...(valid as object), padding: "" })
      return JSON.stringify({ ...(valid as object), padding: "x".repeat(size - base.length) })
    }
    add("body of exactly the limit", asJson(padded(LIMIT)), DECODE)
  } else {
    // No payload: any body but `{}` is refused, content fields included.
    for (const field of CONTENT_FIELDS) {
      add(`body with ${field}`, asJson(JSON.stringify({ [field]: CONTENT_VALUES[field] })), INVALID)
    }
    add("body []", asJson("[]"), INVALID)
  }
  const json = JSON.stringify(valid ?? {})
  // …one byte more is 413, by Content-Length before reading, and by counting a chunked body.
  add("body over the limit (Content-Length)", asJson(`${json.slice(0, -1)}${" ".repeat(LIMIT)}}`), TOO_LARGE)
  add(
    "body over the limit (chunked)",
    sendChunked(
      endpoint.method,
      path,
      { ...jsonHeaders(endpoint, token), "content-type": "application/json" },
      [json.slice(0, -1), " ".repeat(LIMIT / 2), " ".repeat(LIMIT / 2), "}"]
    ),
    TOO_LARGE
  )
  // Malformed JSON (the second mentions "limit": a syntax error is never taken for a size error).
  add("malformed JSON", asJson(json.slice(0, -1)), INVALID)
  add('malformed JSON mentioning "limit"', asJson('{"limit": max}'), INVALID)
  add(
    "malformed JSON (chunked)",
    sendChunked(
      endpoint.method,
      path,
      { ...jsonHeaders(endpoint, token), "content-type": "application/json" },
      ['{"a', '": ']
    ),
    INVALID
  )
  // Bodies that are not JSON.
  add("text/plain body", raw({ "content-type": "text/plain" }, json), INVALID)
  add(
    "form-encoded body",
    raw({ "content-type": "application/x-www-form-urlencoded" }, "amount=5&prompt=x"),
    INVALID
  )
  add(
    "multipart body",
    raw(
      { "content-type": "multipart/form-data; boundary=b" },
      '--b\r\nContent-Disposition: form-data; name="file_name"\r\n\r\nx\r\n--b--\r\n'
    ),
    INVALID
  )
  // Idempotency-Key where the endpoint requires one.
  if (endpoint.idempotent) {
    const withKey = (key: string | undefined) => {
      const headers: Record<string, string> = { ...jsonHeaders(endpoint, token) }
      if (key === undefined) delete headers["idempotency-key"]
      else headers["idempotency-key"] = key
      if (valid !== undefined) headers["content-type"] = "application/json"
      return send(path, {
        method: endpoint.method,
        headers,
        body: valid === undefined ? undefined : json
      })
    }
    add("missing Idempotency-Key", withKey(undefined), DECODE)
    add("empty Idempotency-Key", withKey(""), DECODE)
    add("Idempotency-Key with a space", withKey("two words"), DECODE)
    add("Idempotency-Key of 256 characters", withKey("k".repeat(256)), DECODE)
    add("non-ASCII Idempotency-Key", withKey("clé"), DECODE)
  }
  return out
}

const mutating = reflectedEndpoints.filter((e) => e.method === "POST" || e.method === "PUT")

describe("strict input", () => {
  it("every mutating endpoint has a valid call to vary", () => {
    expect(mutating.filter((e) => calls[e.key] === undefined).map((e) => e.key)).toEqual([])
    expect(
      mutating
        .filter((e) => e.hasPayload && calls[e.key]?.body === undefined && calls[e.key]?.raw === undefined)
        .map((e) => e.key)
    ).toEqual([])
  })

  for (const endpoint of mutating) {
    it.scoped(
      `${endpoint.key}: ${endpoint.method} ${endpoint.path} refuses bad input and changes nothing`,
      () =>
        withServer(
          Effect.gen(function* () {
            const call = calls[endpoint.key]
            if (call === undefined)
              throw new Error(`${endpoint.key} has no valid call in test/support/Edge.ts`)
            const f = yield* setupFixture
            if (call.prepare) yield* call.prepare(f)
            const before = yield* snapshot(f, { withStranger: true })
            const bad = badRequests(endpoint, call, f)
            for (const request of bad) expectErrorShape(request.label, yield* request.run, request.expected)
            const after = yield* snapshot(f, { withStranger: true })
            expect(after).toEqual(before)
            expect(after.audit.ok).toBe(true)

            // The valid call, its body streamed in chunks, still succeeds: each refusal above was the
            // defect it names.
            const token = tokenOf(f, call.as)
            const valid = call.body?.(f)
            const raw = call.raw?.(f)
            const path = `${fillPath(endpoint.path, call.params?.(f) ?? {})}${call.query ?? ""}`
            const res =
              raw !== undefined
                ? yield* sendChunked(
                    endpoint.method,
                    path,
                    {
                      ...jsonHeaders(endpoint, token),
                      ...call.headers?.(f),
                      "content-type": "application/octet-stream"
                    },
                    [raw.slice(0, 7), raw.slice(7, 20), raw.slice(20)]
                  )
                : valid === undefined
                  ? yield* callEndpoint(endpoint, call, f, token)
                  : yield* sendChunked(
                      endpoint.method,
                      path,
                      {
                        ...jsonHeaders(endpoint, token),
                        ...call.headers?.(f),
                        "content-type": "application/json"
                      },
                      JSON.stringify(valid).match(/.{1,7}/gs) ?? []
                    )
            expect({ status: res.status, tag: res.json?._tag }).toEqual({
              status: call.success.status,
              tag: call.success.tag
            })
          })
        )
    )
  }

  it.scoped("query strings are decoded strictly on every endpoint that has them", () =>
    withServer(
      Effect.gen(function* () {
        const f = yield* setupFixture
        const before = yield* snapshot(f, { withStranger: true })
        const withQuery = reflectedEndpoints.filter((e) => e.urlParams.length > 0)
        expect(withQuery.length).toBeGreaterThan(0)
        for (const endpoint of withQuery) {
          const call = calls[endpoint.key]!
          const path = fillPath(endpoint.path, call.params?.(f) ?? {})
          const query = (extra: string) => `${call.query ? `${call.query}&` : "?"}${extra}`
          const get = (q: string) =>
            send(`${path}${q}`, { method: "GET", headers: jsonHeaders(endpoint, tokenOf(f, call.as)) })
          for (const field of CONTENT_FIELDS) {
            const res = yield* get(query(`${field}=${encodeURIComponent(CONTENT_VALUES[field])}`))
            expectErrorShape(`${endpoint.key}: unknown query ${field}`, res, DECODE)
          }
          for (const name of endpoint.urlParams) {
            const res = yield* get(query(`${name}=${encodeURIComponent("no such value!")}`))
            expectErrorShape(`${endpoint.key}: bad query ${name}`, res, DECODE)
          }
          const valid = yield* get(call.query ?? "")
          expect({ endpoint: endpoint.key, status: valid.status }).toEqual({
            endpoint: endpoint.key,
            status: call.success.status
          })
        }
        expect(yield* snapshot(f, { withStranger: true })).toEqual(before)
      })
    )
  )

  it.scoped("a decode failure is the framework's HttpApiDecodeError: 400, tag, message, issues", () =>
    withServer(
      Effect.gen(function* () {
        const f = yield* setupFixture
        const res = yield* send("/settlement/deposit", {
          method: "POST",
          headers: {
            authorization: `Bearer ${f.buyer.token}`,
            "content-type": "application/json",
            "idempotency-key": "decode-shape"
          },
          body: JSON.stringify({ amount: 5, manifest_uri: CONTENT_VALUES.manifest_uri })
        })
        expect(res.status).toBe(400)
        expect(res.json).toEqual({
          _tag: "HttpApiDecodeError",
          message: expect.stringContaining("is unexpected"),
          issues: [
            { _tag: "Unexpected", path: ["manifest_uri"], message: 'is unexpected, expected: "amount"' }
          ]
        })
        // The refused value is not echoed back.
        expect(res.text).not.toContain(CONTENT_VALUES.manifest_uri)
        // The key of a refused request is not spent: the valid request with it goes through.
        const ok = yield* f.buyer.client.settlement.deposit({
          headers: { "idempotency-key": "decode-shape" },
          payload: { amount: 5 }
        })
        expect(ok.available).toBe(1000 - 120 + 5)
      })
    )
  )
})
