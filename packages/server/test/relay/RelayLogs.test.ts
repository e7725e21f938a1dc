/**
 * The relay never writes slot ids, tokens, rows or bytes to the logs: with the access log on, a whole
 * slot life (create, upload, download, delete, sweeps) logs its requests by route, never by slot.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, HashMap, Logger } from "effect"
import { withServer } from "../support/Harness"
import { advanceRelay, download, newSlot, remove, upload } from "../support/RelayHttp"

describe("relay logging", () => {
  it.scoped("access lines name the route /relay/:relay_id; no line carries an id, a token or content", () => {
    const lines: Array<string> = []
    const logger = Logger.make(({ annotations, message }) => {
      lines.push(JSON.stringify({ message, annotations: Object.fromEntries(HashMap.toEntries(annotations)) }))
    })
    const content = Buffer.from("PLAINTEXT-MARKER ".repeat(64))
    return withServer(
      Effect.gen(function* () {
        const kept = yield* newSlot({ size_bytes: content.length, ttl_secs: 60 })
        const gone = yield* newSlot({ size_bytes: content.length, max_downloads: 1 })
        for (const slot of [kept, gone]) {
          expect((yield* upload(slot.relay_id, slot.upload_token, content)).status).toBe(200)
        }
        expect((yield* download(gone.relay_id, gone.download_token)).status).toBe(200)
        expect((yield* download(gone.relay_id, gone.upload_token)).status).toBe(404)
        expect((yield* remove(kept.relay_id, { "relay-token": kept.download_token })).status).toBe(404)
        yield* advanceRelay(90_000)

        const access = lines.filter((l) => l.includes('"request"'))
        expect(access.length).toBeGreaterThanOrEqual(7)
        expect(access.filter((l) => l.includes('"path":"/relay/:relay_id"'))).toHaveLength(5)
        expect(lines.some((l) => l.includes("relay sweep"))).toBe(true)
        const secrets = [kept, gone].flatMap((s) => [s.relay_id, s.upload_token, s.download_token])
        for (const line of lines) {
          for (const secret of secrets) expect(line).not.toContain(secret)
          expect(line).not.toContain("PLAINTEXT-MARKER")
          expect(line).not.toMatch(/relay-token-[0-9a-f]{8}/)
        }
      }),
      { accessLog: true }
    ).pipe(Effect.provide(Logger.replace(Logger.defaultLogger, logger)))
  })
})
