import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { cleanEnv, ensureBuilt, runCli, type StartedServer, startServer } from "../support/Processes"

/**
 * The operator's side end to end: the built platform-server (invite-only registration, operator-only
 * deposits) and the built CLI as child processes. The operator's environment holds the admin token;
 * the agents' never do.
 */

const ADMIN_TOKEN = "operator-secret-e2e"
let server: StartedServer
let dir: string

beforeAll(async () => {
  ensureBuilt("server")
  ensureBuilt("cli")
  server = await startServer({
    AGENT_MARKETPLACE_ADMIN_TOKEN: ADMIN_TOKEN,
    AGENT_MARKETPLACE_REGISTRATION: "invite",
    AGENT_MARKETPLACE_DEPOSITS: "admin"
  })
  dir = mkdtempSync(join(tmpdir(), "am-admin-"))
}, 180_000)

afterAll(async () => {
  await server?.stop()
})

type Who = "operator" | "buyer" | "worker"
const envOf = (who: Who) =>
  cleanEnv(dir, {
    AGENT_MARKETPLACE_SERVER: server.url,
    AGENT_MARKETPLACE_CREDENTIALS: join(dir, `${who}.json`),
    AGENT_MARKETPLACE_RETRY_SECS: "5",
    ...(who === "operator" ? { AGENT_MARKETPLACE_ADMIN_TOKEN: ADMIN_TOKEN } : {})
  })

const ok = async (who: Who, args: Array<string>): Promise<any> => {
  const result = await runCli(args, envOf(who))
  if (result.code !== 0) {
    throw new Error(
      `${who}: ${args.join(" ")}\nexit ${result.code}\nstderr: ${result.stderr}\nserver:\n${server.logs()}`
    )
  }
  return JSON.parse(result.stdout)
}

const refused = async (who: Who, args: Array<string>) => {
  const result = await runCli(args, envOf(who))
  expect({ args, code: result.code }).toEqual({ args, code: 1 })
  return JSON.parse(result.stderr.trim().split("\n").at(-1)!)
}

describe("the operator's commands against the real server", () => {
  it("invites, operator deposits, suspension with refund, unsuspension, and every view", async () => {
    // Invite-only: a bound invite for the worker; the buyer registered by the operator's token.
    const invite = await ok("operator", [
      "admin",
      "invite",
      "--expires-in-secs",
      "600",
      "--agent-id",
      "worker-1"
    ])
    expect(invite).toMatchObject({ agent_id: "worker-1", invite_code: expect.stringMatching(/^invite-/) })
    expect(await refused("buyer", ["register", "--agent-id", "buyer-1"])).toMatchObject({
      _tag: "AuthenticationFailedError"
    })
    expect(
      await refused("buyer", ["register", "--agent-id", "buyer-1", "--invite-code", invite.invite_code])
    ).toMatchObject({
      _tag: "AuthenticationFailedError",
      message: "this invite code is for another agent id"
    })
    const worker = await ok("worker", [
      "register",
      "--agent-id",
      "worker-1",
      "--invite-code",
      invite.invite_code
    ])
    expect(worker).toMatchObject({ agent_id: "worker-1", outcome: "registered", lifecycle: "registered" })
    expect(
      await refused("worker", ["register", "--agent-id", "worker-2", "--invite-code", invite.invite_code])
    ).toMatchObject({ message: "this invite code has already been used" })
    const buyer = await ok("buyer", [
      "register",
      "--agent-id",
      "buyer-1",
      "--registration-token",
      ADMIN_TOKEN
    ])
    expect(buyer.lifecycle).toBe("registered")

    // Operator-only deposits; the operator's replay answers the same bytes.
    expect(await refused("buyer", ["deposit", "--amount", "100"])).toMatchObject({
      _tag: "PermissionDeniedError"
    })
    const credit = [
      "admin",
      "deposit",
      "--agent-id",
      "buyer-1",
      "--amount",
      "100",
      "--idempotency-key",
      "credit-1"
    ]
    const first = await runCli(credit, envOf("operator"))
    const replay = await runCli(credit, envOf("operator"))
    expect(first.code).toBe(0)
    expect(replay.stdout).toBe(first.stdout)
    expect(JSON.parse(first.stdout)).toMatchObject({ agent_id: "buyer-1", available: 100 })

    // Funded work for the worker, then the worker is suspended: its assigned work is refunded.
    await ok("buyer", ["create-task"])
    await ok("buyer", ["create-session", "--task-id", "task-1"])
    await ok("buyer", [
      "assign",
      "--task-id",
      "task-1",
      "--session-id",
      "session-1",
      "--assignee",
      "worker-1",
      "--kind",
      "execute"
    ])
    await ok("buyer", [
      "hold",
      "--amount",
      "60",
      "--task-id",
      "task-1",
      "--assignment-id",
      "assignment-1",
      "--payee",
      "worker-1",
      "--kind",
      "execute"
    ])
    expect(await ok("buyer", ["balance"])).toMatchObject({ available: 40, held_as_payer: 60 })
    const suspended = await ok("operator", ["admin", "suspend", "--agent-id", "worker-1"])
    expect(suspended).toMatchObject({
      agent: { lifecycle: "suspended" },
      cancelled_assignments: ["assignment-1"]
    })
    expect(await ok("buyer", ["balance"])).toMatchObject({ available: 100, held_as_payer: 0 })
    expect(await refused("worker", ["whoami"])).toMatchObject({ _tag: "AuthenticationFailedError" })

    // Back: unsuspend, then a new token through an operator re-registration.
    expect(await ok("operator", ["admin", "unsuspend", "--agent-id", "worker-1"])).toMatchObject({
      lifecycle: "registered"
    })
    await ok("worker", ["register", "--agent-id", "worker-1", "--registration-token", ADMIN_TOKEN])
    expect(await ok("worker", ["whoami"])).toMatchObject({ agent_id: "worker-1", lifecycle: "registered" })
    await ok("worker", ["ping"])

    // The views.
    const agents = await ok("operator", ["admin", "agents"])
    expect(agents.items.map((a: any) => [a.agent_id, a.lifecycle])).toEqual([
      ["worker-1", "registered"],
      ["buyer-1", "registered"]
    ])
    const online = await ok("operator", ["admin", "agents", "--online"])
    expect(online.items.map((a: any) => a.agent_id)).toEqual(["worker-1"])
    const tasks = await ok("operator", ["admin", "tasks"])
    expect(tasks.items.map((t: any) => [t.task_id, t.publisher])).toEqual([["task-1", "buyer-1"]])
    expect(await ok("operator", ["admin", "tasks", "--task-id", "task-1"])).toMatchObject({
      task_id: "task-1"
    })
    const ledger = await ok("operator", ["admin", "ledger"])
    expect(ledger.items.map((e: any) => e.reason)).toEqual(["deposit", "hold", "refund"])
    const ofBuyer = await ok("operator", ["admin", "ledger", "--agent-id", "buyer-1"])
    expect(ofBuyer.items).toHaveLength(3)
    expect(await ok("operator", ["admin", "audit"])).toMatchObject({
      ok: true,
      total_deposits: 100,
      total_available: 100,
      total_held: 0,
      problems: []
    })
    // An agent's environment has no admin token: usage error, nothing sent.
    const noToken = await runCli(["admin", "audit"], envOf("buyer"))
    expect(noToken.code).toBe(2)
    // The server never logged the admin token.
    expect(server.logs()).not.toContain(ADMIN_TOKEN)
  }, 120_000)
})
