import { MarketplaceApi } from "@agent-marketplace/domain/Api"
import { type AssignmentId, TaskId } from "@agent-marketplace/domain/shared/Ids"
import { HttpApi } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { Clock, Effect, Option, Redacted } from "effect"
import { routeTemplate, UNMATCHED } from "../../src/metrics/RouteTemplate"
import { RelayRepo, type RelayRow } from "../../src/relay/RelayRepo"
import {
  type AgentHandle,
  advance,
  anonClient,
  idem,
  registerAgent,
  serverUrl,
  withServer
} from "../support/Harness"
import { type Family, parsePrometheus, sampleValue } from "../support/Prometheus"
import { advanceRelay } from "../support/RelayHttp"
import { storeCases } from "../support/Stores"

const scrapeRaw = (headers: Record<string, string> = {}) =>
  Effect.gen(function* () {
    const base = yield* serverUrl
    return yield* Effect.promise(async () => {
      const response = await fetch(`${base}/metrics`, { headers })
      return {
        status: response.status,
        contentType: response.headers.get("content-type"),
        body: await response.text()
      }
    })
  })

/** `GET /metrics`, checked to be a 200 Prometheus text exposition, parsed strictly. */
const scrape = Effect.gen(function* () {
  const response = yield* scrapeRaw()
  expect(response.status).toBe(200)
  expect(response.contentType).toBe("text/plain; version=0.0.4; charset=utf-8")
  return { text: response.body, families: parsePrometheus(response.body) }
})

type Families = ReadonlyMap<string, Family>

const REQUESTS = "agent_marketplace_http_requests_total"
const DURATION = "agent_marketplace_http_request_duration_seconds"
const SWEEP = "agent_marketplace_sweep_duration_seconds"

const requests = (families: Families, method: string, route: string, status: number) =>
  sampleValue(families, REQUESTS, REQUESTS, { method, route, status: String(status) }) ?? 0

/** The request histogram of one series: its count, its +Inf bucket, its sum. */
const durations = (families: Families, method: string, route: string, status: number) => {
  const labels = { method, route, status: String(status) }
  return {
    count: sampleValue(families, DURATION, `${DURATION}_count`, labels),
    inf: sampleValue(families, DURATION, `${DURATION}_bucket`, { ...labels, le: "+Inf" }),
    sum: sampleValue(families, DURATION, `${DURATION}_sum`, labels)
  }
}

const gauge = (families: Families, name: string) => {
  expect(families.get(name)?.type).toBe("gauge")
  return sampleValue(families, name, name)
}

/** What the public API says about the stored state: alive agents, the buyer's active holds. */
const storedState = (buyer: AgentHandle) =>
  Effect.gen(function* () {
    const anon = yield* anonClient
    const agents = yield* anon.agents.list({
      urlParams: { alive_only: true, include_deregistered: true, limit: 1000 }
    })
    const holds = yield* buyer.client.settlement.holds({ urlParams: { role: "payer", status: "active" } })
    return {
      agentsAlive: agents.items.length,
      activeHolds: holds.items.length,
      activeHoldAmount: holds.items.reduce((sum, h) => sum + h.amount, 0)
    }
  })

const gauges = (families: Families) => ({
  agentsAlive: gauge(families, "agent_marketplace_agents_alive"),
  activeHolds: gauge(families, "agent_marketplace_holds_active"),
  activeHoldAmount: gauge(families, "agent_marketplace_holds_active_amount")
})

