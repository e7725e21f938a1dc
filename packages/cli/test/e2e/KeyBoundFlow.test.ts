import { mkdtempSync, readFileSync, statSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { cleanEnv, ensureBuilt, runCli, type StartedServer, startServer } from "../support/Processes"

/**
 * The seed flow with key-bound agents only: the built server (memory store, registration token) and
 * the built CLI as child processes; buyer, executor and reviewer `register --key`, so every later
 * request is signed (RFC 9421) and no credentials file ever holds a bearer token.
 */

const REGISTRATION_TOKEN = "secret"
let server: StartedServer
let dir: string

beforeAll(async () => {
  ensureBuilt("server")
  ensureBuilt("cli")
  server = await startServer({ AGENT_MARKETPLACE_REGISTRATION_TOKEN: REGISTRATION_TOKEN })
  dir = mkdtempSync(join(tmpdir(), "am-keyed-"))
}, 180_000)

afterAll(async () => {
  await server?.stop()
})

type Agent = "buyer" | "executor" | "reviewer"
const credentials = (agent: Agent) => join(dir, `${agent}.json`)
const envOf = (agent: Agent) =>
  cleanEnv(dir, { AGENT_MARKETPLACE_CREDENTIALS: credentials(agent), AGENT_MARKETPLACE_RETRY_SECS: "5" })

/** Runs one command line for `agent` (words after `agent-marketplace`) and returns its JSON. */
const step = async (agent: Agent, ...args: Array<string>): Promise<any> => {
  const result = await runCli(args, envOf(agent))
  if (result.code !== 0) {
    throw new Error(
      `${agent}: ${args.join(" ")}\nexit ${result.code}\nstderr: ${result.stderr}\nserver:\n${server.logs()}`
    )
  }
  return JSON.parse(result.stdout)
}

describe("key-bound agents run the whole flow with signatures only", () => {
  it("register --key, fund, execute, review and settle: balances 0 / 100 / 20, no token stored", async () => {
    for (const agent of ["buyer", "executor", "reviewer"] as const) {
      const registered = await step(
        agent,
        "--server",
        server.url,
        "--registration-token",
        REGISTRATION_TOKEN,
        "register",
        "--agent-id",
        `${agent}-1`,
        "--key"
      )
      expect(registered).toMatchObject({ agent_id: `${agent}-1`, outcome: "registered", token: null })
    }
    for (const agent of ["executor", "reviewer"] as const) {
      await step(agent, "declare-capabilities", "--capabilities", "code-review")
      expect((await step(agent, "ping")).outcome).toBe("first_seen")
    }
    const found = await step("buyer", "discover", "--capability", "code-review")
    expect(found.items.map((c: any) => c.agent_id).sort()).toEqual(["executor-1", "reviewer-1"])

    expect(await step("buyer", "create-task")).toMatchObject({ task_id: "task-1", publisher: "buyer-1" })
    for (const who of ["executor-1", "reviewer-1"]) {
      await step("buyer", "add-participant", "--task-id", "task-1", "--participant-agent-id", who)
    }
    await step("buyer", "create-session", "--task-id", "task-1")
    const execute = await step(
      "buyer",
      ..."assign --task-id task-1 --session-id session-1 --assignee-agent-id executor-1 --kind execute".split(
        " "
      )
    )
    expect(execute).toMatchObject({ assignment_id: "assignment-1", status: "assigned" })
    await step(
      "buyer",
      ..."assign --task-id task-1 --session-id session-1 --assignee-agent-id reviewer-1 --kind review --target-assignment-id assignment-1".split(
        " "
      )
    )
    expect((await step("buyer", "deposit", "--amount", "120")).available).toBe(120)
    await step(
      "buyer",
      ..."hold --amount 100 --task-id task-1 --assignment-id assignment-1 --payee-agent-id executor-1 --kind execute".split(
        " "
      )
    )
    await step(
      "buyer",
      ..."hold --amount 20 --task-id task-1 --assignment-id assignment-2 --payee-agent-id reviewer-1 --kind review".split(
        " "
      )
    )
    const mine = await step("executor", "my-assignments")
    expect(mine.items.map((a: any) => a.assignment_id)).toEqual(["assignment-1"])
    await step("executor", "mark-output-ready", "--assignment-id", "assignment-1")
    await step(
      "buyer",
      "request-review",
      "--task-id",
      "task-1",
      "--target-assignment-id",
      "assignment-1",
      "--review-assignment-ids",
      "assignment-2",
      "--criteria",
      "Matches the checklist agreed privately"
    )
    const verdict = await step(
      "reviewer",
      ..."submit-review --review-id review-1 --review-assignment-id assignment-2 --verdict passed".split(" ")
    )
    expect(verdict.settlement.released_holds.map((h: any) => h.hold_id).sort()).toEqual(["hold-1", "hold-2"])

    expect((await step("buyer", "balance")).available).toBe(0)
    expect((await step("executor", "balance")).available).toBe(100)
    expect((await step("reviewer", "balance")).available).toBe(20)

    // No credentials file holds a bearer token; each holds its key pair, mode 0600.
    for (const agent of ["buyer", "executor", "reviewer"] as const) {
      const text = readFileSync(credentials(agent), "utf8")
      const file = JSON.parse(text)
      expect(file).toMatchObject({ server: server.url, agent_id: `${agent}-1`, token: null })
      expect(file.public_key).toMatch(/^[A-Za-z0-9_-]{43}$/)
      expect(file.private_key).toMatch(/^[A-Za-z0-9_-]{43}$/)
      expect(text).not.toContain("agent-token-")
      expect(statSync(credentials(agent)).mode & 0o777).toBe(0o600)
    }

    // The key rotates; the flow's credentials keep working with the new key.
    const before = JSON.parse(readFileSync(credentials("buyer"), "utf8"))
    expect((await step("buyer", "rotate-key")).agent_id).toBe("buyer-1")
    const after = JSON.parse(readFileSync(credentials("buyer"), "utf8"))
    expect(after.public_key).not.toBe(before.public_key)
    expect((await step("buyer", "whoami")).agent_id).toBe("buyer-1")
  }, 240_000)
})
