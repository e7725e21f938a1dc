// Shared pieces of the benchmark scripts: processes, stores, HTTP calls, statistics.
import { spawn, spawnSync } from "node:child_process"
import { randomBytes } from "node:crypto"
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs"
import http from "node:http"
import { createServer } from "node:net"
import { tmpdir } from "node:os"
import { dirname, join, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import autocannon from "autocannon"
import pg from "pg"

export const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..")
export const serverBundle = join(root, "packages/server/dist/main.mjs")
export const cliBin = join(root, "packages/cli/bin/agent-marketplace.mjs")

/** Builds both bundles (the bench measures what `npm start` and the installed CLI run). */
export const build = () => {
  const result = spawnSync(process.execPath, [join(root, "scripts/build.mjs")], { stdio: "inherit" })
  if (result.status !== 0) throw new Error("build failed")
}

export const freePort = () =>
  new Promise((resolvePort, reject) => {
    const server = createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address()
      server.close(() => resolvePort(port))
    })
  })

const waitFor = async (what, check, timeoutMs = 30_000) => {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (await check()) return
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error(`timed out waiting for ${what}`)
}

/** Resident set size of a process, in bytes (Linux /proc). */
export const rssOf = (pid) => {
  const status = readFileSync(`/proc/${pid}/status`, "utf8")
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)[1]) * 1024
}

/**
 * Samples a process's RSS every 20 ms until `stop()`; returns the peak. (VmHWM would include the
 * start-up peak, so sampling it is.)
 */
export const sampleRss = (pid) => {
  let peak = rssOf(pid)
  const timer = setInterval(() => {
    try {
      peak = Math.max(peak, rssOf(pid))
    } catch {
      // the process may have exited; keep the last peak
    }
  }, 20)
  return {
    stop: () => {
      clearInterval(timer)
      return peak
    }
  }
}

const benchDatabaseUrl =
  process.env.AGENT_MARKETPLACE_BENCH_DATABASE_URL ??
  process.env.AGENT_MARKETPLACE_TEST_DATABASE_URL ??
  "postgres://postgres@127.0.0.1:5432/test"

const withSearchPath = (url, schema) => {
  const u = new URL(url)
  u.searchParams.set("options", `-c search_path=${schema}`)
  return u.toString()
}

const adminQuery = async (statement) => {
  const client = new pg.Client({ connectionString: benchDatabaseUrl })
  await client.connect()
  try {
    await client.query(statement)
  } finally {
    await client.end()
  }
}

/**
 * A store to run the server on: its environment, and how to seed agents directly into it (the
 * SQL stores; the memory store is seeded over HTTP).
 */
export const makeStore = async (name) => {
  if (name === "memory") {
    return { name, env: { AGENT_MARKETPLACE_STORE: "memory" }, dispose: async () => {} }
  }
  if (name === "sqlite") {
    const dir = mkdtempSync(join(tmpdir(), "am-bench-sqlite-"))
    return {
      name,
      dir,
      env: { AGENT_MARKETPLACE_STORE: "sqlite", AGENT_MARKETPLACE_DATA_DIR: dir },
      dispose: async () => rmSync(dir, { recursive: true, force: true })
    }
  }
  const schema = `bench_${randomBytes(5).toString("hex")}`
  await adminQuery(`CREATE SCHEMA ${schema}`)
  const url = withSearchPath(benchDatabaseUrl, schema)
  const dir = mkdtempSync(join(tmpdir(), "am-bench-pg-"))
  return {
    name,
    url,
    dir,
    env: {
      AGENT_MARKETPLACE_STORE: "postgres",
      AGENT_MARKETPLACE_DATABASE_URL: url,
      AGENT_MARKETPLACE_DATA_DIR: dir
    },
    dispose: async () => {
      await adminQuery(`DROP SCHEMA ${schema} CASCADE`)
      rmSync(dir, { recursive: true, force: true })
    }
  }
}

/** Settings that keep the bench measuring steady state: agents stay alive, limits do not bite. */
export const benchServerEnv = {
  AGENT_MARKETPLACE_HEARTBEAT_IDLE_TIMEOUT_MS: String(24 * 3600 * 1000),
  AGENT_MARKETPLACE_HEARTBEAT_BUSY_TIMEOUT_MS: String(24 * 3600 * 1000),
  AGENT_MARKETPLACE_RELAY_CREATES_PER_MINUTE: "100000",
  AGENT_MARKETPLACE_RELAY_TOTAL_BYTES: String(8 * 1024 ** 3),
  AGENT_MARKETPLACE_RELAY_ADDRESS_BYTES: String(8 * 1024 ** 3)
}

