import { HttpClient, HttpClientError, type HttpClientRequest, HttpClientResponse } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Layer, TestClock } from "effect"
import { assignment } from "./support/Bodies"
import { run, start } from "./support/Cli"

type Reply = { readonly status: number; readonly body: unknown } | "transport-error"

/** An in-memory HttpClient answering with `handler` (no sockets, so TestClock drives all time). */
const fakeHttp = (handler: (request: HttpClientRequest.HttpClientRequest, url: URL) => Reply) =>
  Layer.succeed(
    HttpClient.HttpClient,
    HttpClient.make((request, url) => {
      const reply = handler(request, url)
      if (reply === "transport-error") {
        return Effect.fail(
          new HttpClientError.RequestError({ request, reason: "Transport", description: "ECONNREFUSED" })
        )
      }
      return Effect.succeed(
        HttpClientResponse.fromWeb(
          request,
          new Response(JSON.stringify(reply.body), {
            status: reply.status,
            headers: { "content-type": "application/json" }
          })
        )
      )
    })
  )

const heartbeat = (timeout_ms = 45_000) => ({
  status: 200,
  body: { agent_id: "executor-1", outcome: "updated", timeout_ms }
})
const args = ["daemon", "--server", "http://fake", "--token", "t", "--agent-id", "executor-1"]

/** Moves the test clock forward one second at a time, letting the daemon's fibers run in between. */
const advance = (seconds: number) =>
  Effect.gen(function* () {
    for (let i = 0; i < seconds; i++) {
      yield* TestClock.adjust("1 second")
      for (let j = 0; j < 5; j++) yield* Effect.yieldNow()
    }
  })

describe("daemon", () => {
  it.effect("refuses an interval of at least half the server's timeout (exit 2)", () =>
    Effect.gen(function* () {
      let beats = 0
      const http = fakeHttp(() => {
        beats++
        return heartbeat(45_000)
      })
      const result = yield* run([...args, "--interval", "22.5"], { http })
      expect(result.code).toBe(2)
      expect(result.error?._tag).toBe("UsageError")
      expect(String(result.error?.message)).toContain("45000")
      expect(beats).toBe(1)
    })
  )

  it.effect("heartbeats every interval, survives failures, warns after 3 in a row, stops on interrupt", () =>
    Effect.gen(function* () {
      const beats: Array<number> = []
      let failing = false
      const http = fakeHttp((request) => {
        expect(request.headers.authorization).toBe("Bearer t")
        beats.push(Date.now())
        return failing ? "transport-error" : heartbeat()
      })
      const daemon = yield* start([...args, "--interval", "5", "--busy"], { http })
      yield* advance(1)
      expect(beats.length).toBe(1)
      expect(daemon.stderr.join("\n")).toContain("executor-1 is online")

      yield* advance(15)
      expect(beats.length).toBe(4) // t = 0, 5, 10, 15

      failing = true
      yield* advance(4) // t = 20: the first failure; retried after 0.5 s, 1 s, 2 s, … (never longer than the interval)
      expect(beats.length).toBe(5)
      expect(daemon.stderr.join("\n")).not.toContain("warning")
      yield* advance(2) // t = 20.5 and 21.5: the second and third failures
      expect(beats.length).toBe(7)
      expect(daemon.stderr.join("\n")).toContain("warning: 3 consecutive heartbeat failures")
      yield* advance(10)
      expect(
        daemon.stderr.filter((line) => line.includes("warning: 3 consecutive heartbeat failures"))
      ).toHaveLength(1)
      expect(yield* Fiber.poll(daemon.fiber)).toEqual(expect.objectContaining({ _tag: "None" }))

      failing = false
      yield* advance(10)
      expect(daemon.stderr.join("\n")).toContain("recovered")
      const afterRecovery = beats.length
      yield* advance(10)
      expect(beats.length).toBe(afterRecovery + 2)

      yield* Fiber.interrupt(daemon.fiber)
      expect(daemon.stderr.join("\n")).toContain("daemon stopped")
      expect(daemon.stdout).toEqual([])
    })
  )

  it.effect("a refused first heartbeat (bad token) ends the daemon with exit 1", () =>
    Effect.gen(function* () {
      const http = fakeHttp(() => ({
        status: 401,
        body: { _tag: "AuthenticationFailedError", message: "unknown token" }
      }))
      const result = yield* run([...args, "--interval", "5"], { http })
      expect(result.code).toBe(1)
      expect(result.error?._tag).toBe("AuthenticationFailedError")
    })
  )

  it.effect("--poll-assignments prints each newly seen assignment once, as one JSON line", () =>
    Effect.gen(function* () {
      let visible = [assignment(1)]
      const polls: Array<string> = []
      const http = fakeHttp((_request, url) => {
        if (url.pathname === "/agents/heartbeat") return heartbeat()
        polls.push(url.pathname + url.search)
        return { status: 200, body: { items: visible, next: null } }
      })
      const daemon = yield* start([...args, "--interval", "2", "--poll-assignments"], { http })
      yield* advance(1)
      expect(daemon.stdout.map((line) => JSON.parse(line).assignment_id)).toEqual(["assignment-1"])
      visible = [assignment(1), assignment(3)]
      yield* advance(4)
      visible = [assignment(3)]
      yield* advance(4)
      expect(daemon.stdout.map((line) => JSON.parse(line).assignment_id)).toEqual([
        "assignment-1",
        "assignment-3"
      ])
      expect(daemon.stdout.every((line) => !line.includes("\n"))).toBe(true)
      expect(polls[0]).toBe("/agents/executor-1/assignments?status=assigned&limit=100")
      yield* Fiber.interrupt(daemon.fiber)
    })
  )
})
