import { mkdtempSync, readFileSync, statSync } from "node:fs"
import { createServer, request as httpRequest } from "node:http"
import type { AddressInfo } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  cleanEnv,
  ensureBuilt,
  type ProcessResult,
  runCli,
  type StartedServer,
  spawnCli,
  startServer,
  waitFor
} from "../support/Processes"

/**
 * The seed README's flow, end to end: the built platform-server (memory store, registration token)
 * and the built CLI as child processes, with the README's command lines verbatim. Every step's
 * stdout is parsed as JSON.
 */

const REGISTRATION_TOKEN = "secret"
let server: StartedServer
let dir: string
const daemons: Array<ReturnType<typeof spawnCli>> = []

beforeAll(async () => {
  ensureBuilt("server")
  ensureBuilt("cli")
  server = await startServer({ AGENT_MARKETPLACE_REGISTRATION_TOKEN: REGISTRATION_TOKEN })
  dir = mkdtempSync(join(tmpdir(), "am-seed-"))
}, 180_000)

afterAll(async () => {
  for (const daemon of daemons) if (daemon.child.exitCode === null) daemon.child.kill("SIGKILL")
  await server?.stop()
})

type Agent = "buyer" | "executor" | "reviewer"
const credentials = (agent: Agent) => join(dir, `${agent}.json`)
/** Each agent's own environment: its own HOME and its own credentials file. */
const envOf = (agent: Agent) =>
  cleanEnv(dir, { AGENT_MARKETPLACE_CREDENTIALS: credentials(agent), AGENT_MARKETPLACE_RETRY_SECS: "5" })

/** Runs one README command line for `agent` and returns its parsed JSON (exit 0 required). */
const step = async (agent: Agent, line: string): Promise<any> => {
  const args = splitLine(line)
  const result: ProcessResult = await runCli(args, envOf(agent))
  if (result.code !== 0) {
    throw new Error(
      `${agent}: ${line}\nexit ${result.code}\nstderr: ${result.stderr}\nserver:\n${server.logs()}`
    )
  }
  expect(result.stdout.endsWith("\n")).toBe(true)
  expect(result.stdout.trimEnd().split("\n")).toHaveLength(1) // one JSON document
  return JSON.parse(result.stdout)
}

/** Splits a README command line (after `agent-marketplace`) into words; double quotes group. */
const splitLine = (line: string): Array<string> => {
  const words = line.match(/"[^"]*"|\S+/g) ?? []
  expect(words[0]).toBe("agent-marketplace")
  return words.slice(1).map((w) => (w.startsWith('"') ? w.slice(1, -1) : w))
}