describe("GET /metrics", () => {
  for (const store of storeCases) {
    describe(store.name, () => {
      it.scoped(
        "after a workload: requests counted and timed by route template and status, gauges equal to the store, sweeps timed",
        () =>
          withServer(
            Effect.gen(function* () {
              const buyer = yield* registerAgent("buyer")
              const busy = yield* registerAgent("busy-exec")
              const done = yield* registerAgent("done-exec")
              const idle = yield* registerAgent("idle-agent")
              yield* buyer.client.settlement.deposit({ headers: idem(), payload: { amount: 300 } })
              const task = yield* buyer.client.tasks.create({ headers: idem() })
              const session = yield* buyer.client.sessions.create({
                headers: idem(),
                payload: { task_id: task.task_id }
              })
              const assign = (executor: AgentHandle) =>
                buyer.client.assignments.create({
                  headers: idem(),
                  payload: {
                    task_id: task.task_id,
                    session_id: session.session_id,
                    agent_id: executor.id,
                    kind: "execute"
                  }
                })
              const hold = (executor: AgentHandle, assignmentId: AssignmentId, amount: number) =>
                buyer.client.settlement.hold({
                  headers: idem(),
                  payload: {
                    amount,
                    task_id: task.task_id,
                    assignment_id: assignmentId,
                    payee_agent_id: executor.id,
                    kind: "execute"
                  }
                })
              const busyAssignment = yield* assign(busy)
              const doneAssignment = yield* assign(done)
              yield* hold(busy, busyAssignment.assignment_id, 100)
              yield* hold(done, doneAssignment.assignment_id, 150)
              for (const agent of [busy, done, idle]) yield* agent.client.agents.heartbeat({ payload: {} })
              yield* done.client.assignments.outputReady({
                path: { assignment_id: doneAssignment.assignment_id },
                headers: idem()
              })
              // Two 404s: an unknown task on a real route, and a path no route serves.
              const missing = yield* Effect.flip(
                buyer.client.tasks.get({ path: { task_id: TaskId.make("task-999") } })
              )
              expect(missing._tag).toBe("ObjectNotFoundError")
              const base = yield* serverUrl
              const unknown = yield* Effect.promise(() => fetch(`${base}/no/such/path?x=1`))
              expect(unknown.status).toBe(404)

              const first = yield* scrape
              const f = first.families
              expect(requests(f, "POST", "/agents/register", 200)).toBe(4)
              expect(requests(f, "POST", "/agents/heartbeat", 200)).toBe(3)
              expect(requests(f, "POST", "/settlement/hold", 201)).toBe(2)
              expect(requests(f, "POST", "/assignments/:assignment_id/output-ready", 200)).toBe(1)
              expect(requests(f, "GET", "/tasks/:task_id", 404)).toBe(1)
              expect(requests(f, "GET", UNMATCHED, 404)).toBe(1)
              expect(requests(f, "GET", "/metrics", 200)).toBe(0) // counted once its response is written
              // The histogram moved with the same labels: one observation per request.
              for (const [method, route, status, n] of [
                ["POST", "/agents/register", 200, 4],
                ["POST", "/agents/heartbeat", 200, 3],
                ["GET", "/tasks/:task_id", 404, 1],
                ["GET", UNMATCHED, 404, 1]
              ] as const) {
                const d = durations(f, method, route, status)
                expect(d).toEqual({ count: n, inf: n, sum: expect.any(Number) })
                expect(d.sum).toBeGreaterThanOrEqual(0)
              }
              // Labels carry templates, never concrete paths or ids.
              const routes = new Set(f.get(REQUESTS)!.samples.map((s) => s.labels.route))
              expect([...routes].every((r) => r === UNMATCHED || r!.startsWith("/"))).toBe(true)
              expect(first.text).not.toContain("task-999")
              expect(first.text).not.toContain("/no/such/path")
              expect(first.text).not.toContain(busyAssignment.assignment_id)

              // Gauges: what the store holds (busy, done and idle beat; two holds of 100 and 150).
              expect(gauges(f)).toEqual({ agentsAlive: 3, activeHolds: 2, activeHoldAmount: 250 })
              expect(gauges(f)).toEqual(yield* storedState(buyer))
              // No sweep has come due yet (the first is 5 s after start).
              expect(sampleValue(f, SWEEP, `${SWEEP}_count`, { sweep: "heartbeat" }) ?? 0).toBe(0)

              // 20 s of silence: the busy executors time out (the assigned one's hold is refunded, the
              // one whose output is ready keeps its hold); the idle agent has 45 s.
              yield* advance("20 seconds")
              const second = yield* scrape
              const s = second.families
              expect(gauges(s)).toEqual({ agentsAlive: 1, activeHolds: 1, activeHoldAmount: 150 })
              expect(gauges(s)).toEqual(yield* storedState(buyer))
              const sweeps = sampleValue(s, SWEEP, `${SWEEP}_count`, { sweep: "heartbeat" })
              expect(sweeps).toBeGreaterThanOrEqual(1)
              expect(sampleValue(s, SWEEP, `${SWEEP}_bucket`, { sweep: "heartbeat", le: "+Inf" })).toBe(
                sweeps
              )
              expect(s.get(SWEEP)?.type).toBe("histogram")
              // The first scrape was counted, and the counters kept their values.
              expect(requests(s, "GET", "/metrics", 200)).toBe(1)
              expect(requests(s, "POST", "/agents/register", 200)).toBe(4)
              expect(s.get(REQUESTS)?.type).toBe("counter")
            }),
            {},
            store
          )
      )

      it.scoped(
        "relay bytes: stored (slots with bytes) and reserved (usable, unexpired) as the store holds them; relay sweeps timed",
        () =>
          withServer(
            Effect.gen(function* () {
              const relay = yield* RelayRepo
              const now = yield* Clock.currentTimeMillis
              const slot = (name: string, fields: Partial<RelayRow>): RelayRow => {
                const relay_id = `relay_${name.padEnd(22, "x")}`
                return {
                  relay_id,
                  upload_token_hash: "0".repeat(64),
                  download_token_hash: "1".repeat(64),
                  size_bytes: 1,
                  max_downloads: 3,
                  download_count: 0,
                  status: "created",
                  created_at: now,
                  expires_at: now + 3_600_000,
                  ...fields,
                  // A slot with bytes gets a well-formed blob key of its own.
                  blob_key: fields.blob_key === undefined ? null : `${relay_id}.0a`
                }
              }
              yield* relay.insert(slot("uploaded", { status: "uploaded", size_bytes: 1000, blob_key: "" }))
              yield* relay.insert(slot("created", { size_bytes: 500 }))
              yield* relay.insert(
                slot("consumed", { status: "consumed", size_bytes: 200, blob_key: "", expires_at: now })
              )
              yield* relay.insert(
                slot("lapsed", { status: "uploaded", size_bytes: 50, blob_key: "", expires_at: now - 1 })
              )
              const { families } = yield* scrape
              expect(gauge(families, "agent_marketplace_relay_stored_bytes")).toBe(1250)
              expect(gauge(families, "agent_marketplace_relay_reserved_bytes")).toBe(1500)
              expect(gauge(families, "agent_marketplace_relay_reserved_bytes")).toBe(
                yield* relay.activeBytes(now)
              )
              expect(sampleValue(families, SWEEP, `${SWEEP}_count`, { sweep: "relay" }) ?? 0).toBe(0)

              // The relay sweep (every 30 s) deletes the bytes of the consumed and the lapsed slot.
              yield* advanceRelay(30_000)
              const after = (yield* scrape).families
              expect(gauge(after, "agent_marketplace_relay_stored_bytes")).toBe(1000)
              expect(gauge(after, "agent_marketplace_relay_reserved_bytes")).toBe(1500)
              expect(gauge(after, "agent_marketplace_relay_reserved_bytes")).toBe(
                yield* relay.activeBytes(yield* Clock.currentTimeMillis)
              )
              expect(sampleValue(after, SWEEP, `${SWEEP}_count`, { sweep: "relay" })).toBeGreaterThanOrEqual(
                1
              )
            }),
            {},
            store
          )
      )
    })
  }

  it.scoped(
    "is open by default; with AGENT_MARKETPLACE_METRICS_TOKEN it wants that bearer token (errors stay JSON)",
    () =>
      Effect.gen(function* () {
        yield* withServer(
          Effect.gen(function* () {
            expect((yield* scrapeRaw()).status).toBe(200)
          })
        )
        yield* withServer(
          Effect.gen(function* () {
            const agent = yield* registerAgent("someone")
            const refusals: ReadonlyArray<Record<string, string>> = [
              {},
              { authorization: "Bearer wrong" },
              { authorization: "Basic czNjcmV0" },
              { authorization: "s3cret" },
              { authorization: `Bearer ${agent.token}` },
              { "admin-token": "s3cret" }
            ]
            for (const headers of refusals) {
              const refused = yield* scrapeRaw(headers)
              expect({ headers, status: refused.status }).toEqual({ headers, status: 401 })
              expect(refused.contentType).toMatch(/^application\/json/)
              expect(JSON.parse(refused.body)).toMatchObject({
                _tag: "AuthenticationFailedError",
                message: expect.any(String)
              })
              expect(refused.body).not.toContain("s3cret")
            }
            const allowed = yield* scrapeRaw({ authorization: "Bearer s3cret" })
            expect(allowed.status).toBe(200)
            expect(allowed.contentType).toBe("text/plain; version=0.0.4; charset=utf-8")
            const families = parsePrometheus(allowed.body)
            // The refused scrapes were counted like any request.
            expect(requests(families, "GET", "/metrics", 401)).toBe(6)
          }),
          { metricsToken: Option.some(Redacted.make("s3cret")) }
        )
      })
  )
})

