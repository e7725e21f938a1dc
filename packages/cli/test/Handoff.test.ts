import { createHash, randomBytes } from "node:crypto"
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { Decrypter, generateX25519Identity, identityToRecipient } from "age-encryption"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Progress } from "../src/Progress"
import { type RunResult, runPromise, tempDir } from "./support/Cli"
import { type FakeRelay, startFakeRelay } from "./support/FakeRelay"

/**
 * `handoff send` / `handoff receive` against an in-memory relay speaking the wire contract: round
 * trips, age interoperability (checked with the `age-encryption` library directly), every failure
 * outcome with nothing left behind, the --recipient mode and the envelope file.
 */

let relay: FakeRelay
beforeAll(async () => {
  relay = await startFakeRelay()
})
afterAll(() => relay.close())

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex")

interface Sent {
  readonly dir: string
  readonly file: string
  readonly plaintext: Buffer
  readonly result: RunResult
  readonly envelope: Record<string, unknown>
  readonly envelopePath: string
}

/** Writes `size` random bytes to a file and runs `handoff send` on it (envelope on stdout). */
const send = async (size: number, extra: ReadonlyArray<string> = []): Promise<Sent> => {
  const dir = tempDir("am-handoff-")
  const file = join(dir, "output.bin")
  const plaintext = randomBytes(size)
  writeFileSync(file, plaintext)
  const result = await runPromise(["handoff", "send", "--server", relay.url, "--file", file, ...extra])
  expect(result.stderr).toBe("")
  expect(result.code).toBe(0)
  const envelope = JSON.parse(result.stdout) as Record<string, unknown>
  const envelopePath = join(dir, "envelope.json")
  writeFileSync(envelopePath, result.stdout)
  return { dir, file, plaintext, result, envelope, envelopePath }
}

/** Runs `handoff receive` into a fresh directory. */
const receive = async (envelopePath: string, extra: ReadonlyArray<string> = []) => {
  const dir = tempDir("am-receive-")
  const out = join(dir, "received.bin")
  const result = await runPromise(["handoff", "receive", "--envelope", envelopePath, "--out", out, ...extra])
  return { dir, out, result }
}

const slotOf = (envelope: Record<string, unknown>) => relay.slots.get(String(envelope.relay_id))!

/** Rewrites the envelope file with some fields changed. */
const editEnvelope = (sent: Sent, changes: Record<string, unknown>) => {
  const path = join(sent.dir, `envelope-${Object.keys(changes).join("-")}.json`)
  writeFileSync(path, JSON.stringify({ ...sent.envelope, ...changes }))
  return path
}