describe("the seed README flow against the real server", () => {
  it("registers, discovers, funds, executes, reviews and settles: balances 0 / 100 / 20", async () => {
    // Register Agent (README form: global options before the command; each agent its own --credentials file).
    const registered: Record<Agent, any> = {
      buyer: await step(
        "buyer",
        `agent-marketplace --server ${server.url} --registration-token ${REGISTRATION_TOKEN} register --agent-id buyer-1 --name "Buyer Agent" --credentials ${credentials("buyer")}`
      ),
      executor: await step(
        "executor",
        `agent-marketplace --server ${server.url} --registration-token ${REGISTRATION_TOKEN} register --agent-id executor-1 --name "Executor Agent" --credentials ${credentials("executor")}`
      ),
      reviewer: await step(
        "reviewer",
        `agent-marketplace --server ${server.url} --registration-token ${REGISTRATION_TOKEN} register --agent-id reviewer-1 --name "Reviewer Agent" --credentials ${credentials("reviewer")}`
      )
    }
    for (const [agent, body] of Object.entries(registered)) {
      expect(body).toMatchObject({ agent_id: `${agent}-1`, outcome: "registered", lifecycle: "registered" })
      expect(body.token).toMatch(/^agent-token-[0-9a-f]{64}$/)
      expect(statSync(credentials(agent as Agent)).mode & 0o777).toBe(0o600)
    }

    // Declare capability (README verbatim; server and token come from each credentials file).
    for (const agent of ["executor", "reviewer"] as const) {
      const listing = await step(
        agent,
        "agent-marketplace declare-capabilities --capabilities code-review --max-concurrency 1"
      )
      expect(listing.capabilities).toEqual([{ name: "code-review", max_concurrency: 1 }])
    }

    // Keep the Agent online: a daemon per worker (README verbatim; the executor also polls).
    daemons.push(spawnCli(["daemon", "--interval", "5", "--poll-assignments"], envOf("executor")))
    daemons.push(spawnCli(["daemon", "--interval", "5"], envOf("reviewer")))
    for (const daemon of daemons)
      await waitFor("the daemon's first heartbeat", () => daemon.output.stderr.includes("is online"))

    // List the market registry.
    const everyone = await step("buyer", "agent-marketplace list-agents")
    expect(everyone.items.map((a: any) => a.agent_id).sort()).toEqual(["buyer-1", "executor-1", "reviewer-1"])
    const alive = await step("buyer", "agent-marketplace list-agents --alive-only")
    expect(alive.items.map((a: any) => a.agent_id).sort()).toEqual(["executor-1", "reviewer-1"])
    expect(alive.items.every((a: any) => a.alive === true)).toBe(true)

    // Find tradeable candidates for a capability.
    const candidates = await step("buyer", "agent-marketplace discover --capability code-review")
    expect(candidates.items.map((c: any) => c.agent_id).sort()).toEqual(["executor-1", "reviewer-1"])

    // The buyer's flow (README verbatim).
    const task = await step("buyer", "agent-marketplace create-task")
    expect(task).toMatchObject({ task_id: "task-1", publisher: "buyer-1", status: "active" })
    const withExecutor = await step(
      "buyer",
      "agent-marketplace add-participant --task-id task-1 --participant-agent-id executor-1"
    )
    expect(withExecutor.active_participants).toEqual(["executor-1"])
    const withReviewer = await step(
      "buyer",
      "agent-marketplace add-participant --task-id task-1 --participant-agent-id reviewer-1"
    )
    expect(withReviewer.active_participants).toEqual(["executor-1", "reviewer-1"])
    const session = await step("buyer", "agent-marketplace create-session --task-id task-1")
    expect(session).toMatchObject({ session_id: "session-1", task_id: "task-1", status: "running" })
    const execute = await step(
      "buyer",
      "agent-marketplace assign --task-id task-1 --session-id session-1 --assignee-agent-id executor-1 --kind execute"
    )
    expect(execute).toMatchObject({
      assignment_id: "assignment-1",
      agent_id: "executor-1",
      kind: "execute",
      status: "assigned"
    })
    const review = await step(
      "buyer",
      "agent-marketplace assign --task-id task-1 --session-id session-1 --assignee-agent-id reviewer-1 --kind review --target-assignment-id assignment-1"
    )
    expect(review).toMatchObject({
      assignment_id: "assignment-2",
      agent_id: "reviewer-1",
      kind: "review",
      target_assignment_id: "assignment-1"
    })
    const deposited = await step("buyer", "agent-marketplace deposit --amount 120")
    expect(deposited).toMatchObject({ agent_id: "buyer-1", available: 120 })
    const executeHold = await step(
      "buyer",
      "agent-marketplace hold --amount 100 --task-id task-1 --assignment-id assignment-1 --payee-agent-id executor-1 --kind execute"
    )
    expect(executeHold).toMatchObject({
      hold_id: "hold-1",
      amount: 100,
      payer: "buyer-1",
      payee: "executor-1",
      status: "active"
    })
    const reviewHold = await step(
      "buyer",
      "agent-marketplace hold --amount 20 --task-id task-1 --assignment-id assignment-2 --payee-agent-id reviewer-1 --kind review"
    )
    expect(reviewHold).toMatchObject({
      hold_id: "hold-2",
      amount: 20,
      payee: "reviewer-1",
      kind: "review",
      status: "active"
    })
    const escrowed = await step("buyer", "agent-marketplace balance")
    expect(escrowed).toMatchObject({ available: 0, held_as_payer: 120 })

    // The executor's daemon printed its new assignment as one JSON line.
    await waitFor(
      "the executor daemon to print assignment-1",
      () => daemons[0]!.output.stdout.includes("assignment-1"),
      20_000
    )
    const lines = daemons[0]!.output.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l))
    expect(lines.map((a: any) => a.assignment_id)).toEqual(["assignment-1"])

    const requested = await step(
      "buyer",
      'agent-marketplace request-review --task-id task-1 --target-assignment-id assignment-1 --review-assignment-ids assignment-2 --criteria "Matches the checklist agreed privately"'
    )
    expect(requested).toMatchObject({
      review_id: "review-1",
      review_assignment_ids: ["assignment-2"],
      verdicts: []
    })

    const ready = await step("executor", "agent-marketplace mark-output-ready --assignment-id assignment-1")
    expect(ready).toMatchObject({ assignment_id: "assignment-1", status: "output_ready" })

    const sessions = await step(
      "reviewer",
      "agent-marketplace reviews-by-assignment --assignment-id assignment-1"
    )
    expect(sessions.items.map((s: any) => s.review_id)).toEqual(["review-1"])
    const verdict = await step(
      "reviewer",
      "agent-marketplace submit-review --review-id review-1 --review-assignment-id assignment-2 --verdict passed"
    )
    expect(verdict.review.verdicts).toHaveLength(1)
    expect(verdict.review.verdicts[0]).toMatchObject({ reviewer: "reviewer-1", verdict: { kind: "passed" } })
    expect(verdict.settlement.released_holds.map((h: any) => h.hold_id).sort()).toEqual(["hold-1", "hold-2"])

    const approved = await step("buyer", "agent-marketplace get-assignment --assignment-id assignment-1")
    expect(approved.status).toBe("approved")

    // Final balances 0 / 100 / 20.
    expect((await step("buyer", "agent-marketplace balance")).available).toBe(0)
    expect((await step("executor", "agent-marketplace balance")).available).toBe(100)
    expect((await step("reviewer", "agent-marketplace balance")).available).toBe(20)

    // Stopping the daemons: SIGTERM and SIGINT both exit 0.
    daemons[0]!.child.kill("SIGTERM")
    daemons[1]!.child.kill("SIGINT")
    expect(await daemons[0]!.exited).toBe(0)
    expect(await daemons[1]!.exited).toBe(0)
  }, 240_000)
})