describe("route templates", () => {
  it("every endpoint of MarketplaceApi maps back to its own template, whatever its parameters", () => {
    const endpoints: Array<{ method: string; path: string }> = []
    HttpApi.reflect(MarketplaceApi, {
      onGroup: () => {},
      onEndpoint: ({ endpoint }) => endpoints.push({ method: endpoint.method, path: endpoint.path })
    })
    expect(endpoints.length).toBeGreaterThan(40)
    for (const { method, path } of endpoints) {
      for (const value of ["x-1", "me", "audit", "online", "by-assignment"]) {
        const concrete = path.replace(/:[a-z_]+/g, value)
        const expected = endpoints.some((e) => e.method === method && e.path === concrete) ? concrete : path
        expect({ method, concrete, route: routeTemplate(method, `${concrete}?limit=1`) }).toEqual({
          method,
          concrete,
          route: expected
        })
      }
    }
  })

  it("HEAD falls back to GET; unknown paths and methods are unmatched; the routes beside the API are named", () => {
    expect(routeTemplate("HEAD", "/tasks/task-1")).toBe("/tasks/:task_id")
    expect(routeTemplate("GET", "/agents/me")).toBe("/agents/me")
    expect(routeTemplate("DELETE", "/agents/me")).toBe(UNMATCHED)
    expect(routeTemplate("GET", "/tasks/task-1/extra")).toBe(UNMATCHED)
    expect(routeTemplate("GET", "/tasks//")).toBe(UNMATCHED)
    expect(routeTemplate("GET", "/metrics")).toBe("/metrics")
    expect(routeTemplate("GET", "/openapi.json")).toBe("/openapi.json")
    expect(routeTemplate("GET", "/docs")).toBe("/docs")
  })
})

