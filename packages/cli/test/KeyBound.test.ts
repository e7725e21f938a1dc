/**
 * Key-bound agents in the CLI: `register --key` keeps the key pair in the credentials file (0600,
 * no token), every later request is RFC 9421-signed over the exact bytes sent (a retry is signed
 * again with a fresh nonce), `rotate-key` swaps the key, re-registering signs with the file's key,
 * `deregister` deletes the file.
 */
import { createHash, createPublicKey, verify } from "node:crypto"
import { existsSync, readFileSync, statSync } from "node:fs"
import { join } from "node:path"
import {
  parseContentDigest,
  parseSignature,
  signatureBase,
  splitTarget
} from "@agent-marketplace/domain/identity/Signature"
import { Either, Option } from "effect"
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest"
import { agentListing, balance } from "./support/Bodies"
import { runPromise, tempDir } from "./support/Cli"
import { type Answer, type FakeServer, type RecordedRequest, startFakeServer } from "./support/FakeServer"

let server: FakeServer
/** Answers to queue for the next requests (then the default answers). */
let queued: Array<Answer> = []
beforeAll(async () => {
  server = await startFakeServer((request) => {
    const next = queued.shift()
    if (next !== undefined) return next
    if (request.path === "/agents/register") {
      const body = JSON.parse(request.body) as { agent_id: string; allow_bearer?: boolean }
      return {
        status: 200,
        body: {
          agent_id: body.agent_id,
          outcome: "registered",
          lifecycle: "registered",
          token: body.allow_bearer === true ? "agent-token-both" : null
        }
      }
    }
    if (request.path === "/agents/deregister") return { status: 200, body: { deregistered: true } }
    if (request.path === "/settlement/deposit") return { status: 200, body: balance("keyed", 5) }
    return { status: 200, body: agentListing("keyed") }
  })
})
afterAll(() => server.close())
beforeEach(() => {
  queued = []
})

interface FileShape {
  server: string
  agent_id: string
  token: string | null
  public_key?: string
  private_key?: string
}
const readFile = (path: string) => JSON.parse(readFileSync(path, "utf8")) as FileShape

/** Whether `request` carries a valid signature of this profile by `publicKey`, as `keyid`. */
const verifies = (request: RecordedRequest, keyid: string, publicKey: string) => {
  const parsed = parseSignature(String(request.headers["signature-input"]), String(request.headers.signature))
  if (Either.isLeft(parsed) || parsed.right.params.keyid !== keyid) return false
  const { path, query } = splitTarget(request.path)
  const base = signatureBase(
    { method: request.method, path, query, header: (name) => request.headers[name] as string | undefined },
    parsed.right.components,
    parsed.right.signatureParams
  )
  if (Either.isLeft(base)) return false
  const key = createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: publicKey }, format: "jwk" })
  return verify(null, Buffer.from(base.right), key, parsed.right.signature)
}

const nonceOf = (request: RecordedRequest) =>
  /nonce="([^"]+)"/.exec(String(request.headers["signature-input"]))?.[1]

const registerKeyed = async (path: string, ...extra: Array<string>) =>
  runPromise([
    "--server",
    server.url,
    "--credentials",
    path,
    "register",
    "--agent-id",
    "keyed",
    "--key",
    ...extra
  ])