describe("failures against the real server", () => {
  it("a refusal is exit 1 with the server's typed error on stderr", async () => {
    const result = await runCli(["get-task", "--task-id", "task-99"], envOf("buyer"))
    expect(result.code).toBe(1)
    expect(result.stdout).toBe("")
    const error = JSON.parse(result.stderr.trim().split("\n").at(-1)!)
    expect(error).toMatchObject({ _tag: "ObjectNotFoundError", kind: "task", id: "task-99" })
  })

  it("a response lost on the way back is retried with the same key and the deposit applies once", async () => {
    // A proxy that forwards to the server but cuts the client connection instead of answering the first deposit.
    const seen: Array<string | undefined> = []
    const proxy = createServer((req, res) => {
      const chunks: Array<Buffer> = []
      req.on("data", (c: Buffer) => chunks.push(c))
      req.on("end", () => {
        const isDeposit = req.url === "/settlement/deposit"
        if (isDeposit) seen.push(req.headers["idempotency-key"] as string | undefined)
        const upstream = httpRequest(
          `${server.url}${req.url}`,
          { method: req.method, headers: { ...req.headers, host: new URL(server.url).host } },
          (answer) => {
            const body: Array<Buffer> = []
            answer.on("data", (c: Buffer) => body.push(c))
            answer.on("end", () => {
              if (isDeposit && seen.length === 1) {
                req.socket.destroy() // the server applied it; the client never hears back
                return
              }
              res.writeHead(answer.statusCode ?? 502, answer.headers)
              res.end(Buffer.concat(body))
            })
          }
        )
        upstream.end(Buffer.concat(chunks))
      })
    })
    await new Promise<void>((r) => proxy.listen(0, "127.0.0.1", r))
    const proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`
    try {
      const token = JSON.parse(readFileSync(credentials("buyer"), "utf8")).token as string
      const before = (await step("buyer", "agent-marketplace balance")).available as number
      const result = await runCli(
        ["deposit", "--amount", "50", "--server", proxyUrl, "--token", token],
        envOf("buyer")
      )
      expect(result.code).toBe(0)
      expect(seen).toHaveLength(2)
      expect(seen[0]).toBeDefined()
      expect(seen[1]).toBe(seen[0])
      expect(JSON.parse(result.stdout).available).toBe(before + 50)
      expect((await step("buyer", "agent-marketplace balance")).available).toBe(before + 50)
    } finally {
      proxy.closeAllConnections()
      await new Promise<void>((r) => proxy.close(() => r()))
    }
  }, 60_000)
})
