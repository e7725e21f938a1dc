import { randomBytes } from "node:crypto"
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Progress } from "../src/Progress"
import { runPromise, tempDir } from "./support/Cli"
import { type FakeRelay, startFakeRelay } from "./support/FakeRelay"
import { startFakeServer } from "./support/FakeServer"

/** The low-level relay commands against an in-memory relay speaking the wire contract. */

let relay: FakeRelay
beforeAll(async () => {
  relay = await startFakeRelay()
})
afterAll(() => relay.close())

/** `relay-create` through the CLI; returns the printed slot. */
const create = async (size: number, extra: ReadonlyArray<string> = []) => {
  const result = await runPromise([
    "relay-create",
    "--server",
    relay.url,
    "--size-bytes",
    String(size),
    ...extra
  ])
  expect(result.stderr).toBe("")
  expect(result.code).toBe(0)
  return JSON.parse(result.stdout) as {
    relay_id: string
    upload_token: string
    download_token: string
    expires_at: string
    max_downloads: number
  }
}

const blob = (size: number) => {
  const dir = tempDir("am-relay-")
  const file = join(dir, "blob.age")
  const bytes = randomBytes(size)
  writeFileSync(file, bytes)
  return { dir, file, bytes }
}

describe("relay-create", () => {
  it("posts {size_bytes, ttl_secs, max_downloads} without any agent credential and prints the slot verbatim", async () => {
    const before = relay.requests.length
    const result = await runPromise(
      [
        "relay-create",
        "--server",
        relay.url,
        "--size-bytes",
        "1000",
        "--ttl-secs",
        "60",
        "--max-downloads",
        "2"
      ],
      { env: { AGENT_MARKETPLACE_TOKEN: "agent-secret-token" } }
    )
    expect(result.code).toBe(0)
    const [request] = relay.requests.slice(before)
    expect(request!.method).toBe("POST")
    expect(JSON.parse(request!.json!)).toEqual({ size_bytes: 1000, ttl_secs: 60, max_downloads: 2 })
    expect(request!.headers.authorization).toBeUndefined()
    const printed = JSON.parse(result.stdout)
    const slot = relay.slots.get(printed.relay_id)!
    expect(printed).toEqual({
      relay_id: slot.relay_id,
      upload_token: slot.upload_token,
      download_token: slot.download_token,
      expires_at: slot.expires_at,
      max_downloads: 2
    })
  })

  it("a typed refusal is exit 1 with the server's _tag", async () => {
    const result = await runPromise([
      "relay-create",
      "--server",
      relay.url,
      "--size-bytes",
      String(60 * 1024 * 1024)
    ])
    expect(result.code).toBe(1)
    expect(result.error).toMatchObject({ _tag: "PayloadTooLargeError", limit_bytes: 50 * 1024 * 1024 })
  })

  it("retries 503 and 429 but not 507 (quota full: exit 3 at once)", async () => {
    const slot = {
      relay_id: "relay_AAAAAAAAAAAAAAAAAAAAAA",
      upload_token: "u",
      download_token: "d",
      expires_at: "2026-01-01T01:00:00.000Z",
      max_downloads: 3
    }
    const flaky = await startFakeServer((_request, index) =>
      index === 0
        ? { status: 503, body: { _tag: "InternalError", message: "busy" } }
        : index === 1
          ? { status: 429, body: { _tag: "RateLimitedError", message: "slow down", retry_after_secs: 1 } }
          : { status: 201, body: slot }
    )
    const ok = await runPromise(["relay-create", "--server", flaky.url, "--size-bytes", "10"])
    expect(ok.code).toBe(0)
    expect(JSON.parse(ok.stdout)).toEqual(slot)
    expect(flaky.requests.length).toBe(3)
    await flaky.close()

    const full = await startFakeServer(() => ({
      status: 507,
      body: { _tag: "RelayStorageFullError", message: "relay storage is full" }
    }))
    const refused = await runPromise(["relay-create", "--server", full.url, "--size-bytes", "10"])
    expect(refused.code).toBe(3)
    expect(refused.error?._tag).toBe("RelayStorageFullError")
    expect(full.requests.length).toBe(1)
    await full.close()
  })

  it("a --size-bytes that is not an integer is a usage error (exit 2)", async () => {
    const result = await runPromise(["relay-create", "--server", relay.url, "--size-bytes", "ten"])
    expect(result.code).toBe(2)
  })
})