describe("the strict exposition reader used here", () => {
  it("reads a histogram with labels and refuses what Prometheus would refuse", () => {
    const good = [
      "# HELP h_seconds A histogram.",
      "# TYPE h_seconds histogram",
      'h_seconds_bucket{le="0.1",route="/a"} 1',
      'h_seconds_bucket{le="+Inf",route="/a"} 2',
      'h_seconds_sum{route="/a"} 0.3',
      'h_seconds_count{route="/a"} 2',
      'h_seconds_bucket{le="0.1",route="/b"} 0',
      'h_seconds_bucket{le="+Inf",route="/b"} 1',
      'h_seconds_sum{route="/b"} 2',
      'h_seconds_count{route="/b"} 1',
      "# TYPE g gauge",
      'g{v="a \\"q\\" \\\\ b"} 5',
      ""
    ].join("\n")
    const families = parsePrometheus(good)
    expect(sampleValue(families, "h_seconds", "h_seconds_count", { route: "/b" })).toBe(1)
    expect(sampleValue(families, "g", "g")).toBe(5)
    expect(families.get("g")?.samples[0]?.labels.v).toBe('a "q" \\ b')
    for (const bad of [
      "garbage line here\n",
      'x{a="1" 2\n',
      'x{a="1"}\n',
      "x 1",
      "# TYPE x counter\nx 1\n# TYPE y gauge\ny 1\nx 2\n",
      "# TYPE x gauge\nx 1\nx 2\n",
      "# TYPE x summary\n# TYPE x counter\n",
      '# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n',
      '# TYPE h histogram\nh_bucket{le="+Inf"} 2\nh_sum 1\nh_count 3\n',
      '# TYPE h histogram\nh_bucket{le="1"} 1\nh_sum 1\nh_count 1\n',
      'x{__name="a"} 1\n',
      'x{a="\\t"} 1\n'
    ]) {
      expect(() => parsePrometheus(bad), bad).toThrow()
    }
  })
})
