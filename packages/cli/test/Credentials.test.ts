import { existsSync, readFileSync, statSync } from "node:fs"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { agentListing } from "./support/Bodies"
import { runPromise, tempDir } from "./support/Cli"
import { type FakeServer, startFakeServer } from "./support/FakeServer"

let server: FakeServer
let tokens = 0
beforeAll(async () => {
  server = await startFakeServer((request) => {
    if (request.path === "/agents/register") {
      const { agent_id } = JSON.parse(request.body) as { agent_id: string }
      tokens++
      return {
        status: 200,
        body: { agent_id, outcome: "registered", lifecycle: "registered", token: `agent-token-${tokens}` }
      }
    }
    if (request.path === "/agents/rotate-token") {
      tokens++
      return { status: 200, body: { token: `agent-token-${tokens}` } }
    }
    if (request.path === "/agents/deregister") return { status: 200, body: { deregistered: true } }
    return { status: 200, body: agentListing("x") }
  })
})
afterAll(() => server.close())

const mode = (path: string) => statSync(path).mode & 0o777

describe("the credentials file", () => {
  it("register writes {server, agent_id, token} with mode 0600 in a new 0700 directory", async () => {
    const dir = join(tempDir(), "creds")
    const path = join(dir, "agent.json")
    // The seed README's form: global options before the command, --agent-id after it.
    const result = await runPromise([
      "--server",
      server.url,
      "--registration-token",
      "secret",
      "register",
      "--agent-id",
      "codex-user-workspace",
      "--name",
      "Codex Workspace Agent",
      "--metadata",
      "model=x=1",
      "--metadata",
      "region=eu",
      "--credentials",
      path
    ])
    expect(result.code).toBe(0)
    expect(JSON.parse(result.stdout)).toEqual({
      agent_id: "codex-user-workspace",
      outcome: "registered",
      lifecycle: "registered",
      token: `agent-token-${tokens}`
    })
    const request = server.requests.at(-1)!
    expect(request.headers["registration-token"]).toBe("secret")
    expect(request.headers["idempotency-key"]).toBeUndefined()
    expect(JSON.parse(request.body)).toEqual({
      agent_id: "codex-user-workspace",
      name: "Codex Workspace Agent",
      metadata: { model: "x=1", region: "eu" }
    })
    expect(JSON.parse(readFileSync(path, "utf8"))).toEqual({
      server: server.url,
      agent_id: "codex-user-workspace",
      token: `agent-token-${tokens}`
    })
    expect(mode(path)).toBe(0o600)
    expect(mode(dir)).toBe(0o700)
  })

  it("the default file lives in ~/.agent-marketplace (0700) and later commands use it", async () => {
    const home = tempDir()
    const env = { HOME: home, AGENT_MARKETPLACE_SERVER: server.url }
    const registered = await runPromise(["register", "--id", "worker-7"], { env })
    expect(registered.code).toBe(0)
    const path = join(home, ".agent-marketplace", "credentials.json")
    expect(mode(join(home, ".agent-marketplace"))).toBe(0o700)
    expect(mode(path)).toBe(0o600)
    const token = JSON.parse(readFileSync(path, "utf8")).token

    await runPromise(["whoami"], { env: { HOME: home } })
    expect(server.requests.at(-1)?.headers.authorization).toBe(`Bearer ${token}`)

    // Re-registering the same id with its own token sends that token (identity reuse).
    await runPromise(["register"], { env: { HOME: home } })
    const again = server.requests.at(-1)!
    expect(JSON.parse(again.body).agent_id).toBe("worker-7")
    expect(again.headers.authorization).toBe(`Bearer ${token}`)
  })

  it("register without any agent id is a usage error (never a generated id)", async () => {
    const result = await runPromise([
      "register",
      "--server",
      server.url,
      "--credentials",
      join(tempDir(), "c.json")
    ])
    expect(result.code).toBe(2)
    expect(String(result.error?.message)).toContain("--agent-id")
  })

  it("rotate-token saves the new token; deregister deletes the file", async () => {
    const path = join(tempDir(), "c.json")
    await runPromise(["register", "--agent-id", "a-1", "--server", server.url, "--credentials", path])
    const rotated = await runPromise(["rotate-token", "--credentials", path])
    expect(rotated.code).toBe(0)
    const newToken = JSON.parse(rotated.stdout).token
    expect(JSON.parse(readFileSync(path, "utf8")).token).toBe(newToken)
    expect(mode(path)).toBe(0o600)

    const gone = await runPromise(["deregister", "--credentials", path])
    expect(gone.code).toBe(0)
    expect(JSON.parse(gone.stdout)).toEqual({ deregistered: true })
    expect(server.requests.at(-1)?.headers.authorization).toBe(`Bearer ${newToken}`)
    expect(existsSync(path)).toBe(false)
  })

  it("deregister with another agent's token leaves the credentials file alone", async () => {
    const path = join(tempDir(), "c.json")
    await runPromise(["register", "--agent-id", "a-2", "--server", server.url, "--credentials", path])
    const result = await runPromise(["deregister", "--credentials", path, "--token", "someone-else"])
    expect(result.code).toBe(0)
    expect(existsSync(path)).toBe(true)
  })
})
