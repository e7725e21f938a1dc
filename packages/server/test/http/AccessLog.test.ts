import { describe, expect, it } from "@effect/vitest"
import { Effect, HashMap, Logger } from "effect"
import { serverUrl, withServer } from "../support/Harness"

interface Line {
  readonly message: unknown
  readonly annotations: Record<string, unknown>
}

/** Collects every log line written while the server runs. */
const capture = () => {
  const lines: Array<Line> = []
  const logger = Logger.make(({ annotations, message }) => {
    lines.push({ message, annotations: Object.fromEntries(HashMap.toEntries(annotations)) })
  })
  return { lines, layer: Logger.replace(Logger.defaultLogger, logger) }
}

const accessLines = (lines: ReadonlyArray<Line>) =>
  lines.filter((l) => (Array.isArray(l.message) ? l.message[0] : l.message) === "request")

describe("request ids and the access log", () => {
  it.scoped("echoes a plain X-Request-Id and makes one when it is missing or unusable", () => {
    const { layer } = capture()
    return withServer(
      Effect.gen(function* () {
        const base = yield* serverUrl
        const given = yield* Effect.promise(() =>
          fetch(`${base}/health`, { headers: { "x-request-id": "req-42.a" } })
        )
        expect(given.headers.get("x-request-id")).toBe("req-42.a")
        const made = yield* Effect.promise(() => fetch(`${base}/health`))
        expect(made.headers.get("x-request-id")).toMatch(/^[0-9a-f]{16}$/)
        const unusable = yield* Effect.promise(() =>
          fetch(`${base}/health`, { headers: { "x-request-id": "has spaces and {braces}" } })
        )
        expect(unusable.headers.get("x-request-id")).toMatch(/^[0-9a-f]{16}$/)
      })
    ).pipe(Effect.provide(layer))
  })

  it.scoped(
    "with ACCESS_LOG on, writes one line per request with its status, never the query or token",
    () => {
      const { layer, lines } = capture()
      return withServer(
        Effect.gen(function* () {
          const base = yield* serverUrl
          yield* Effect.promise(() => fetch(`${base}/health`, { headers: { "x-request-id": "one" } }))
          yield* Effect.promise(() =>
            fetch(`${base}/settlement/balance?secret=1`, {
              headers: { "x-request-id": "two", authorization: "Bearer agent-token-nope" }
            })
          )
          yield* Effect.promise(() =>
            fetch(`${base}/tasks`, {
              method: "POST",
              headers: { "x-request-id": "three", "content-type": "text/plain" },
              body: "hello"
            })
          )
          const access = accessLines(lines)
          expect(
            access.map((l) => [l.annotations.request_id, l.annotations.status, l.annotations.path])
          ).toEqual([
            ["one", 200, "/health"],
            ["two", 401, "/settlement/balance"],
            ["three", 400, "/tasks"]
          ])
          expect(
            access.every((l) => l.annotations.method !== undefined && l.annotations.client !== undefined)
          ).toBe(true)
          expect(JSON.stringify(lines)).not.toContain("agent-token-nope")
          expect(JSON.stringify(lines)).not.toContain("secret=1")
        }),
        { accessLog: true }
      ).pipe(Effect.provide(layer))
    }
  )

  it.scoped("with ACCESS_LOG off (the default), writes no access lines", () => {
    const { layer, lines } = capture()
    return withServer(
      Effect.gen(function* () {
        const base = yield* serverUrl
        yield* Effect.promise(() => fetch(`${base}/health`))
        expect(accessLines(lines)).toEqual([])
      })
    ).pipe(Effect.provide(layer))
  })

  it.scoped("behind a trusted proxy the client is the first X-Forwarded-For hop", () => {
    const { layer, lines } = capture()
    return withServer(
      Effect.gen(function* () {
        const base = yield* serverUrl
        yield* Effect.promise(() =>
          fetch(`${base}/health`, { headers: { "x-forwarded-for": "203.0.113.7, 10.0.0.1" } })
        )
        expect(accessLines(lines).map((l) => l.annotations.client)).toEqual(["203.0.113.7"])
      }),
      { accessLog: true, trustProxy: true }
    ).pipe(Effect.provide(layer))
  })
})
