// Heartbeat throughput and latency through the full stack (bearer lookup, liveness write, response),
// beside the bare node:http baseline answering the same JSON; rounds alternate baseline / server.
import { load, median, registerAgents } from "./support.mjs"

const CONNECTIONS = 50
const body = JSON.stringify({ busy: false })

const round = (url, tokens, seconds) => {
  let n = 0
  return load({
    url: `${url}/agents/heartbeat`,
    method: "POST",
    connections: CONNECTIONS,
    duration: seconds,
    headers: { "content-type": "application/json" },
    body,
    // One agent per connection, as real agents would heartbeat.
    setupClient: (client) => {
      const token = tokens[n++ % tokens.length]
      client.setHeaders({ "content-type": "application/json", authorization: `Bearer ${token}` })
    }
  })
}

const summary = (results) => ({
  req_per_sec: median(results.map((r) => r.requests.average)),
  p50_ms: median(results.map((r) => r.latency.p50)),
  p99_ms: median(results.map((r) => r.latency.p99)),
  errors: results.reduce((n, r) => n + r.errors + r.non2xx, 0)
})

/** `rounds` alternating rounds; returns the medians for the baseline and the server. */
export const benchHeartbeat = async ({ server, baseline, rounds = 3, seconds = 5 }) => {
  const tokens = await registerAgents(server.url, "hb", CONNECTIONS)
  const base = []
  const ours = []
  for (let i = 0; i < rounds; i++) {
    base.push(await round(baseline.url, ["unused"], seconds))
    ours.push(await round(server.url, tokens, seconds))
  }
  return { baseline: summary(base), server: summary(ours) }
}
