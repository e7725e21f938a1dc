import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { Option } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { CredentialsFile } from "../src/Credentials"
import { DEFAULT_SERVER, type EnvSettings, type GlobalFlags, resolveSettings } from "../src/Settings"
import { agentListing } from "./support/Bodies"
import { runPromise, tempDir } from "./support/Cli"
import { type FakeServer, startFakeServer } from "./support/FakeServer"

const none = Option.none<string>()
const flags = (over: Partial<GlobalFlags> = {}): GlobalFlags => ({
  server: none,
  token: none,
  agentId: none,
  registrationToken: none,
  adminToken: none,
  credentials: none,
  format: "json",
  ...over
})
const env = (over: Partial<EnvSettings> = {}): EnvSettings => ({
  server: none,
  token: none,
  agentId: none,
  registrationToken: none,
  adminToken: none,
  credentials: none,
  home: none,
  ...over
})
const file = (over: Partial<CredentialsFile> = {}) =>
  Option.some<CredentialsFile>({
    server: "http://file",
    agent_id: "file-agent",
    token: "file-token",
    ...over
  })
const some = Option.some

describe("resolveSettings (flag > env > credentials file > default)", () => {
  it("takes every value from the flag when given", () => {
    const s = resolveSettings(
      flags({ server: some("http://flag"), token: some("flag-token"), agentId: some("flag-agent") }),
      env({ server: some("http://env"), token: some("env-token"), agentId: some("env-agent") }),
      file(),
      "/c.json",
      false
    )
    expect([s.server, s.token, s.agentId]).toEqual(["http://flag", some("flag-token"), some("flag-agent")])
    expect([s.serverSource, s.tokenSource]).toEqual(["flag", some("flag")])
  })

  it("falls back to the environment, then to the credentials file, then to the default server", () => {
    const fromEnv = resolveSettings(
      flags(),
      env({ server: some("http://env"), token: some("env-token"), agentId: some("env-agent") }),
      file({ server: "http://env" }),
      "/c.json",
      false
    )
    expect([fromEnv.server, fromEnv.token, fromEnv.agentId]).toEqual([
      "http://env",
      some("env-token"),
      some("env-agent")
    ])

    const fromFile = resolveSettings(flags(), env(), file(), "/c.json", false)
    expect([fromFile.server, fromFile.token, fromFile.agentId]).toEqual([
      "http://file",
      some("file-token"),
      some("file-agent")
    ])
    expect(fromFile.serverSource).toBe("credentials")

    const fallback = resolveSettings(flags(), env(), Option.none(), "/c.json", false)
    expect(fallback.server).toBe(DEFAULT_SERVER)
    expect(fallback.serverSource).toBe("default")
    expect(fallback.token).toEqual(none)
  })

  it("mixes sources per value (a flag server with the file's token for that server)", () => {
    const s = resolveSettings(
      flags({ server: some("http://file/") }),
      env({ agentId: some("env-agent") }),
      file(),
      "/c",
      false
    )
    expect([s.server, s.token, s.agentId]).toEqual(["http://file", some("file-token"), some("env-agent")])
  })

  it("never uses a credentials file that belongs to another server", () => {
    const s = resolveSettings(flags({ server: some("http://other") }), env(), file(), "/c.json", false)
    expect(s.token).toEqual(none)
    expect(s.agentId).toEqual(none)
    expect(s.credentialsIgnored).toBe(true)
  })

  it("takes the registration token from the flag, else the environment", () => {
    const noFile = Option.none<CredentialsFile>()
    const both = resolveSettings(
      flags({ registrationToken: some("f") }),
      env({ registrationToken: some("e") }),
      noFile,
      "",
      false
    )
    expect(both.registrationToken).toEqual(some("f"))
    expect(
      resolveSettings(flags(), env({ registrationToken: some("e") }), noFile, "", false).registrationToken
    ).toEqual(some("e"))
  })
})

