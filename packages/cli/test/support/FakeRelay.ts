import { randomBytes } from "node:crypto"
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"

/**
 * An in-memory relay speaking the wire contract of `domain/relay` (POST/PUT/GET/DELETE /relay), for
 * CLI tests: token checks, one upload per slot with `Content-Length` = `size_bytes`, downloads counted
 * against `max_downloads`, the same 404 for every unavailable slot. Tests can read and tamper with the
 * stored bytes and see every request's method, path and headers (never bodies).
 */

export interface FakeSlot {
  readonly relay_id: string
  readonly upload_token: string
  readonly download_token: string
  readonly size_bytes: number
  readonly max_downloads: number
  download_count: number
  status: "created" | "uploaded" | "consumed" | "expired" | "deleted"
  bytes: Buffer | undefined
  readonly created_at: string
  readonly expires_at: string
}

export interface RelayRequest {
  readonly method: string
  readonly path: string
  readonly headers: IncomingMessage["headers"]
  /** Body bytes received (PUT) — counted, not kept. */
  readonly bodyBytes: number
  /** The JSON body of a POST (small, kept for assertions). */
  readonly json?: string
}

export interface FakeRelay {
  readonly url: string
  readonly slots: Map<string, FakeSlot>
  readonly requests: Array<RelayRequest>
  /** The only slot (fails when there is not exactly one). */
  readonly onlySlot: () => FakeSlot
  /** Overrides the answer to the next GET of a slot: cut the body after `bytes` bytes. */
  truncateNextDownloadAfter: number | undefined
  /** Answers the next PUT with this status (after reading the body) instead of storing it. */
  failNextUploadWith: number | undefined
  readonly close: () => Promise<void>
}

const notFound = { _tag: "RelayNotFoundError", message: "relay slot not found" }

const metadata = (slot: FakeSlot) => ({
  relay_id: slot.relay_id,
  status: slot.status,
  size_bytes: slot.size_bytes,
  max_downloads: slot.max_downloads,
  download_count: slot.download_count,
  created_at: slot.created_at,
  expires_at: slot.expires_at
})

const json = (res: ServerResponse, status: number, body: unknown) => {
  const text = JSON.stringify(body)
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) })
  res.end(text)
}

/** Drains a request body, counting (and optionally keeping) its bytes. */
const drain = (req: IncomingMessage, keep: boolean) =>
  new Promise<{ bytes: number; body: Buffer | undefined }>((resolve, reject) => {
    const chunks: Array<Buffer> = []
    let bytes = 0
    req.on("data", (chunk: Buffer) => {
      bytes += chunk.length
      if (keep) chunks.push(chunk)
    })
    req.on("end", () => resolve({ bytes, body: keep ? Buffer.concat(chunks) : undefined }))
    req.on("error", reject)
  })