describe("handoff send → receive", () => {
  it("round-trips a 5 MiB random file byte for byte, through ciphertext only", async () => {
    const sent = await send(5 * 1024 * 1024 + 123)
    const { envelope, plaintext } = sent
    expect(Object.keys(envelope)).toEqual([
      "v",
      "server",
      "relay_id",
      "download_token",
      "expires_at",
      "cipher",
      "identity",
      "plaintext_sha256",
      "plaintext_size"
    ])
    expect(envelope).toMatchObject({
      v: 1,
      server: relay.url,
      cipher: "age-x25519",
      plaintext_sha256: sha256(plaintext),
      plaintext_size: plaintext.length
    })
    expect(String(envelope.identity)).toMatch(/^AGE-SECRET-KEY-1[0-9A-Z]{58}$/)
    const slot = slotOf(envelope)
    expect(envelope.download_token).toBe(slot.download_token)
    expect(slot.status).toBe("uploaded")
    // The relay holds age ciphertext of the announced size, not the file.
    expect(slot.bytes!.length).toBe(slot.size_bytes)
    expect(slot.bytes!.subarray(0, 22).toString("latin1")).toBe("age-encryption.org/v1\n")
    expect(slot.bytes!.includes(plaintext.subarray(0, 64))).toBe(false)

    const { out, dir, result } = await receive(sent.envelopePath)
    expect(result.stderr).toBe("")
    expect(result.code).toBe(0)
    expect(JSON.parse(result.stdout)).toEqual({
      out,
      relay_id: envelope.relay_id,
      plaintext_size: plaintext.length,
      plaintext_sha256: sha256(plaintext)
    })
    expect(readFileSync(out).equals(plaintext)).toBe(true)
    expect(statSync(out).mode & 0o777).toBe(0o600)
    expect(readdirSync(dir)).toEqual(["received.bin"])
  })

  it("uploads with Content-Length = size_bytes, anonymously, and never sends the envelope's secrets", async () => {
    const before = relay.requests.length
    const sent = await send(300_000)
    const requests = relay.requests.slice(before)
    expect(requests.map((r) => r.method)).toEqual(["POST", "PUT"])
    const [create, upload] = requests
    const slot = slotOf(sent.envelope)
    expect(JSON.parse(create!.json!)).toEqual({ size_bytes: slot.size_bytes })
    expect(upload!.headers["content-length"]).toBe(String(slot.size_bytes))
    expect(upload!.headers["transfer-encoding"]).toBeUndefined()
    expect(upload!.headers["content-type"]).toBe("application/octet-stream")
    expect(upload!.headers["relay-token"]).toBe(slot.upload_token)
    const everything = JSON.stringify(requests)
    for (const secret of [
      sent.envelope.identity,
      sent.envelope.plaintext_sha256,
      sent.envelope.download_token
    ]) {
      expect(everything.includes(String(secret))).toBe(false)
    }
    for (const r of requests) expect(r.headers.authorization).toBeUndefined()
  })

  it("passes --ttl-secs and --max-downloads to the slot", async () => {
    const before = relay.requests.length
    const sent = await send(10, ["--ttl-secs", "600", "--max-downloads", "1"])
    const slot = slotOf(sent.envelope)
    expect(JSON.parse(relay.requests[before]!.json!)).toEqual({
      size_bytes: slot.size_bytes,
      ttl_secs: 600,
      max_downloads: 1
    })
    expect(slot.max_downloads).toBe(1)
    // One download used it up: the second receive finds the slot unavailable.
    expect((await receive(sent.envelopePath)).result.code).toBe(0)
    const again = await receive(sent.envelopePath)
    expect(again.result.code).toBe(1)
    expect(again.result.error).toMatchObject({
      _tag: "HandoffRelayUnavailableError",
      error: "relay-unavailable"
    })
  })

  it("hands off an empty file", async () => {
    const sent = await send(0)
    expect(sent.envelope.plaintext_size).toBe(0)
    const { out, result } = await receive(sent.envelopePath)
    expect(result.code).toBe(0)
    expect(readFileSync(out).length).toBe(0)
  })
})

describe("age format interoperability", () => {
  it("the relay's ciphertext decrypts with the envelope's identity using age-encryption directly", async () => {
    const sent = await send(200_000)
    const decrypter = new Decrypter()
    decrypter.addIdentity(String(sent.envelope.identity))
    const plaintext = await decrypter.decrypt(new Uint8Array(slotOf(sent.envelope).bytes!))
    expect(Buffer.from(plaintext).equals(sent.plaintext)).toBe(true)
  })
})