describe("precedence through the real command line", () => {
  const servers: Record<"flag" | "env" | "file", FakeServer> = {} as never
  beforeAll(async () => {
    for (const name of ["flag", "env", "file"] as const) {
      servers[name] = await startFakeServer(() => ({ status: 200, body: agentListing(`${name}-agent`) }))
    }
  })
  afterAll(async () => {
    for (const server of Object.values(servers)) await server.close()
  })

  const writeCredentials = (dir: string, content: CredentialsFile) => {
    const path = join(dir, "credentials.json")
    writeFileSync(path, JSON.stringify(content), { mode: 0o600 })
    return path
  }
  const lastAuth = (server: FakeServer) => server.requests.at(-1)?.headers.authorization

  it("flag > env > credentials file for the server and the token", async () => {
    const dir = tempDir()
    const credentials = writeCredentials(dir, {
      server: servers.file.url,
      agent_id: "file-agent",
      token: "file-token"
    })
    const environment = {
      AGENT_MARKETPLACE_SERVER: servers.env.url,
      AGENT_MARKETPLACE_TOKEN: "env-token",
      AGENT_MARKETPLACE_CREDENTIALS: credentials
    }

    const byFlag = await runPromise(["whoami", "--server", servers.flag.url, "--token", "flag-token"], {
      env: environment
    })
    expect(byFlag.code).toBe(0)
    expect(JSON.parse(byFlag.stdout).agent_id).toBe("flag-agent")
    expect(lastAuth(servers.flag)).toBe("Bearer flag-token")

    const byEnv = await runPromise(["whoami"], { env: environment })
    expect(byEnv.code).toBe(0)
    expect(JSON.parse(byEnv.stdout).agent_id).toBe("env-agent")
    expect(lastAuth(servers.env)).toBe("Bearer env-token")

    const byFile = await runPromise(["whoami"], { env: { AGENT_MARKETPLACE_CREDENTIALS: credentials } })
    expect(byFile.code).toBe(0)
    expect(JSON.parse(byFile.stdout).agent_id).toBe("file-agent")
    expect(lastAuth(servers.file)).toBe("Bearer file-token")
  })

  it("--credentials beats AGENT_MARKETPLACE_CREDENTIALS, which beats ~/.agent-marketplace/credentials.json", async () => {
    const home = tempDir()
    const homeDir = join(home, ".agent-marketplace")
    const { mkdirSync } = await import("node:fs")
    mkdirSync(homeDir, { mode: 0o700 })
    writeCredentials(homeDir, { server: servers.file.url, agent_id: "home-agent", token: "home-token" })
    const envFile = writeCredentials(tempDir(), {
      server: servers.file.url,
      agent_id: "env-agent",
      token: "envfile-token"
    })
    const flagFile = writeCredentials(tempDir(), {
      server: servers.file.url,
      agent_id: "flag-agent",
      token: "flagfile-token"
    })

    await runPromise(["whoami"], { env: { HOME: home } })
    expect(lastAuth(servers.file)).toBe("Bearer home-token")
    await runPromise(["whoami"], { env: { HOME: home, AGENT_MARKETPLACE_CREDENTIALS: envFile } })
    expect(lastAuth(servers.file)).toBe("Bearer envfile-token")
    await runPromise(["--credentials", flagFile, "whoami"], {
      env: { HOME: home, AGENT_MARKETPLACE_CREDENTIALS: envFile }
    })
    expect(lastAuth(servers.file)).toBe("Bearer flagfile-token")
  })

  it("does not send a credentials file's token to another server (exit 4, the file named)", async () => {
    const credentials = writeCredentials(tempDir(), {
      server: servers.file.url,
      agent_id: "a",
      token: "file-token"
    })
    const before = servers.flag.requests.length
    const result = await runPromise(["whoami", "--server", servers.flag.url, "--credentials", credentials])
    expect(result.code).toBe(4)
    expect(result.error?._tag).toBe("CredentialsMissingError")
    expect(String(result.error?.message)).toContain(credentials)
    expect(servers.flag.requests.length).toBe(before)
  })

  it("reports a malformed credentials file by name with exit 4", async () => {
    const dir = tempDir()
    for (const content of ["{not json", JSON.stringify({ server: "http://x", token: 3 }), "[]"]) {
      const path = join(dir, "credentials.json")
      writeFileSync(path, content)
      const result = await runPromise(["balance", "--credentials", path])
      expect(result.code).toBe(4)
      expect(result.error?._tag).toBe("CredentialsMalformedError")
      expect(result.error?.path).toBe(path)
      expect(String(result.error?.message)).toContain(path)
      expect(result.stdout).toBe("")
    }
  })

  it("reports a missing token with exit 4 naming where it looked", async () => {
    const path = join(tempDir(), "none.json")
    const result = await runPromise(["balance", "--credentials", path, "--server", servers.flag.url])
    expect(result.code).toBe(4)
    expect(result.error?._tag).toBe("CredentialsMissingError")
    expect(String(result.error?.message)).toContain(path)
  })
})
