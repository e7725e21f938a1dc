#!/usr/bin/env node
// `npm run bench`: every benchmark on every store, each beside a bare node:http baseline measured in
// the same run. Prints a table; writes JSON to bench-results/<time>.json. Scripts, not tests: they
// print figures and never assert timings.
//   BENCH_STORES=memory,sqlite,postgres   which stores (default: all three)
//   BENCH_SECONDS=5                       length of each load round
//   BENCH_ONLY=heartbeat,flows,discover,relay,help   which benchmarks (default: all)
import { mkdirSync, mkdtempSync, rmSync } from "node:fs"
import { cpus, tmpdir, totalmem } from "node:os"
import { join } from "node:path"
import { benchCliHelp } from "./cli-help.mjs"
import { benchDiscover, seedAgents } from "./discover.mjs"
import { benchFlows } from "./flows.mjs"
import { benchHeartbeat } from "./heartbeat.mjs"
import { benchRelay } from "./relay.mjs"
import { build, makeStore, root, startBaseline, startServer, writeJson } from "./support.mjs"

const stores = (process.env.BENCH_STORES ?? "memory,sqlite,postgres").split(",").map((s) => s.trim())
const seconds = Number(process.env.BENCH_SECONDS ?? 5)
const only = new Set(
  (process.env.BENCH_ONLY ?? "heartbeat,flows,discover,relay,help").split(",").map((s) => s.trim())
)
const log = (line) => process.stderr.write(`bench: ${line}\n`)
const started = Date.now()

build()
const blobDir = mkdtempSync(join(tmpdir(), "am-bench-baseline-"))
const baseline = await startBaseline(blobDir)
const results = {
  at: new Date().toISOString(),
  machine: {
    cores: cpus().length,
    cpu: cpus()[0]?.model,
    memory_gib: Math.round(totalmem() / 1024 ** 3),
    node: process.version
  },
  seconds_per_round: seconds,
  stores: {}
}

try {
  for (const name of stores) {
    const store = await makeStore(name)
    const server = await startServer(store)
    const out = {}
    try {
      if (only.has("heartbeat")) {
        log(`${name}: heartbeat (3 alternating rounds beside the baseline)`)
        out.heartbeat = await benchHeartbeat({ server, baseline, seconds })
      }
      if (only.has("flows")) {
        log(`${name}: flows`)
        out.flows = await benchFlows({ server, seconds: seconds + 3 })
      }
      if (only.has("discover")) {
        log(`${name}: discover, 10k agents`)
        await seedAgents(store, server, 0, 10_000)
        out.discover_10k = await benchDiscover({ server, seconds })
        if (name !== "memory" || process.env.BENCH_MEMORY_100K === "1") {
          log(`${name}: discover, 100k agents`)
          await seedAgents(store, server, 10_000, 100_000)
          out.discover_100k = await benchDiscover({ server, seconds })
        }
      }
      if (only.has("relay")) {
        log(`${name}: relay (4 concurrent 50 MiB transfers)`)
        out.relay = await benchRelay({ server, baseline, blobDir })
      }
    } finally {
      await server.stop()
      await store.dispose()
    }
    results.stores[name] = out
  }
  if (only.has("help")) {
    log("cli --help")
    results.cli_help = benchCliHelp()
  }
} finally {
  await baseline.stop()
  rmSync(blobDir, { recursive: true, force: true })
}
results.duration_secs = Math.round((Date.now() - started) / 1000)

// ---- table -------------------------------------------------------------------------------------
const fmt = (n, digits = 0) => (n === undefined || Number.isNaN(n) ? "—" : n.toFixed(digits))
const pct = (a, b) => (a === undefined || b === undefined ? "—" : `${((100 * a) / b).toFixed(1)} %`)
const rows = [["figure", ...stores]]
const row = (label, f) => rows.push([label, ...stores.map((s) => f(results.stores[s] ?? {}))])
row("heartbeat req/s (server)", (r) => fmt(r.heartbeat?.server.req_per_sec))
row("heartbeat req/s (bare node:http)", (r) => fmt(r.heartbeat?.baseline.req_per_sec))
row("heartbeat server / bare", (r) => pct(r.heartbeat?.server.req_per_sec, r.heartbeat?.baseline.req_per_sec))
row("heartbeat vs memory store", (r) =>
  pct(r.heartbeat?.server.req_per_sec, results.stores.memory?.heartbeat?.server.req_per_sec)
)
row(
  "heartbeat p50 / p99 ms",
  (r) => `${fmt(r.heartbeat?.server.p50_ms, 1)} / ${fmt(r.heartbeat?.server.p99_ms, 1)}`
)
row("flows/s (12 requests each)", (r) => fmt(r.flows?.flows_per_sec, 1))
row(
  "discover 10k p50 / p99 ms",
  (r) => `${fmt(r.discover_10k?.p50_ms, 1)} / ${fmt(r.discover_10k?.p99_ms, 1)}`
)
row(
  "discover 100k p50 / p99 ms",
  (r) => `${fmt(r.discover_100k?.p50_ms, 1)} / ${fmt(r.discover_100k?.p99_ms, 1)}`
)
row("discover p99 100k / 10k", (r) =>
  r.discover_100k ? `${(r.discover_100k.p99_ms / Math.max(r.discover_10k.p99_ms, 0.001)).toFixed(2)}×` : "—"
)
row("relay MiB/s (server, median warm round)", (r) => fmt(r.relay?.server_mib_per_sec, 1))
row("relay MiB/s (bare node:http pipe, median)", (r) => fmt(r.relay?.baseline_mib_per_sec, 1))
row("relay server / bare", (r) => pct(r.relay?.server_mib_per_sec, r.relay?.baseline_mib_per_sec))
row("relay RSS idle → peak MiB (growth), cold", (r) =>
  r.relay
    ? `${fmt(r.relay.cold.rss_idle_mib)} → ${fmt(r.relay.cold.rss_peak_mib)} (+${fmt(r.relay.cold.rss_growth_mib)})`
    : "—"
)
row("relay RSS idle → peak MiB (growth), warm max", (r) =>
  r.relay
    ? `${fmt(r.relay.warm.rss_idle_mib)} → ${fmt(r.relay.warm.rss_peak_mib)} (+${fmt(r.relay.warm.rss_growth_mib)})`
    : "—"
)
row("relay RSS growth MiB, bare node:http pipe", (r) =>
  r.relay ? `+${fmt(r.relay.baseline_rss_growth_mib)}` : "—"
)
const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => String(r[i]).length)))
const line = (r) => r.map((c, i) => String(c).padEnd(widths[i])).join("  ")
process.stdout.write(`\n${line(rows[0])}\n${widths.map((w) => "-".repeat(w)).join("  ")}\n`)
for (const r of rows.slice(1)) process.stdout.write(`${line(r)}\n`)
const help = results.cli_help
if (help)
  process.stdout.write(
    `\nagent-marketplace --help: median ${fmt(help.median_ms)} ms over ${help.runs} runs (min ${fmt(help.min_ms)}, max ${fmt(help.max_ms)})\n`
  )
process.stdout.write(
  `machine: ${results.machine.cores} cores, ${results.machine.cpu}, node ${results.machine.node}; ${results.duration_secs} s in all\n`
)

const dir = join(root, "bench-results")
mkdirSync(dir, { recursive: true })
const file = join(dir, `${results.at.replace(/[:.]/g, "-")}.json`)
writeJson(file, results)
process.stdout.write(`results: ${file}\n`)