export const startFakeRelay = async (options: { readonly maxBytes?: number } = {}): Promise<FakeRelay> => {
  const maxBytes = options.maxBytes ?? 50 * 1024 * 1024
  const slots = new Map<string, FakeSlot>()
  const requests: Array<RelayRequest> = []
  const state = {
    truncateNextDownloadAfter: undefined as number | undefined,
    failNextUploadWith: undefined as number | undefined
  }

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const method = req.method ?? "GET"
    const path = (req.url ?? "/").split("?")[0]!
    const token = req.headers["relay-token"]
    const record = (bodyBytes: number, text?: string) =>
      requests.push({
        method,
        path,
        headers: req.headers,
        bodyBytes,
        ...(text === undefined ? {} : { json: text })
      })

    if (method === "POST" && path === "/relay") {
      const { body } = await drain(req, true)
      record(body!.length, body!.toString("utf8"))
      let payload: { size_bytes?: unknown; ttl_secs?: unknown; max_downloads?: unknown }
      try {
        payload = JSON.parse(body!.toString("utf8"))
      } catch {
        return json(res, 400, { _tag: "InputInvalidError", message: "malformed JSON" })
      }
      const size = payload.size_bytes
      if (typeof size !== "number" || !Number.isInteger(size) || size < 1) {
        return json(res, 400, { _tag: "InputInvalidError", message: "size_bytes must be a positive integer" })
      }
      if (size > maxBytes) {
        return json(res, 413, { _tag: "PayloadTooLargeError", message: "too large", limit_bytes: maxBytes })
      }
      const ttl = typeof payload.ttl_secs === "number" ? payload.ttl_secs : 3600
      const slot: FakeSlot = {
        relay_id: `relay_${randomBytes(16).toString("base64url")}`,
        upload_token: `relay-token-${randomBytes(32).toString("hex")}`,
        download_token: `relay-token-${randomBytes(32).toString("hex")}`,
        size_bytes: size,
        max_downloads: typeof payload.max_downloads === "number" ? payload.max_downloads : 3,
        download_count: 0,
        status: "created",
        bytes: undefined,
        created_at: "2026-01-01T00:00:00.000Z",
        expires_at: new Date(Date.UTC(2026, 0, 1) + ttl * 1000).toISOString()
      }
      slots.set(slot.relay_id, slot)
      return json(res, 201, {
        relay_id: slot.relay_id,
        upload_token: slot.upload_token,
        download_token: slot.download_token,
        expires_at: slot.expires_at,
        max_downloads: slot.max_downloads
      })
    }

    const match = /^\/relay\/([^/]+)$/.exec(path)
    const slot = match ? slots.get(decodeURIComponent(match[1]!)) : undefined

    if (method === "PUT" && match) {
      const usable = slot !== undefined && token === slot.upload_token
      if (!usable || (slot.status !== "created" && slot.status !== "uploaded")) {
        const { bytes } = await drain(req, false)
        record(bytes)
        return json(res, 404, notFound)
      }
      if (slot.status === "uploaded") {
        const { bytes } = await drain(req, false)
        record(bytes)
        return json(res, 409, { _tag: "RelayAlreadyUploadedError", message: "already uploaded" })
      }
      const declared = Number(req.headers["content-length"])
      const { bytes, body } = await drain(req, true)
      record(bytes)
      const failWith = state.failNextUploadWith
      if (failWith !== undefined) {
        state.failNextUploadWith = undefined
        return json(res, failWith, { _tag: "InternalError", message: "injected failure" })
      }
      if (declared !== slot.size_bytes || bytes !== slot.size_bytes) {
        return json(res, 400, {
          _tag: "RelaySizeMismatchError",
          message: `expected ${slot.size_bytes} bytes`,
          expected_bytes: slot.size_bytes
        })
      }
      slot.bytes = body
      slot.status = "uploaded"
      return json(res, 200, metadata(slot))
    }

    if (method === "GET" && match) {
      record(0)
      if (slot === undefined || token !== slot.download_token || slot.status !== "uploaded") {
        return json(res, 404, notFound)
      }
      slot.download_count++
      const bytes = slot.bytes!
      if (slot.download_count >= slot.max_downloads) {
        slot.status = "consumed"
        slot.bytes = undefined
      }
      res.writeHead(200, { "content-type": "application/octet-stream", "content-length": bytes.length })
      const cut = state.truncateNextDownloadAfter
      if (cut !== undefined) {
        state.truncateNextDownloadAfter = undefined
        res.write(bytes.subarray(0, cut), () => res.socket?.destroy())
        return
      }
      res.end(bytes)
      return
    }

    if (method === "DELETE" && match) {
      record(0)
      if (slot === undefined || token !== slot.upload_token || slot.status === "deleted") {
        return json(res, 404, notFound)
      }
      slot.status = "deleted"
      slot.bytes = undefined
      return json(res, 200, metadata(slot))
    }

    await drain(req, false)
    record(0)
    return json(res, 404, { _tag: "RouteNotFound", message: "no such route" })
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((error) => {
      if (!res.headersSent) json(res, 500, { _tag: "InternalError", message: String(error) })
      else res.destroy()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const { port } = server.address() as AddressInfo
  const relay: FakeRelay = {
    url: `http://127.0.0.1:${port}`,
    slots,
    requests,
    onlySlot: () => {
      if (slots.size !== 1) throw new Error(`expected exactly one slot, found ${slots.size}`)
      return [...slots.values()][0]!
    },
    get truncateNextDownloadAfter() {
      return state.truncateNextDownloadAfter
    },
    set truncateNextDownloadAfter(value) {
      state.truncateNextDownloadAfter = value
    },
    get failNextUploadWith() {
      return state.failNextUploadWith
    },
    set failNextUploadWith(value) {
      state.failNextUploadWith = value
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      })
  }
  return relay
}