describe("handoff receive failures leave nothing behind", () => {
  const expectNothingWritten = (dir: string) => expect(readdirSync(dir)).toEqual([])

  it("a tampered ciphertext is decrypt-failed (exit 5)", async () => {
    const sent = await send(300_000)
    const slot = slotOf(sent.envelope)
    slot.bytes![Math.floor(slot.bytes!.length / 2)]! ^= 0x01
    const { dir, result } = await receive(sent.envelopePath)
    expect(result.code).toBe(5)
    expect(result.error).toMatchObject({ _tag: "HandoffDecryptFailedError", error: "decrypt-failed" })
    expectNothingWritten(dir)
  })

  it("a ciphertext cut short by the relay is not accepted", async () => {
    const sent = await send(300_000)
    const slot = slotOf(sent.envelope)
    // The relay serves a shorter blob with a matching Content-Length: authentication catches it.
    slot.bytes = slot.bytes!.subarray(0, slot.bytes!.length - 1000)
    const { dir, result } = await receive(sent.envelopePath)
    expect(result.code).toBe(5)
    expect(result.error).toMatchObject({ error: "decrypt-failed" })
    expectNothingWritten(dir)
  })

  it("a wrong identity is decrypt-failed (exit 5)", async () => {
    const sent = await send(1000)
    const path = editEnvelope(sent, { identity: await generateX25519Identity() })
    const { dir, result } = await receive(path)
    expect(result.code).toBe(5)
    expect(result.error).toMatchObject({ _tag: "HandoffDecryptFailedError", error: "decrypt-failed" })
    expect(String(result.error?.message)).toContain("no identity matched")
    expectNothingWritten(dir)
  })

  it("bytes that are not age at all are decrypt-failed", async () => {
    const sent = await send(1000)
    const slot = slotOf(sent.envelope)
    slot.bytes = randomBytes(slot.bytes!.length)
    const { dir, result } = await receive(sent.envelopePath)
    expect(result.code).toBe(5)
    expect(result.error).toMatchObject({ error: "decrypt-failed" })
    expectNothingWritten(dir)
  })

  it("a wrong plaintext_sha256 is hash-mismatch (exit 5) and an existing --out is left as it was", async () => {
    const sent = await send(2 * 1024 * 1024)
    const path = editEnvelope(sent, { plaintext_sha256: "0".repeat(64) })
    const dir = tempDir("am-receive-")
    const out = join(dir, "received.bin")
    writeFileSync(out, "previous content")
    const result = await runPromise(["handoff", "receive", "--envelope", path, "--out", out])
    expect(result.code).toBe(5)
    expect(result.error).toMatchObject({
      _tag: "HandoffHashMismatchError",
      error: "hash-mismatch",
      expected_sha256: "0".repeat(64),
      received_sha256: sha256(sent.plaintext),
      received_size: sent.plaintext.length
    })
    expect(readFileSync(out, "utf8")).toBe("previous content")
    expect(readdirSync(dir)).toEqual(["received.bin"])
  })

  it("more bytes than plaintext_size is hash-mismatch, stopped early", async () => {
    const sent = await send(300_000)
    const path = editEnvelope(sent, { plaintext_size: 1000 })
    const { dir, result } = await receive(path)
    expect(result.code).toBe(5)
    expect(result.error).toMatchObject({ error: "hash-mismatch", expected_size: 1000 })
    expect(Number(result.error?.received_size)).toBeLessThan(300_000)
    expectNothingWritten(dir)
  })

  it("fewer bytes than plaintext_size is hash-mismatch", async () => {
    const sent = await send(1000)
    const path = editEnvelope(sent, { plaintext_size: 1001 })
    const { dir, result } = await receive(path)
    expect(result.code).toBe(5)
    expect(result.error).toMatchObject({ error: "hash-mismatch", received_size: 1000 })
    expectNothingWritten(dir)
  })

  it("an unknown or deleted slot is relay-unavailable (exit 1)", async () => {
    const sent = await send(1000)
    const unknown = editEnvelope(sent, { relay_id: "relay_AAAAAAAAAAAAAAAAAAAAAA" })
    const first = await receive(unknown)
    expect(first.result.code).toBe(1)
    expect(first.result.error).toMatchObject({
      _tag: "HandoffRelayUnavailableError",
      error: "relay-unavailable"
    })
    expectNothingWritten(first.dir)

    slotOf(sent.envelope).status = "deleted"
    const second = await receive(sent.envelopePath)
    expect(second.result.code).toBe(1)
    expect(second.result.error).toMatchObject({ error: "relay-unavailable" })
    expectNothingWritten(second.dir)
  })

  it("a wrong download token is relay-unavailable", async () => {
    const sent = await send(1000)
    const path = editEnvelope(sent, { download_token: `relay-token-${"1".repeat(64)}` })
    const { dir, result } = await receive(path)
    expect(result.code).toBe(1)
    expect(result.error).toMatchObject({ error: "relay-unavailable" })
    expectNothingWritten(dir)
  })

  it("a download cut off by the network is exit 3 (worth retrying), nothing written", async () => {
    const sent = await send(300_000)
    relay.truncateNextDownloadAfter = 100_000
    const { dir, result } = await receive(sent.envelopePath)
    expect(result.code).toBe(3)
    expect(result.error?._tag).toBe("ServerUnreachableError")
    expectNothingWritten(dir)
  })

  it("a malformed envelope is exit 4 and names the file; no request is made", async () => {
    const dir = tempDir("am-envelope-")
    const path = join(dir, "envelope.json")
    writeFileSync(path, JSON.stringify({ v: 2, relay_id: "x" }))
    const before = relay.requests.length
    const result = await runPromise(["handoff", "receive", "--envelope", path, "--out", join(dir, "out")])
    expect(result.code).toBe(4)
    expect(result.error).toMatchObject({ _tag: "EnvelopeMalformedError", path })
    expect(relay.requests.length).toBe(before)
  })
})

