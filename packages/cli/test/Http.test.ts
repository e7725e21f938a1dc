import { afterEach, describe, expect, it } from "vitest"
import { RetryPolicy } from "../src/RetryPolicy"
import { balance } from "./support/Bodies"
import { runPromise } from "./support/Cli"
import {
  type Answer,
  closedPort,
  type FakeServer,
  type RecordedRequest,
  startFakeServer
} from "./support/FakeServer"

const servers: Array<FakeServer> = []
const fake = async (handler: (request: RecordedRequest, index: number) => Answer) => {
  const server = await startFakeServer(handler)
  servers.push(server)
  return server
}
afterEach(async () => {
  for (const server of servers.splice(0)) await server.close()
})

const auth = (server: FakeServer) => ["--server", server.url, "--token", "agent-token-x"]

describe("stdout is the endpoint's success body", () => {
  it("prints the body exactly as the server sent it (no re-encoding, no wrapper)", async () => {
    const body =
      '{"agent_id":"buyer-1",   "currency":"credits","available":120,"held_as_payer":0,"pending_as_payee":0}'
    const server = await fake(() => ({ status: 200, body }))
    const result = await runPromise(["balance", ...auth(server)])
    expect(result.code).toBe(0)
    expect(result.stdout).toBe(body)
    expect(server.requests[0]?.headers.authorization).toBe("Bearer agent-token-x")
  })

  it("renders --format table for people", async () => {
    const server = await fake(() => ({ status: 200, body: balance("buyer-1", 120) }))
    const result = await runPromise(["balance", "--format", "table", ...auth(server)])
    expect(result.code).toBe(0)
    expect(result.stdout).toMatch(/^agent_id\s+buyer-1$/m)
    expect(result.stdout).toMatch(/^available\s+120$/m)
  })
})

describe("exit codes", () => {
  it("4xx: exit 1 with the typed error (its _tag) as JSON on stderr", async () => {
    const error = {
      _tag: "ObjectNotFoundError",
      message: "task task-9 not found",
      kind: "task",
      id: "task-9"
    }
    const server = await fake(() => ({ status: 404, body: error }))
    const result = await runPromise(["get-task", "--task-id", "task-9", ...auth(server)])
    expect(result.code).toBe(1)
    expect(result.stdout).toBe("")
    expect(result.error).toEqual(error)
    expect(server.requests).toHaveLength(1)
  })

  it("409 BalanceInsufficientError and 401 AuthenticationFailedError are refusals too (exit 1, not retried)", async () => {
    const insufficient = {
      _tag: "BalanceInsufficientError",
      message: "not enough",
      available: 0,
      requested: 100
    }
    const server = await fake(() => ({ status: 409, body: insufficient }))
    const hold = await runPromise(
      [
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
      ].concat(auth(server))
    )
    expect(hold.code).toBe(1)
    expect(hold.error?._tag).toBe("BalanceInsufficientError")
    expect(server.requests).toHaveLength(1)

    const denied = await fake(() => ({
      status: 401,
      body: { _tag: "AuthenticationFailedError", message: "bad token" }
    }))
    const whoami = await runPromise(["whoami", ...auth(denied)])
    expect(whoami.code).toBe(1)
    expect(whoami.error?._tag).toBe("AuthenticationFailedError")
  })

  it("an undeclared 4xx without a JSON error (a proxy's page) is exit 1 UnexpectedResponseError", async () => {
    const server = await fake(() => ({ status: 404, body: "<html>not here</html>" }))
    const result = await runPromise(["balance", ...auth(server)])
    expect(result.code).toBe(1)
    expect(result.error?._tag).toBe("UnexpectedResponseError")
    expect(result.error?.status).toBe(404)
  })

  it("unreachable server: exit 3 after the retries, the message names the URL", async () => {
    const port = await closedPort()
    const url = `http://127.0.0.1:${port}`
    const result = await runPromise(["discover", "--capability", "code-review", "--server", url], {
      retry: RetryPolicy.layerTest(2)
    })
    expect(result.code).toBe(3)
    expect(result.error?._tag).toBe("ServerUnreachableError")
    expect(String(result.error?.message)).toContain(url)
    expect(String(result.error?.url)).toContain(`${url}/agents/discover`)
    expect(result.stderr.match(/retrying GET/g)).toHaveLength(2)
  })

  it("an unreachable server on a mutation reports the idempotency key to retry with", async () => {
    const port = await closedPort()
    const result = await runPromise(
      [
        "deposit",
        "--amount",
        "5",
        "--idempotency-key",
        "dep-1",
        "--server",
        `http://127.0.0.1:${port}`,
        "--token",
        "t"
      ],
      { retry: RetryPolicy.layerTest(1) }
    )
    expect(result.code).toBe(3)
    expect(result.error?.idempotency_key).toBe("dep-1")
  })

  it("5xx: retried with the same idempotency key, then exit 3 naming the URL", async () => {
    const server = await fake(() => ({ status: 500, body: { _tag: "InternalError", message: "boom" } }))
    const result = await runPromise(["deposit", "--amount", "120", ...auth(server)], {
      retry: RetryPolicy.layerTest(3)
    })
    expect(result.code).toBe(3)
    expect(result.error?._tag).toBe("InternalError")
    expect(result.stderr).toContain(`${server.url}/settlement/deposit`)
    expect(server.requests).toHaveLength(4)
    const keys = new Set(server.requests.map((r) => r.headers["idempotency-key"]))
    expect(keys.size).toBe(1)
    expect([...keys][0]).toBe("key-1")
  })

  it("a gateway's non-JSON 502 is retried, then exit 3 ServerFailedError", async () => {
    const server = await fake(() => ({ status: 502, body: "Bad Gateway" }))
    const result = await runPromise(["balance", ...auth(server)], { retry: RetryPolicy.layerTest(1) })
    expect(result.code).toBe(3)
    expect(result.error?._tag).toBe("ServerFailedError")
    expect(result.error?.status).toBe(502)
    expect(server.requests).toHaveLength(2)
  })

  it("a 2xx body that is not the contract's: exit 3 ServerFailedError (not a refusal)", async () => {
    const server = await fake(() => ({ status: 200, body: { something: "else" } }))
    const result = await runPromise(["balance", ...auth(server)])
    expect(result.code).toBe(3)
    expect(result.error?._tag).toBe("ServerFailedError")
    expect(result.stdout).toBe("")
  })

  it("usage errors: exit 2 and nothing is sent", async () => {
    const server = await fake(() => ({ status: 200, body: {} }))
    for (const args of [
      ["deposit", "--amount", "ten"],
      ["deposit", "--amount", "0"],
      ["get-task", "--task-id", "not-a-task"],
      ["no-such-command"],
      ["balance", "--no-such-flag"],
      ["assign", "--task-id", "task-1", "--session-id", "session-1", "--assignee", "x", "--kind", "cook"],
      [
        "request-review",
        "--task-id",
        "task-1",
        "--target-assignment-id",
        "assignment-1",
        "--review-assignment-ids",
        "assignment-2"
      ],
      [
        "request-review",
        "--task-id",
        "task-1",
        "--target-assignment-id",
        "assignment-1",
        "--review-assignment-ids",
        "x",
        "--criteria",
        "c"
      ],
      ["register"],
      ["declare-capabilities", "--capabilities", "Not Valid"],
      []
    ]) {
      const result = await runPromise([...args, ...auth(server)])
      expect(result.code, args.join(" ")).toBe(2)
      expect(result.error?._tag, args.join(" ")).toBe("UsageError")
      expect(String(result.error?.message).length).toBeGreaterThan(5)
    }
    const missing = await runPromise(["get-task", ...auth(server)])
    expect(missing.error).toEqual({ _tag: "UsageError", message: "Expected to find option: '--task-id'" })
    expect(server.requests).toHaveLength(0)
  })

  it("a missing criteria file is a local I/O error (exit 4)", async () => {
    const server = await fake(() => ({ status: 201, body: {} }))
    const result = await runPromise([
      "request-review",
      "--task-id",
      "task-1",
      "--target-assignment-id",
      "assignment-1",
      "--review-assignment-ids",
      "assignment-2",
      "--criteria-file",
      "/nonexistent/criteria.txt",
      ...auth(server)
    ])
    expect(result.code).toBe(4)
    expect(result.error?._tag).toBe("LocalIoError")
    expect(result.error?.path).toBe("/nonexistent/criteria.txt")
  })
})

