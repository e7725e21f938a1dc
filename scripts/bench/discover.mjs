// Discover latency with N registered, alive agents spread over 50 capabilities, 10 concurrent
// clients each asking for one capability.
import { createRequire } from "node:module"
import { join } from "node:path"
import pg from "pg"
import { call, load, percentile, root } from "./support.mjs"

export const CAPABILITIES = 50

/**
 * Seeds agents `disc-<from..to-1>` straight into the registry tables (the schema of migration
 * 0002_registry): registering 100k agents over HTTP would take minutes per store. Each agent
 * declares one capability (`cap-<n % 50>`, max_concurrency 4) and has heartbeated just now.
 */
const seedSql = async (store, from, to) => {
  const now = Date.now()
  if (store.name === "postgres") {
    const client = new pg.Client({ connectionString: store.url })
    await client.connect()
    try {
      await client.query("BEGIN")
      await client.query(
        `INSERT INTO agents (agent_id, seq, name, endpoint, metadata, lifecycle, capabilities, created_at, updated_at)
         SELECT 'disc-' || n, 1000000 + n, NULL, NULL, '{}', 'registered',
                '[{"name":"cap-' || (n % ${CAPABILITIES}) || '","max_concurrency":4}]', $1, $1
         FROM generate_series($2::int, $3::int - 1) AS n`,
        [now, from, to]
      )
      await client.query(
        `INSERT INTO agent_capabilities (agent_id, name, max_concurrency)
         SELECT 'disc-' || n, 'cap-' || (n % ${CAPABILITIES}), 4 FROM generate_series($1::int, $2::int - 1) AS n`,
        [from, to]
      )
      await client.query(
        `INSERT INTO liveness (agent_id, alive, busy, last_heartbeat_at)
         SELECT 'disc-' || n, true, false, $1 FROM generate_series($2::int, $3::int - 1) AS n`,
        [now, from, to]
      )
      await client.query("COMMIT")
      await client.query("ANALYZE agents; ANALYZE agent_capabilities; ANALYZE liveness")
    } finally {
      await client.end()
    }
    return
  }
  const require = createRequire(join(root, "packages/server/package.json"))
  const Database = require("better-sqlite3")
  const db = new Database(join(store.dir, "marketplace.sqlite"))
  db.pragma("busy_timeout = 10000")
  const agent = db.prepare(
    `INSERT INTO agents (agent_id, seq, name, endpoint, metadata, lifecycle, capabilities, created_at, updated_at)
     VALUES (?, ?, NULL, NULL, '{}', 'registered', ?, ?, ?)`
  )
  const capability = db.prepare(
    "INSERT INTO agent_capabilities (agent_id, name, max_concurrency) VALUES (?, ?, 4)"
  )
  const live = db.prepare(
    "INSERT INTO liveness (agent_id, alive, busy, last_heartbeat_at) VALUES (?, 1, 0, ?)"
  )
  db.transaction(() => {
    for (let n = from; n < to; n++) {
      const id = `disc-${n}`
      const cap = `cap-${n % CAPABILITIES}`
      agent.run(id, 1_000_000 + n, JSON.stringify([{ name: cap, max_concurrency: 4 }]), now, now)
      capability.run(id, cap)
      live.run(id, now)
    }
  })()
  db.exec("ANALYZE")
  db.close()
}

/** The memory store can only be seeded through the API: register, declare, heartbeat. */
const seedHttp = async (server, from, to, concurrency = 32) => {
  let next = from
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < to) {
        const n = next++
        const { token } = await call(server.url, "POST", "/agents/register", {
          body: { agent_id: `disc-${n}` },
          key: false
        })
        await call(server.url, "PUT", "/agents/capabilities", {
          token,
          key: false,
          body: { capabilities: [{ name: `cap-${n % CAPABILITIES}`, max_concurrency: 4 }] }
        })
        await call(server.url, "POST", "/agents/heartbeat", { token, key: false, body: { busy: false } })
      }
    })
  )
}

export const seedAgents = (store, server, from, to) =>
  store.name === "memory" ? seedHttp(server, from, to) : seedSql(store, from, to)

/**
 * 10 clients, each on its own capability, for `seconds`. p50 and p99 are taken from every 2xx
 * response's latency to a microsecond, not from autocannon's whole-millisecond histogram: at 4–8 ms
 * a p99 rounded to the millisecond moves the 100k ÷ 10k ratio by 25 % at a time.
 */
export const benchDiscover = async ({ server, seconds = 5 }) => {
  let n = 0
  const latencies = []
  const result = await load(
    {
      url: `${server.url}/agents/discover?capability=cap-0&limit=20`,
      connections: 10,
      duration: seconds,
      setupClient: (client) => {
        const cap = `cap-${(n++ * 7) % CAPABILITIES}`
        client.setRequest({ method: "GET", path: `/agents/discover?capability=${cap}&limit=20` })
      }
    },
    (status, ms) => {
      if (Math.floor(Number(status) / 100) === 2) latencies.push(ms)
    }
  )
  return {
    req_per_sec: result.requests.average,
    p50_ms: percentile(latencies, 50),
    p99_ms: percentile(latencies, 99),
    samples: latencies.length,
    errors: result.errors + result.non2xx
  }
}
