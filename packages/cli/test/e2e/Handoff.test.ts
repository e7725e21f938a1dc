import { spawn } from "node:child_process"
import { createHash, randomBytes } from "node:crypto"
import { createReadStream, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { pathToFileURL } from "node:url"
import pg from "pg"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { tempDir } from "../support/Cli"
import { cleanEnv, cliBin, ensureBuilt, root, type StartedServer, startServer } from "../support/Processes"

/**
 * `handoff send` → envelope → `handoff receive` with the built CLI against the built server with its
 * default limits, on the memory store, SQLite (blobs on disk) and Postgres (blobs in chunk rows): a
 * 50 MiB random file arrives byte for byte, through bounded memory. The default blob limit is the age
 * ciphertext of a 50 MiB file (50 MiB + 64 KiB); a file one chunk larger is refused.
 */

const MiB = 1024 * 1024
const FILE_SIZE = 50 * MiB

/** Writes peak RSS (KiB) to $AM_MAX_RSS_FILE when the process exits (preloaded with --import). */
const maxRssProbe = join(root, "packages/cli/test/support/MaxRss.mjs")

interface Run {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
  /** Peak resident memory of the CLI process, in bytes. */
  readonly maxRss: number
}

/** Runs the built CLI (the committed bin file) with a capped old space, optional stdin, measuring peak RSS. */
const runCli = (args: ReadonlyArray<string>, options: { readonly stdin?: string } = {}) =>
  new Promise<Run>((resolve, reject) => {
    const rssFile = join(tempDir("am-rss-"), "max-rss")
    const child = spawn(
      process.execPath,
      ["--max-old-space-size=48", "--import", pathToFileURL(maxRssProbe).href, cliBin, ...args],
      {
        env: cleanEnv(tempDir("am-home-"), { AM_MAX_RSS_FILE: rssFile }),
        stdio: ["pipe", "pipe", "pipe"]
      }
    )
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString("utf8")))
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")))
    child.stdin.end(options.stdin ?? "")
    const timer = setTimeout(() => child.kill("SIGKILL"), 120_000)
    child.on("error", reject)
    child.on("exit", (code) => {
      clearTimeout(timer)
      resolve({ code: code ?? -1, stdout, stderr, maxRss: Number(readFileSync(rssFile, "utf8")) * 1024 })
    })
  })

const sha256File = (path: string) =>
  new Promise<string>((resolve, reject) => {
    const hash = createHash("sha256")
    createReadStream(path)
      .on("data", (chunk) => hash.update(chunk))
      .on("end", () => resolve(hash.digest("hex")))
      .on("error", reject)
  })

let dir: string
let file: string
let fileSha256: string
/** Peak RSS of a CLI call that moves no bytes (health against the same server). */
let baselineRss = 0

beforeAll(() => {
  ensureBuilt("cli")
  ensureBuilt("server")
  dir = tempDir("am-e2e-handoff-")
  file = join(dir, "output.bin")
  const bytes = randomBytes(FILE_SIZE)
  writeFileSync(file, bytes)
  fileSha256 = createHash("sha256").update(bytes).digest("hex")
}, 120_000)

const testDatabaseUrl =
  process.env.AGENT_MARKETPLACE_TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test"
const schemas: Array<string> = []

/** A fresh Postgres schema for one server (dropped after the suite). */
const postgresEnv = async (): Promise<Record<string, string>> => {
  const schema = `e2e_handoff_${randomBytes(5).toString("hex")}`
  const client = new pg.Client({ connectionString: testDatabaseUrl })
  await client.connect()
  await client.query(`CREATE SCHEMA ${schema}`)
  await client.end()
  schemas.push(schema)
  const url = new URL(testDatabaseUrl)
  url.searchParams.set("options", `-c search_path=${schema}`)
  return {
    AGENT_MARKETPLACE_STORE: "postgres",
    AGENT_MARKETPLACE_DATABASE_URL: url.toString(),
    AGENT_MARKETPLACE_DATA_DIR: tempDir("am-data-")
  }
}

afterAll(async () => {
  if (schemas.length === 0) return
  const client = new pg.Client({ connectionString: testDatabaseUrl })
  await client.connect()
  for (const schema of schemas) await client.query(`DROP SCHEMA ${schema} CASCADE`)
  await client.end()
})