describe("retries inside one invocation apply the effect once", () => {
  /** A deposit endpoint with the server's idempotency semantics, whose first answer is lost. */
  const idempotentDeposit = async (lose: "connection" | "in-progress") => {
    let available = 0
    const stored = new Map<string, string>()
    const server = await fake((request, index) => {
      const key = String(request.headers["idempotency-key"])
      const replay = stored.get(key)
      if (replay !== undefined) return { status: 200, body: replay }
      if (lose === "in-progress" && index === 0) {
        return { status: 409, body: { _tag: "IdempotencyInProgressError", message: "still running" } }
      }
      available += (JSON.parse(request.body) as { amount: number }).amount
      const body = JSON.stringify(balance("buyer-1", available))
      stored.set(key, body)
      return lose === "connection" && index === 0 ? "drop" : { status: 200, body }
    })
    return { server, available: () => available }
  }

  it("a dropped connection is retried with the same key and the deposit happens once", async () => {
    const { available, server } = await idempotentDeposit("connection")
    const result = await runPromise(["deposit", "--amount", "120", ...auth(server)])
    expect(result.code).toBe(0)
    expect(server.requests).toHaveLength(2)
    expect(server.requests[0]?.headers["idempotency-key"]).toBe(
      server.requests[1]?.headers["idempotency-key"]
    )
    expect(server.requests[0]?.body).toBe(server.requests[1]?.body)
    expect(available()).toBe(120)
    expect(JSON.parse(result.stdout).available).toBe(120)
  })

  it("409 IdempotencyInProgressError is waited out with the same key", async () => {
    const { available, server } = await idempotentDeposit("in-progress")
    const result = await runPromise([
      "deposit",
      "--amount",
      "7",
      "--idempotency-key",
      "my-key",
      ...auth(server)
    ])
    expect(result.code).toBe(0)
    expect(server.requests.map((r) => r.headers["idempotency-key"])).toEqual(["my-key", "my-key"])
    expect(available()).toBe(7)
  })

  it("each invocation without --idempotency-key gets a fresh key; read-only calls send none", async () => {
    const server = await fake(() => ({ status: 200, body: balance("b", 1) }))
    await runPromise(["deposit", "--amount", "1", ...auth(server)])
    await runPromise(["balance", ...auth(server)])
    expect(server.requests[0]?.headers["idempotency-key"]).toBe("key-1")
    expect(server.requests[1]?.headers["idempotency-key"]).toBeUndefined()
  })
})