describe("handoff send --recipient", () => {
  it("encrypts for the receiver's key: no identity in the envelope; receive needs --identity-file", async () => {
    const identity = await generateX25519Identity()
    const recipient = await identityToRecipient(identity)
    const sent = await send(100_000, ["--recipient", recipient])
    expect(sent.envelope).not.toHaveProperty("identity")
    expect(sent.result.stdout.includes("AGE-SECRET-KEY")).toBe(false)

    const without = await receive(sent.envelopePath)
    expect(without.result.code).toBe(2)
    expect(without.result.error?._tag).toBe("UsageError")
    expect(String(without.result.error?.message)).toContain("--identity-file")
    expect(readdirSync(without.dir)).toEqual([])

    const keyFile = join(sent.dir, "key.txt")
    writeFileSync(keyFile, `# created: 2026-01-01\n# public key: ${recipient}\n${identity}\n`)
    const withKey = await receive(sent.envelopePath, ["--identity-file", keyFile])
    expect(withKey.result.stderr).toBe("")
    expect(withKey.result.code).toBe(0)
    expect(readFileSync(withKey.out).equals(sent.plaintext)).toBe(true)

    const other = join(sent.dir, "other.txt")
    writeFileSync(other, `${await generateX25519Identity()}\n`)
    const wrongKey = await receive(sent.envelopePath, ["--identity-file", other])
    expect(wrongKey.result.code).toBe(5)
    expect(wrongKey.result.error).toMatchObject({ error: "decrypt-failed" })
    expect(readdirSync(wrongKey.dir)).toEqual([])
  })

  it("refuses a recipient that is not an age X25519 public key (exit 2), before any request", async () => {
    const before = relay.requests.length
    const dir = tempDir("am-handoff-")
    writeFileSync(join(dir, "f"), "x")
    const result = await runPromise([
      "handoff",
      "send",
      "--server",
      relay.url,
      "--file",
      join(dir, "f"),
      "--recipient",
      "age1notakey"
    ])
    expect(result.code).toBe(2)
    expect(result.error?._tag).toBe("UsageError")
    expect(relay.requests.length).toBe(before)
  })
})