const stores: ReadonlyArray<readonly [string, () => Promise<Record<string, string>>]> = [
  ["memory", async () => ({})],
  [
    "sqlite",
    async () => ({ AGENT_MARKETPLACE_STORE: "sqlite", AGENT_MARKETPLACE_DATA_DIR: tempDir("am-data-") })
  ],
  ...(process.env.AGENT_MARKETPLACE_TEST_POSTGRES === "skip" ? [] : [["postgres", postgresEnv] as const])
]

describe.each(stores)("handoff of a 50 MiB file through the built server (%s store)", (store, env) => {
  let server: StartedServer
  beforeAll(async () => {
    server = await startServer(await env())
  }, 60_000)
  afterAll(() => server?.stop())

  it("send → envelope → receive is byte-identical, with bounded memory", async () => {
    const health = await runCli(["--server", server.url, "health"])
    expect(health.code).toBe(0)
    baselineRss = Math.max(baselineRss, health.maxRss)

    const envelopePath = join(dir, `envelope-${store}.json`)
    const sent = await runCli([
      "handoff",
      "send",
      "--server",
      server.url,
      "--file",
      file,
      "--max-downloads",
      "2",
      "--envelope-out",
      envelopePath
    ])
    expect(sent.stderr).toBe("")
    expect(sent.code).toBe(0)
    expect(statSync(envelopePath).mode & 0o777).toBe(0o600)
    const envelope = JSON.parse(readFileSync(envelopePath, "utf8"))
    expect(envelope).toMatchObject({
      v: 1,
      server: server.url,
      cipher: "age-x25519",
      plaintext_sha256: fileSha256,
      plaintext_size: FILE_SIZE
    })
    expect(JSON.parse(sent.stdout)).toMatchObject({ envelope: envelopePath, relay_id: envelope.relay_id })

    const outDir = tempDir("am-e2e-out-")
    const out = join(outDir, "received.bin")
    const received = await runCli(["handoff", "receive", "--envelope", envelopePath, "--out", out])
    expect(received.stderr).toBe("")
    expect(received.code).toBe(0)
    expect(JSON.parse(received.stdout)).toEqual({
      out,
      relay_id: envelope.relay_id,
      plaintext_size: FILE_SIZE,
      plaintext_sha256: fileSha256
    })
    expect(await sha256File(out)).toBe(fileSha256)
    expect(readdirSync(outDir)).toEqual(["received.bin"])

    // Neither side held the file: peak RSS stays within 32 MiB of a call that moves no bytes.
    expect(sent.maxRss - baselineRss).toBeLessThan(32 * MiB)
    expect(received.maxRss - baselineRss).toBeLessThan(32 * MiB)

    // The envelope on stdin works too (second and last download); then the slot is used up.
    const again = join(outDir, "again.bin")
    const fromStdin = await runCli(["handoff", "receive", "--envelope", "-", "--out", again], {
      stdin: readFileSync(envelopePath, "utf8")
    })
    expect(fromStdin.code).toBe(0)
    expect(await sha256File(again)).toBe(fileSha256)
    const third = await runCli([
      "handoff",
      "receive",
      "--envelope",
      envelopePath,
      "--out",
      join(outDir, "third")
    ])
    expect(third.code).toBe(1)
    expect(JSON.parse(third.stderr.trim().split("\n").pop()!)).toMatchObject({
      _tag: "HandoffRelayUnavailableError",
      error: "relay-unavailable"
    })
    expect(readdirSync(outDir).sort()).toEqual(["again.bin", "received.bin"])
  }, 180_000)
})

describe("the default relay limit", () => {
  let server: StartedServer
  beforeAll(async () => {
    server = await startServer()
  }, 60_000)
  afterAll(() => server?.stop())

  it("refuses a file one 64 KiB chunk over 50 MiB (its ciphertext is over the limit) with exit 1 and says why", async () => {
    const larger = join(dir, "larger.bin")
    writeFileSync(larger, randomBytes(FILE_SIZE + 64 * 1024))
    const sent = await runCli(["handoff", "send", "--server", server.url, "--file", larger])
    expect(sent.code).toBe(1)
    expect(sent.stdout).toBe("")
    expect(sent.stderr).toContain("encrypts to")
    expect(JSON.parse(sent.stderr.trim().split("\n").pop()!)).toMatchObject({ _tag: "PayloadTooLargeError" })
  }, 120_000)
})
