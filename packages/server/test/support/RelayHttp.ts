/**
 * Raw HTTP for the relay tests: the relay's four calls as any client makes them (JSON for create,
 * raw bytes both ways), a chunked upload that can be held open, and a clock step that waits for
 * both sweepers.
 */
import * as http from "node:http"
import { Effect, TestClock } from "effect"
import { RelaySweeper } from "../../src/relay/Relay"
import { type RawResponse, send } from "./Edge"
import { serverUrl } from "./Harness"

export interface Slot {
  readonly relay_id: string
  readonly upload_token: string
  readonly download_token: string
  readonly expires_at: string
  readonly max_downloads: number
}

export const createSlot = (body: Record<string, unknown>, headers: Record<string, string> = {}) =>
  send("/relay", {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body)
  })

/** Creates a slot and fails the test unless it is a 201. */
export const newSlot = (body: Record<string, unknown>, headers: Record<string, string> = {}) =>
  Effect.flatMap(createSlot(body, headers), (res) =>
    res.status === 201
      ? Effect.succeed(res.json as Slot)
      : Effect.dieMessage(`create: ${res.status} ${res.text}`)
  )

export const upload = (
  relayId: string,
  token: string | undefined,
  bytes: Uint8Array,
  headers: Record<string, string> = {}
) =>
  send(`/relay/${relayId}`, {
    method: "PUT",
    headers: {
      "content-type": "application/octet-stream",
      ...(token === undefined ? {} : { "relay-token": token }),
      ...headers
    },
    body: bytes
  })

export const remove = (relayId: string, headers: Record<string, string>) =>
  send(`/relay/${relayId}`, { method: "DELETE", headers })

export interface Download {
  readonly status: number
  readonly contentType: string | null
  readonly contentLength: string | null
  readonly bytes: Buffer
  readonly text: string
}

export const download = (relayId: string, token: string | undefined) =>
  Effect.flatMap(serverUrl, (base) =>
    Effect.promise(async (): Promise<Download> => {
      const res = await fetch(`${base}/relay/${relayId}`, {
        headers: token === undefined ? {} : { "relay-token": token }
      })
      const bytes = Buffer.from(await res.arrayBuffer())
      return {
        status: res.status,
        contentType: res.headers.get("content-type"),
        contentLength: res.headers.get("content-length"),
        bytes,
        text: bytes.toString("utf8")
      }
    })
  )

const parse = (text: string) => {
  try {
    return text === "" ? undefined : JSON.parse(text)
  } catch {
    return undefined
  }
}

/**
 * A chunked upload (no Content-Length) whose pieces are sent one by one: `send` writes a piece, `end`
 * finishes the body and yields the answer.
 */
export const chunkedUpload = (relayId: string, token: string) =>
  Effect.flatMap(serverUrl, (base) =>
    Effect.sync(() => {
      let resolve: (res: RawResponse) => void = () => {}
      const answer = new Promise<RawResponse>((r) => {
        resolve = r
      })
      const req = http.request(new URL(`/relay/${relayId}`, base), {
        method: "PUT",
        headers: {
          "relay-token": token,
          "content-type": "application/octet-stream",
          "transfer-encoding": "chunked"
        }
      })
      req.on("response", (res) => {
        let text = ""
        res.setEncoding("utf8")
        res.on("data", (chunk) => {
          text += chunk
        })
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            contentType: res.headers["content-type"] ?? null,
            text,
            json: parse(text)
          })
        )
      })
      req.on("error", (error) =>
        resolve({ status: 0, contentType: null, text: `connection error: ${error.message}`, json: undefined })
      )
      req.flushHeaders()
      return {
        send: (bytes: Uint8Array) =>
          Effect.async<void>((resume) => {
            req.write(bytes, () => resume(Effect.void))
          }),
        end: Effect.promise(() => {
          req.end()
          return answer
        }),
        abort: Effect.sync(() => req.destroy())
      }
    })
  )

/** A chunked upload of `pieces`, sent in one go. */
export const uploadChunked = (relayId: string, token: string, pieces: ReadonlyArray<Uint8Array>) =>
  Effect.gen(function* () {
    const upload = yield* chunkedUpload(relayId, token)
    for (const piece of pieces) yield* upload.send(piece)
    return yield* upload.end
  })

/**
 * Moves the TestClock by `ms` in steps of at most `step` (default: the relay's sweep interval), and
 * after each step waits until the relay sweep that came due has finished its store work. Each sweep
 * thus runs at (or after) the instant it was due, never at one left behind by a longer jump.
 */
export const advanceRelay = (ms: number, step = 30_000) =>
  Effect.gen(function* () {
    const relaySweeper = yield* RelaySweeper
    for (let left = ms; left > 0; left -= step) {
      yield* TestClock.adjust(Math.min(step, left))
      yield* relaySweeper.idle
    }
  })