describe("relay-upload", () => {
  it("streams the file with Content-Length = its size and the upload token, and prints the metadata", async () => {
    const { file, bytes } = blob(3 * 1024 * 1024 + 7)
    const slot = await create(bytes.length)
    const before = relay.requests.length
    const result = await runPromise([
      "relay-upload",
      "--server",
      relay.url,
      "--relay-id",
      slot.relay_id,
      "--relay-token",
      slot.upload_token,
      "--file",
      file
    ])
    expect(result.stderr).toBe("")
    expect(result.code).toBe(0)
    const [request] = relay.requests.slice(before)
    expect(request!.method).toBe("PUT")
    expect(request!.path).toBe(`/relay/${slot.relay_id}`)
    expect(request!.headers["content-length"]).toBe(String(bytes.length))
    expect(request!.headers["transfer-encoding"]).toBeUndefined()
    expect(request!.headers["relay-token"]).toBe(slot.upload_token)
    expect(relay.slots.get(slot.relay_id)!.bytes!.equals(bytes)).toBe(true)
    expect(JSON.parse(result.stdout)).toMatchObject({
      relay_id: slot.relay_id,
      status: "uploaded",
      size_bytes: bytes.length,
      download_count: 0
    })
  })

  it("a file of another size is refused by the relay (exit 1, RelaySizeMismatchError); the slot stays open", async () => {
    const { file, bytes } = blob(1000)
    const slot = await create(999)
    const args = [
      "relay-upload",
      "--server",
      relay.url,
      "--relay-id",
      slot.relay_id,
      "--relay-token",
      slot.upload_token
    ]
    const result = await runPromise([...args, "--file", file])
    expect(result.code).toBe(1)
    expect(result.error).toMatchObject({ _tag: "RelaySizeMismatchError", expected_bytes: 999 })
    expect(relay.slots.get(slot.relay_id)!.status).toBe("created")
    writeFileSync(file, bytes.subarray(0, 999))
    expect((await runPromise([...args, "--file", file])).code).toBe(0)
  })

  it("a second upload is exit 1 RelayAlreadyUploadedError; a wrong token is exit 1 RelayNotFoundError", async () => {
    const { file } = blob(10)
    const slot = await create(10)
    const args = ["relay-upload", "--server", relay.url, "--relay-id", slot.relay_id, "--file", file]
    expect((await runPromise([...args, "--relay-token", slot.upload_token])).code).toBe(0)
    const again = await runPromise([...args, "--relay-token", slot.upload_token])
    expect(again.code).toBe(1)
    expect(again.error?._tag).toBe("RelayAlreadyUploadedError")
    const wrong = await runPromise([...args, "--relay-token", slot.download_token])
    expect(wrong.code).toBe(1)
    expect(wrong.error?._tag).toBe("RelayNotFoundError")
  })

  it("a missing file is exit 4 before any request; a malformed relay id is exit 2", async () => {
    const before = relay.requests.length
    const missing = await runPromise([
      "relay-upload",
      "--server",
      relay.url,
      "--relay-id",
      "relay_AAAAAAAAAAAAAAAAAAAAAA",
      "--relay-token",
      "t",
      "--file",
      join(tempDir(), "missing")
    ])
    expect(missing.code).toBe(4)
    expect(missing.error?._tag).toBe("LocalIoError")
    const badId = await runPromise([
      "relay-upload",
      "--server",
      relay.url,
      "--relay-id",
      "not-a-relay-id",
      "--relay-token",
      "t",
      "--file",
      "x"
    ])
    expect(badId.code).toBe(2)
    expect(relay.requests.length).toBe(before)
  })

  it("draws a progress bar for a file over 1 MiB only", async () => {
    const bars: Array<{ label: string; total: number; advanced: number; stopped: boolean }> = []
    const progress = Progress.layerTest(bars)
    for (const size of [1024 * 1024, 1024 * 1024 + 1]) {
      const { file } = blob(size)
      const slot = await create(size)
      const result = await runPromise(
        [
          "relay-upload",
          "--server",
          relay.url,
          "--relay-id",
          slot.relay_id,
          "--relay-token",
          slot.upload_token,
          "--file",
          file
        ],
        { progress }
      )
      expect(result.code).toBe(0)
    }
    expect(bars).toEqual([
      { label: "uploading", total: 1024 * 1024 + 1, advanced: 1024 * 1024 + 1, stopped: true }
    ])
  })
})