const spawnJsonReady = async (args, env, readyUrl) => {
  let logs = ""
  const child = spawn(process.execPath, args, {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"]
  })
  child.stdout.on("data", (c) => {
    logs += c
    if (logs.length > 100_000) logs = logs.slice(-50_000)
  })
  child.stderr.on("data", (c) => {
    logs += c
  })
  const exited = new Promise((r) => child.on("exit", r))
  await waitFor(readyUrl, async () => {
    if (child.exitCode !== null) throw new Error(`process exited (${child.exitCode}):\n${logs}`)
    try {
      return (await fetch(readyUrl, { method: readyUrl.endsWith("/heartbeat") ? "POST" : "GET" })).ok
    } catch {
      return false
    }
  })
  return {
    pid: child.pid,
    logs: () => logs,
    stop: async () => {
      if (child.exitCode === null) child.kill("SIGTERM")
      await exited
    }
  }
}

/** platform-server (the built bundle, plain node) on a store. */
export const startServer = async (store, extraEnv = {}) => {
  const port = await freePort()
  const url = `http://127.0.0.1:${port}`
  const proc = await spawnJsonReady(
    [serverBundle],
    { ...benchServerEnv, ...store.env, ...extraEnv, AGENT_MARKETPLACE_ADDR: `127.0.0.1:${port}` },
    `${url}/ready`
  )
  return { url, ...proc }
}

/** The bare node:http baseline, same machine, same run. */
export const startBaseline = async (blobDir) => {
  const port = await freePort()
  const url = `http://127.0.0.1:${port}`
  const proc = await spawnJsonReady(
    [join(root, "scripts/bench/baseline-server.mjs")],
    { PORT: String(port), BENCH_BLOB_DIR: blobDir },
    `${url}/agents/heartbeat`
  )
  return { url, ...proc }
}

let keyCounter = 0
/**
 * The calls' client: `node:http` with kept-alive sockets. (Undici's `fetch` cost the load
 * generator ~0.6 ms of CPU per request, three times the server's share of a memory-store request,
 * on the cores the server and the database share.)
 */
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 })

/**
 * One JSON call; throws on a non-2xx answer (the bench must not count failures as work). A kept-alive
 * socket that the server closed for idleness (its keep-alive timeout) just as the call took it
 * fails with ECONNRESET before any answer: that call is sent again, once, on a new socket (what
 * Node's documentation advises; `request.reusedSocket`), since the server never received it.
 */
export const call = (base, method, path, options = {}) => {
  // The key is drawn once, so a call sent again carries the same one.
  const key =
    method !== "GET" && options.key !== false
      ? (options.key ?? `bench-${process.pid}-${++keyCounter}`)
      : false
  const once = () => callOnce(base, method, path, { ...options, key })
  return once().catch((error) =>
    error.reusedSocket && error.code === "ECONNRESET" ? once() : Promise.reject(error)
  )
}

const callOnce = (base, method, path, { token, body, key } = {}) =>
  new Promise((resolveCall, reject) => {
    const headers = {}
    if (token) headers.authorization = `Bearer ${token}`
    const payload = body === undefined ? undefined : JSON.stringify(body)
    if (payload !== undefined) {
      headers["content-type"] = "application/json"
      headers["content-length"] = Buffer.byteLength(payload)
    }
    if (key !== false) headers["idempotency-key"] = key
    const request = http.request(`${base}${path}`, { method, headers, agent }, (response) => {
      let text = ""
      response.setEncoding("utf8")
      response.on("data", (chunk) => {
        text += chunk
      })
      response.on("error", reject)
      response.on("end", () => {
        if (response.statusCode < 200 || response.statusCode > 299)
          reject(new Error(`${method} ${path} → ${response.statusCode} ${text}`))
        else resolveCall(text === "" ? null : JSON.parse(text))
      })
    })
    request.on("error", (error) => reject(Object.assign(error, { reusedSocket: request.reusedSocket })))
    request.end(payload)
  })

/** Registers agents `prefix-0 …`; returns their tokens. */
export const registerAgents = async (base, prefix, count, concurrency = 16) => {
  const tokens = new Array(count)
  let next = 0
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count) {
        const i = next++
        const res = await call(base, "POST", "/agents/register", {
          body: { agent_id: `${prefix}-${i}` },
          key: false
        })
        tokens[i] = res.token
      }
    })
  )
  return tokens
}

/** autocannon, as a promise, quiet. */
/**
 * One autocannon run. `onResponse(statusCode, ms)` sees every response's latency as a float:
 * autocannon's own histogram keeps whole milliseconds, too coarse to compare a 4 ms p99 with a 6 ms one.
 */
export const load = (options, onResponse) =>
  new Promise((resolveRun, reject) => {
    const instance = autocannon({ ...options }, (error, result) =>
      error ? reject(error) : resolveRun(result)
    )
    if (onResponse !== undefined)
      instance.on("response", (_client, statusCode, _bytes, ms) => onResponse(statusCode, ms))
  })

export const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  const m = Math.floor(s.length / 2)
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2
}

export const percentile = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]
}

export const mib = (bytes) => bytes / 1024 / 1024

export const writeJson = (path, value) => writeFileSync(path, `${JSON.stringify(value, null, 2)}\n`)

export const fileSize = (path) => (existsSync(path) ? statSync(path).size : 0)
