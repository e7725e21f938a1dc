import { existsSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { agentListing, balance } from "./support/Bodies"
import { runPromise, tempDir } from "./support/Cli"
import { type FakeServer, type RecordedRequest, startFakeServer } from "./support/FakeServer"

/**
 * The `admin …` commands against a fake server: what each command line sends (path, query, body,
 * `Admin-Token` and never an agent token), where the admin token comes from (flag > env, never the
 * credentials file), and the usage errors. `register --invite-code` is here too.
 */

const at = "2026-01-01T00:00:00.000Z"
const task = {
  task_id: "task-1",
  publisher: "buyer-1",
  status: "active",
  active_participants: [],
  participant_history: [],
  created_at: at,
  updated_at: at
}
const entry = {
  entry_id: "entry-1",
  debit_account: "external",
  credit_account: "agent:buyer-1",
  amount: 500,
  reason: "deposit",
  hold_id: null,
  at
}
const audit = {
  ok: true,
  accounts: 2,
  total_deposits: 500,
  total_withdrawals: 0,
  total_available: 500,
  total_held: 0,
  problems: []
}

const bodyFor = (request: RecordedRequest): { status: number; body: unknown } => {
  const path = request.path.split("?")[0]!
  if (request.headers["admin-token"] === "refused") {
    return { status: 401, body: { _tag: "AuthenticationFailedError", message: "wrong admin token" } }
  }
  if (path === "/admin/invites") {
    return {
      status: 201,
      body: { invite_code: `invite-${"a".repeat(64)}`, expires_at: at, agent_id: "codex-worker-1" }
    }
  }
  if (path === "/admin/agents/codex-worker-1/suspend") {
    return { status: 200, body: { agent: agentListing("codex-worker-1"), cancelled_assignments: [] } }
  }
  if (path.startsWith("/admin/agents/")) {
    return path === "/admin/agents/online"
      ? { status: 200, body: { items: [agentListing("codex-worker-1")], next: null } }
      : { status: 200, body: agentListing("codex-worker-1") }
  }
  if (path === "/admin/agents") return { status: 200, body: { items: [agentListing("a")], next: "a" } }
  if (path === "/admin/deposits") return { status: 200, body: balance("buyer-1", 500) }
  if (path === "/admin/tasks") return { status: 200, body: { items: [task], next: null } }
  if (path === "/admin/tasks/task-1") return { status: 200, body: task }
  if (path === "/admin/ledger/audit") return { status: 200, body: audit }
  if (path.startsWith("/admin/ledger")) return { status: 200, body: { items: [entry], next: null } }
  if (path === "/agents/register") {
    return {
      status: 200,
      body: {
        agent_id: "invited-1",
        outcome: "registered",
        lifecycle: "registered",
        token: `agent-token-${"b".repeat(64)}`
      }
    }
  }
  return { status: 404, body: { _tag: "RouteNotFoundError", message: "no route" } }
}

let server: FakeServer
beforeAll(async () => {
  server = await startFakeServer((request) => bodyFor(request))
})
afterAll(() => server.close())

/** One admin invocation with the admin token on the command line and an agent token in the env. */
const admin = async (...args: Array<string>) => {
  const before = server.requests.length
  const result = await runPromise(["--server", server.url, "--admin-token", "op-secret", "admin", ...args], {
    env: { HOME: tempDir(), AGENT_MARKETPLACE_TOKEN: "agent-token-should-not-be-sent" }
  })
  expect(result.code, `${args.join(" ")}\n${result.stderr}`).toBe(0)
  const sent = server.requests.slice(before)
  expect(sent).toHaveLength(1)
  const request = sent[0]!
  expect(request.headers["admin-token"]).toBe("op-secret")
  expect(request.headers.authorization).toBeUndefined()
  return { request, stdout: result.stdout }
}

const line = (r: RecordedRequest) => `${r.method} ${r.path}`

describe("admin commands", () => {
  it("each one sends its endpoint with Admin-Token and no agent token, and prints the body as sent", async () => {
    const invited = await admin("invite", "--expires-in-secs", "86400", "--agent-id", "codex-worker-1")
    expect(line(invited.request)).toBe("POST /admin/invites")
    expect(JSON.parse(invited.request.body)).toEqual({ expires_in_secs: 86400, agent_id: "codex-worker-1" })
    expect(JSON.parse(invited.stdout)).toMatchObject({ invite_code: `invite-${"a".repeat(64)}` })
    const open = await admin("invite", "--expires-in-secs", "60")
    expect(JSON.parse(open.request.body)).toEqual({ expires_in_secs: 60 })

    for (const action of ["approve", "suspend", "unsuspend"]) {
      const { request } = await admin(action, "--agent-id", "codex-worker-1")
      expect(line(request)).toBe(`POST /admin/agents/codex-worker-1/${action}`)
      expect(request.body).toBe("")
    }

    const listed = await admin("agents", "--lifecycle", "pending", "--limit", "1")
    expect(line(listed.request)).toBe("GET /admin/agents?lifecycle=pending&limit=1")
    expect(JSON.parse(listed.stdout)).toEqual({ items: [agentListing("a")], next: "a" })
    expect(line((await admin("agents", "--after", "a")).request)).toBe("GET /admin/agents?after=a")
    expect(line((await admin("agents", "--online")).request)).toBe("GET /admin/agents/online")

    expect(line((await admin("tasks", "--status", "active")).request)).toBe("GET /admin/tasks?status=active")
    expect(line((await admin("tasks", "--task-id", "task-1")).request)).toBe("GET /admin/tasks/task-1")

    expect(line((await admin("ledger", "--limit", "20")).request)).toBe("GET /admin/ledger?limit=20")
    expect(line((await admin("ledger", "--agent-id", "buyer-1", "--after", "entry-1")).request)).toBe(
      "GET /admin/ledger/buyer-1?after=entry-1"
    )
    // `/admin/ledger/audit` is the audit, so an agent named "audit" is asked for by query.
    expect(line((await admin("ledger", "--agent-id", "audit")).request)).toBe(
      "GET /admin/ledger?agent_id=audit"
    )
    const audited = await admin("audit")
    expect(line(audited.request)).toBe("GET /admin/ledger/audit")
    expect(JSON.parse(audited.stdout)).toEqual(audit)
  })

  it("admin deposit sends an Idempotency-Key: the given one, else a fresh one per invocation", async () => {
    const given = await admin(
      "deposit",
      "--agent-id",
      "buyer-1",
      "--amount",
      "500",
      "--idempotency-key",
      "credit-buyer-1-1"
    )
    expect(line(given.request)).toBe("POST /admin/deposits")
    expect(JSON.parse(given.request.body)).toEqual({ agent_id: "buyer-1", amount: 500 })
    expect(given.request.headers["idempotency-key"]).toBe("credit-buyer-1-1")
    const fresh = await admin("deposit", "--agent-id", "buyer-1", "--amount", "5")
    expect(fresh.request.headers["idempotency-key"]).toMatch(/\S+/)
    expect(fresh.request.headers["idempotency-key"]).not.toBe("credit-buyer-1-1")
  })

  it("global options may follow the subcommand; --agent-id stays the subcommand's own", async () => {
    const before = server.requests.length
    const result = await runPromise(
      [
        "admin",
        "approve",
        "--agent-id",
        "codex-worker-1",
        "--server",
        server.url,
        "--admin-token",
        "op-secret"
      ],
      { env: { HOME: tempDir() } }
    )
    expect(result.code, result.stderr).toBe(0)
    expect(server.requests.slice(before).map(line)).toEqual(["POST /admin/agents/codex-worker-1/approve"])
  })

  it("the admin token: flag beats env, env works alone, missing is exit 2 with nothing sent", async () => {
    const run = (args: Array<string>, env: Record<string, string>) =>
      runPromise(["--server", server.url, ...args, "admin", "audit"], { env: { HOME: tempDir(), ...env } })
    let before = server.requests.length
    expect(
      (await run(["--admin-token", "from-flag"], { AGENT_MARKETPLACE_ADMIN_TOKEN: "from-env" })).code
    ).toBe(0)
    expect(server.requests.at(-1)!.headers["admin-token"]).toBe("from-flag")
    expect((await run([], { AGENT_MARKETPLACE_ADMIN_TOKEN: "from-env" })).code).toBe(0)
    expect(server.requests.at(-1)!.headers["admin-token"]).toBe("from-env")
    expect(server.requests.length - before).toBe(2)

    before = server.requests.length
    // A credentials file with a token does not stand in for the admin token.
    const home = tempDir()
    const credentials = join(home, "creds.json")
    await runPromise(
      ["--server", server.url, "--credentials", credentials, "register", "--agent-id", "invited-1"],
      {
        env: { HOME: home }
      }
    )
    expect(JSON.parse(readFileSync(credentials, "utf8")).token).toMatch(/^agent-token-/)
    before = server.requests.length
    const missing = await runPromise(
      ["--server", server.url, "--credentials", credentials, "admin", "audit"],
      {
        env: { HOME: home, AGENT_MARKETPLACE_ADMIN_TOKEN: "" }
      }
    )
    expect(missing.code).toBe(2)
    expect(missing.error).toMatchObject({ _tag: "UsageError" })
    expect(String(missing.error?.message)).toContain("--admin-token")
    expect(server.requests.length).toBe(before)
  })

  it("the admin token is never written to the credentials file", async () => {
    const home = tempDir()
    const credentials = join(home, "creds.json")
    const registered = await runPromise(
      [
        "--server",
        server.url,
        "--credentials",
        credentials,
        "--admin-token",
        "op-secret",
        "register",
        "--agent-id",
        "invited-1"
      ],
      { env: { HOME: home, AGENT_MARKETPLACE_ADMIN_TOKEN: "env-op-secret" } }
    )
    expect(registered.code, registered.stderr).toBe(0)
    const saved = readFileSync(credentials, "utf8")
    expect(saved).not.toContain("op-secret")
    const before = readFileSync(credentials, "utf8")
    expect(
      (
        await runPromise(["--credentials", credentials, "--admin-token", "op-secret", "admin", "audit"], {
          env: { HOME: home }
        })
      ).code
    ).toBe(0)
    expect(readFileSync(credentials, "utf8")).toBe(before)
    expect(existsSync(join(home, ".agent-marketplace"))).toBe(false)
  })

  it("usage errors: no subcommand, a missing --agent-id, conflicting options (exit 2, nothing sent)", async () => {
    const before = server.requests.length
    for (const args of [
      ["admin"],
      ["admin", "approve"],
      ["admin", "agents", "--online", "--lifecycle", "pending"],
      ["admin", "tasks", "--task-id", "task-1", "--status", "active"],
      ["admin", "invite"],
      ["admin", "deposit", "--agent-id", "buyer-1", "--amount", "0"],
      ["admin", "approve", "--agent-id", "not an id"]
    ]) {
      const result = await runPromise(["--server", server.url, "--admin-token", "op-secret", ...args], {
        env: { HOME: tempDir() }
      })
      expect({ args, code: result.code }).toEqual({ args, code: 2 })
      expect(result.error?._tag).toBe("UsageError")
    }
    expect(server.requests.length).toBe(before)
  })

  it("a refused admin token is exit 1 with the server's typed error", async () => {
    const result = await runPromise(["--server", server.url, "--admin-token", "refused", "admin", "audit"], {
      env: { HOME: tempDir() }
    })
    expect(result.code).toBe(1)
    expect(result.error).toEqual({ _tag: "AuthenticationFailedError", message: "wrong admin token" })
  })
})

describe("register --invite-code", () => {
  it("sends invite_code in the body (and no Registration-Token unless given)", async () => {
    const home = tempDir()
    const result = await runPromise(
      [
        "--server",
        server.url,
        "--credentials",
        join(home, "c.json"),
        "register",
        "--agent-id",
        "invited-1",
        "--invite-code",
        "invite-abc"
      ],
      { env: { HOME: home } }
    )
    expect(result.code, result.stderr).toBe(0)
    const request = server.requests.at(-1)!
    expect(line(request)).toBe("POST /agents/register")
    expect(JSON.parse(request.body)).toEqual({ agent_id: "invited-1", invite_code: "invite-abc" })
    expect(request.headers["registration-token"]).toBeUndefined()
    expect(request.headers["admin-token"]).toBeUndefined()
  })
})