describe("handoff send", () => {
  it("--envelope-out writes the envelope with mode 0600 and prints no secret", async () => {
    const dir = tempDir("am-handoff-")
    const file = join(dir, "output.bin")
    writeFileSync(file, randomBytes(5000))
    const envelopePath = join(dir, "envelope.json")
    const result = await runPromise([
      "handoff",
      "send",
      "--server",
      relay.url,
      "--file",
      file,
      "--envelope-out",
      envelopePath
    ])
    expect(result.code).toBe(0)
    expect(statSync(envelopePath).mode & 0o777).toBe(0o600)
    const envelope = JSON.parse(readFileSync(envelopePath, "utf8"))
    expect(envelope.identity).toMatch(/^AGE-SECRET-KEY-1/)
    const printed = JSON.parse(result.stdout)
    expect(printed).toEqual({
      envelope: envelopePath,
      relay_id: envelope.relay_id,
      expires_at: envelope.expires_at,
      plaintext_size: 5000
    })
    expect(result.stdout.includes(envelope.download_token)).toBe(false)
    expect(readdirSync(dir).sort()).toEqual(["envelope.json", "output.bin"])
    const { out, result: received } = await receive(envelopePath)
    expect(received.code).toBe(0)
    expect(readFileSync(out).equals(readFileSync(file))).toBe(true)
  })

  it("a missing file is exit 4 and creates no slot", async () => {
    const before = relay.requests.length
    const result = await runPromise([
      "handoff",
      "send",
      "--server",
      relay.url,
      "--file",
      join(tempDir(), "missing.bin")
    ])
    expect(result.code).toBe(4)
    expect(result.error?._tag).toBe("LocalIoError")
    expect(relay.requests.length).toBe(before)
  })

  it("a file whose ciphertext exceeds the relay's limit is refused (exit 1) with a note on the overhead", async () => {
    const small = await startFakeRelay({ maxBytes: 1000 })
    const dir = tempDir("am-handoff-")
    writeFileSync(join(dir, "f"), randomBytes(990))
    const result = await runPromise(["handoff", "send", "--server", small.url, "--file", join(dir, "f")])
    await small.close()
    expect(result.code).toBe(1)
    expect(result.error).toMatchObject({ _tag: "PayloadTooLargeError", limit_bytes: 1000 })
    expect(result.stderr).toMatch(/encrypts to \d+ bytes .*more than the relay's 1000/)
    expect(result.stdout).toBe("")
  })

  it("a failed upload deletes its slot and prints no envelope", async () => {
    const dir = tempDir("am-handoff-")
    const file = join(dir, "output.bin")
    writeFileSync(file, randomBytes(5000))
    relay.failNextUploadWith = 503
    const before = relay.requests.length
    const result = await runPromise(["handoff", "send", "--server", relay.url, "--file", file])
    expect(result.code).toBe(3)
    expect(result.stdout).toBe("")
    expect(relay.requests.slice(before).map((r) => r.method)).toEqual(["POST", "PUT", "DELETE"])
    const id = decodeURIComponent(relay.requests[before + 2]!.path.split("/")[2]!)
    expect(relay.slots.get(id)?.status).toBe("deleted")
  })

  it("draws a progress bar for files over 1 MiB (upload and download), none for smaller ones", async () => {
    const bars: Array<{ label: string; total: number; advanced: number; stopped: boolean }> = []
    const progress = Progress.layerTest(bars)
    const dir = tempDir("am-handoff-")
    const big = join(dir, "big.bin")
    const small = join(dir, "small.bin")
    writeFileSync(big, randomBytes(1024 * 1024 + 1))
    writeFileSync(small, randomBytes(1024 * 1024))
    const sentBig = await runPromise(["handoff", "send", "--server", relay.url, "--file", big], { progress })
    expect(sentBig.code).toBe(0)
    const size = slotOf(JSON.parse(sentBig.stdout)).size_bytes
    expect(bars).toEqual([{ label: "uploading", total: size, advanced: size, stopped: true }])

    const envelopePath = join(dir, "envelope.json")
    writeFileSync(envelopePath, sentBig.stdout)
    const received = await runPromise(
      ["handoff", "receive", "--envelope", envelopePath, "--out", join(dir, "received.bin")],
      { progress }
    )
    expect(received.code).toBe(0)
    expect(bars[1]).toEqual({ label: "downloading", total: size, advanced: size, stopped: true })

    bars.length = 0
    const sentSmall = await runPromise(["handoff", "send", "--server", relay.url, "--file", small], {
      progress
    })
    expect(sentSmall.code).toBe(0)
    expect(bars).toEqual([])
  })
})

describe("temporary files", () => {
  it("receive never leaves a .part file, also next to an --out that cannot be written", async () => {
    const sent = await send(1000)
    const dir = tempDir("am-receive-")
    const result = await runPromise([
      "handoff",
      "receive",
      "--envelope",
      sent.envelopePath,
      "--out",
      join(dir, "missing-dir", "out.bin")
    ])
    expect(result.code).toBe(4)
    expect(result.error?._tag).toBe("LocalIoError")
    expect(existsSync(join(dir, "missing-dir"))).toBe(false)
  })
})