describe("register --key and signed requests", () => {
  it("keeps the key pair (0600) and no token; later requests are signed by it, without a bearer token", async () => {
    const path = join(tempDir(), "creds", "agent.json")
    const result = await registerKeyed(path)
    expect(result.code).toBe(0)
    const registration = server.requests.at(-1)!
    const sent = JSON.parse(registration.body) as { public_key: string }
    expect(sent.public_key).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(Object.keys(sent).sort()).toEqual(["agent_id", "public_key"])
    expect(registration.headers["signature-input"]).toBeUndefined()
    const file = readFile(path)
    expect(file).toMatchObject({
      server: server.url,
      agent_id: "keyed",
      token: null,
      public_key: sent.public_key
    })
    expect(file.private_key).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(statSync(path).mode & 0o777).toBe(0o600)

    const whoami = await runPromise(["--credentials", path, "whoami"])
    expect(whoami.code).toBe(0)
    const request = server.requests.at(-1)!
    expect(request.headers.authorization).toBeUndefined()
    expect(verifies(request, "keyed", sent.public_key)).toBe(true)
    expect(String(request.headers["signature-input"])).toMatch(
      /^sig1=\("@method" "@path" "@query"\);created=\d+;nonce="[^"]+";keyid="keyed";alg="ed25519"$/
    )
  })

  it("a retried mutation is signed again: same key and body, fresh nonce, digest of the bytes sent", async () => {
    const path = join(tempDir(), "creds", "agent.json")
    await registerKeyed(path)
    const publicKey = readFile(path).public_key!
    queued = [{ status: 503, body: { _tag: "InternalError", message: "busy" } }]
    const before = server.requests.length
    const result = await runPromise(["--credentials", path, "deposit", "--amount", "5"])
    expect(result.code).toBe(0)
    const [first, second] = server.requests.slice(before)
    expect(server.requests.length - before).toBe(2)
    for (const request of [first!, second!]) {
      expect(verifies(request, "keyed", publicKey)).toBe(true)
      expect(String(request.headers["signature-input"])).toContain('"content-digest" "idempotency-key"')
      const digest = Option.getOrThrow(parseContentDigest(String(request.headers["content-digest"])))
      expect(Buffer.from(digest)).toEqual(createHash("sha256").update(request.body).digest())
    }
    expect(second!.headers["idempotency-key"]).toBe(first!.headers["idempotency-key"])
    expect(second!.body).toBe(first!.body)
    expect(nonceOf(second!)).not.toBe(nonceOf(first!))
  })

  it("--allow-bearer also stores the token, and requests are still signed", async () => {
    const path = join(tempDir(), "creds", "agent.json")
    expect((await registerKeyed(path, "--allow-bearer")).code).toBe(0)
    expect(JSON.parse(server.requests.at(-1)!.body)).toMatchObject({ allow_bearer: true })
    const file = readFile(path)
    expect(file.token).toBe("agent-token-both")
    await runPromise(["--credentials", path, "whoami"])
    expect(verifies(server.requests.at(-1)!, "keyed", file.public_key!)).toBe(true)
    expect(server.requests.at(-1)!.headers.authorization).toBeUndefined()
    // --allow-bearer alone is a usage error.
    const bare = await runPromise([
      "--server",
      server.url,
      "--credentials",
      join(tempDir(), "x.json"),
      "register",
      "--agent-id",
      "other",
      "--allow-bearer"
    ])
    expect(bare.code).toBe(2)
  })

  it("rotate-key sends the new public key signed by the old one and saves the new pair", async () => {
    const path = join(tempDir(), "creds", "agent.json")
    await registerKeyed(path)
    const old = readFile(path)
    const result = await runPromise(["--credentials", path, "rotate-key"])
    expect(result.code).toBe(0)
    const request = server.requests.at(-1)!
    expect(request.path).toBe("/agents/rotate-key")
    expect(verifies(request, "keyed", old.public_key!)).toBe(true)
    const next = readFile(path)
    expect(JSON.parse(request.body)).toEqual({ public_key: next.public_key })
    expect(next.public_key).not.toBe(old.public_key)
    expect(next.private_key).not.toBe(old.private_key)
    expect(next.token).toBeNull()
    await runPromise(["--credentials", path, "whoami"])
    expect(verifies(server.requests.at(-1)!, "keyed", next.public_key!)).toBe(true)
    // Without a key in the file: a usage error, nothing sent.
    const bearerPath = join(tempDir(), "b.json")
    const count = server.requests.length
    const refused = await runPromise([
      "--server",
      server.url,
      "--token",
      "agent-token-x",
      "--credentials",
      bearerPath,
      "rotate-key"
    ])
    expect(refused.code).toBe(2)
    expect(server.requests.length).toBe(count)
  })

  it("re-registering a key-bound id is signed by the file's key and keeps it; deregister deletes the file", async () => {
    const path = join(tempDir(), "creds", "agent.json")
    await registerKeyed(path)
    const file = readFile(path)
    const result = await runPromise(["--credentials", path, "register", "--name", "renamed"])
    expect(result.code).toBe(0)
    const request = server.requests.at(-1)!
    expect(verifies(request, "keyed", file.public_key!)).toBe(true)
    expect(request.headers.authorization).toBeUndefined()
    expect(JSON.parse(request.body)).toEqual({ agent_id: "keyed", name: "renamed" })
    expect(readFile(path)).toEqual(file)
    const gone = await runPromise(["--credentials", path, "deregister"])
    expect(gone.code).toBe(0)
    expect(verifies(server.requests.at(-1)!, "keyed", file.public_key!)).toBe(true)
    expect(existsSync(path)).toBe(false)
  })
})