describe("relay-download and relay-delete", () => {
  const uploaded = async (size: number, maxDownloads = 3) => {
    const source = blob(size)
    const slot = await create(size, ["--max-downloads", String(maxDownloads)])
    const up = await runPromise([
      "relay-upload",
      "--server",
      relay.url,
      "--relay-id",
      slot.relay_id,
      "--relay-token",
      slot.upload_token,
      "--file",
      source.file
    ])
    expect(up.code).toBe(0)
    return { ...source, slot }
  }
  const download = (slot: { relay_id: string }, token: string, out: string) =>
    runPromise([
      "relay-download",
      "--server",
      relay.url,
      "--relay-id",
      slot.relay_id,
      "--relay-token",
      token,
      "--out",
      out
    ])

  it("writes the blob byte for byte (mode 0600, no temporary file left) and prints {relay_id, out, size_bytes}", async () => {
    const { bytes, slot } = await uploaded(2 * 1024 * 1024 + 5)
    const dir = tempDir("am-download-")
    const out = join(dir, "blob.age")
    const result = await download(slot, slot.download_token, out)
    expect(result.stderr).toBe("")
    expect(result.code).toBe(0)
    expect(JSON.parse(result.stdout)).toEqual({ relay_id: slot.relay_id, out, size_bytes: bytes.length })
    expect(readFileSync(out).equals(bytes)).toBe(true)
    expect(statSync(out).mode & 0o777).toBe(0o600)
    expect(readdirSync(dir)).toEqual(["blob.age"])
    expect(relay.slots.get(slot.relay_id)!.download_count).toBe(1)
  })

  it("an unavailable slot is exit 1 RelayNotFoundError and writes nothing; max_downloads is honoured", async () => {
    const { slot } = await uploaded(100, 1)
    const dir = tempDir("am-download-")
    expect((await download(slot, slot.download_token, join(dir, "first"))).code).toBe(0)
    const second = await download(slot, slot.download_token, join(dir, "second"))
    expect(second.code).toBe(1)
    expect(second.error?._tag).toBe("RelayNotFoundError")
    expect(readdirSync(dir)).toEqual(["first"])
  })

  it("a download cut off mid-body is exit 3 and leaves neither --out nor a temporary file", async () => {
    const { slot } = await uploaded(500_000)
    const dir = tempDir("am-download-")
    writeFileSync(join(dir, "blob.age"), "older")
    relay.truncateNextDownloadAfter = 200_000
    const result = await download(slot, slot.download_token, join(dir, "blob.age"))
    expect(result.code).toBe(3)
    expect(result.error?._tag).toBe("ServerUnreachableError")
    expect(readdirSync(dir)).toEqual(["blob.age"])
    expect(readFileSync(join(dir, "blob.age"), "utf8")).toBe("older")
  })

  it("relay-delete with the upload token deletes the slot; the download token cannot delete", async () => {
    const { slot } = await uploaded(100)
    const del = (token: string) =>
      runPromise(["relay-delete", "--server", relay.url, "--relay-id", slot.relay_id, "--relay-token", token])
    const refused = await del(slot.download_token)
    expect(refused.code).toBe(1)
    expect(refused.error?._tag).toBe("RelayNotFoundError")
    const deleted = await del(slot.upload_token)
    expect(deleted.code).toBe(0)
    expect(JSON.parse(deleted.stdout)).toMatchObject({ relay_id: slot.relay_id, status: "deleted" })
    const after = await download(slot, slot.download_token, join(tempDir(), "out"))
    expect(after.code).toBe(1)
    expect(after.error?._tag).toBe("RelayNotFoundError")
  })

  it("an unreachable server is exit 3", async () => {
    const result = await runPromise(
      [
        "relay-download",
        "--server",
        "http://127.0.0.1:1",
        "--relay-id",
        "relay_AAAAAAAAAAAAAAAAAAAAAA",
        "--relay-token",
        "t",
        "--out",
        join(tempDir(), "out")
      ],
      {}
    )
    expect(result.code).toBe(3)
    expect(result.error?._tag).toBe("ServerUnreachableError")
  })
})
