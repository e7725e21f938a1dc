import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { agentListing } from "./support/Bodies"
import { runPromise, tempDir } from "./support/Cli"
import { type FakeServer, type RecordedRequest, startFakeServer } from "./support/FakeServer"

/**
 * What goes on the wire for each command line: aliases, kebab-case choices sent as snake_case,
 * paths, query strings and bodies. The fake answers a canned body per endpoint, which is enough for
 * the client to accept the response.
 */

const at = "2026-01-01T00:00:00.000Z"
const task = {
  task_id: "task-1",
  publisher: "b",
  status: "active",
  active_participants: [],
  participant_history: [],
  created_at: at,
  updated_at: at
}
const assignment = {
  assignment_id: "assignment-2",
  task_id: "task-1",
  session_id: "session-1",
  agent_id: "r",
  kind: "review",
  target_assignment_id: "assignment-1",
  deadline_at: null,
  status: "assigned",
  created_at: at,
  updated_at: at
}
const review = {
  review_id: "review-1",
  task_id: "task-1",
  target_assignment_id: "assignment-1",
  review_assignment_ids: ["assignment-2"],
  criteria: { format: "plain_text", body: "c" },
  verdicts: [],
  created_at: at
}
const hold = {
  hold_id: "hold-1",
  task_id: "task-1",
  assignment_id: "assignment-1",
  payer: "b",
  payee: "e",
  kind: "execute",
  amount: 100,
  status: "active",
  created_at: at,
  settled_at: null
}

const bodyFor = (request: RecordedRequest): unknown => {
  const path = request.path.split("?")[0]!
  if (path === "/agents/discover") return { items: [] }
  if (path === "/agents/capabilities") return agentListing("r")
  if (path.endsWith("/assignments") && request.method === "GET") return { items: [assignment], next: null }
  if (path === "/tasks/task-1/participants") return task
  if (path === "/assignments") return assignment
  if (path === "/assignments/assignment-2") return assignment
  if (path === "/reviews/by-assignment/assignment-1") return { items: [review] }
  if (path === "/reviews") return review
  if (path === "/reviews/review-1/verdict") return { review, settlement: { released_holds: [] } }
  if (path === "/settlement/hold") return hold
  if (path === "/settlement/holds") return { items: [hold], next: null }
  return {}
}

let server: FakeServer
beforeAll(async () => {
  server = await startFakeServer((request) => ({
    status:
      request.method === "POST" && ["/assignments", "/reviews", "/settlement/hold"].includes(request.path)
        ? 201
        : 200,
    body: bodyFor(request)
  }))
})
afterAll(() => server.close())

const send = async (...args: Array<string>) => {
  const result = await runPromise([...args, "--server", server.url, "--token", "t", "--agent-id", "r"], {
    env: { HOME: tempDir() }
  })
  expect(result.code, `${args.join(" ")}\n${result.stderr}`).toBe(0)
  return server.requests.at(-1)!
}

describe("the request each command line sends", () => {
  it("aliases: --cap, --participant, --assignee, --payee", async () => {
    expect((await send("discover", "--cap", "code-review", "--include-busy", "--limit", "5")).path).toBe(
      "/agents/discover?capability=code-review&include_busy=true&limit=5"
    )
    const added = await send("add-participant", "--task-id", "task-1", "--participant", "executor-1")
    expect(JSON.parse(added.body)).toEqual({ agent_id: "executor-1" })
    const assigned = await send(
      "assign",
      "--task-id",
      "task-1",
      "--session-id",
      "session-1",
      "--assignee",
      "reviewer-1",
      "--kind",
      "review",
      "--target-assignment-id",
      "assignment-1",
      "--deadline-secs",
      "600"
    )
    expect(JSON.parse(assigned.body)).toEqual({
      task_id: "task-1",
      session_id: "session-1",
      agent_id: "reviewer-1",
      kind: "review",
      target_assignment_id: "assignment-1",
      deadline_secs: 600
    })
    const held = await send(
      "hold",
      "--amount",
      "100",
      "--task-id",
      "task-1",
      "--assignment-id",
      "assignment-1",
      "--payee",
      "e",
      "--kind",
      "execute"
    )
    expect(JSON.parse(held.body)).toEqual({
      amount: 100,
      task_id: "task-1",
      assignment_id: "assignment-1",
      payee_agent_id: "e",
      kind: "execute"
    })
  })

  it("kebab-case choices go out as the API's snake_case values", async () => {
    expect((await send("my-assignments", "--status", "output-ready")).path).toBe(
      "/agents/r/assignments?status=output_ready"
    )
    expect((await send("holds", "--role", "payee", "--status", "active")).path).toBe(
      "/settlement/holds?role=payee&status=active"
    )
    const requested = await send(
      "request-review",
      "--task-id",
      "task-1",
      "--target-assignment-id",
      "assignment-1",
      "--review-assignment-ids",
      "assignment-2, assignment-3",
      "--criteria",
      '{"checklist": 3}',
      "--criteria-format",
      "json"
    )
    expect(JSON.parse(requested.body)).toEqual({
      task_id: "task-1",
      target_assignment_id: "assignment-1",
      review_assignment_ids: ["assignment-2", "assignment-3"],
      criteria: { format: "json", body: '{"checklist": 3}' }
    })
    const verdict = await send(
      "submit-review",
      "--review-id",
      "review-1",
      "--review-assignment-id",
      "assignment-2",
      "--verdict",
      "artifact-unavailable",
      "--feedback",
      "link expired"
    )
    expect(verdict.path).toBe("/reviews/review-1/verdict")
    expect(JSON.parse(verdict.body)).toEqual({
      review_assignment_id: "assignment-2",
      verdict: { kind: "artifact_unavailable", score_bps: 0, feedback: "link expired" }
    })
  })

  it("submit-review without --review-id finds the latest review session listing the assignment", async () => {
    const before = server.requests.length
    const verdict = await send(
      "submit-review",
      "--review-assignment-id",
      "assignment-2",
      "--verdict",
      "passed"
    )
    expect(server.requests.slice(before).map((r) => `${r.method} ${r.path}`)).toEqual([
      "GET /assignments/assignment-2",
      "GET /reviews/by-assignment/assignment-1",
      "POST /reviews/review-1/verdict"
    ])
    expect(JSON.parse(verdict.body).verdict).toEqual({ kind: "passed", score_bps: 10000, feedback: "" })
  })

  it("declare-capabilities gives each name the --max-concurrency", async () => {
    const declared = await send(
      "declare-capabilities",
      "--capabilities",
      "code-review, summarize",
      "--max-concurrency",
      "2"
    )
    expect(declared.method).toBe("PUT")
    expect(JSON.parse(declared.body)).toEqual({
      capabilities: [
        { name: "code-review", max_concurrency: 2 },
        { name: "summarize", max_concurrency: 2 }
      ]
    })
  })
})
