import { type ChildProcess, execFile, spawn, spawnSync } from "node:child_process"
import { existsSync, mkdirSync, readdirSync, rmdirSync, statSync } from "node:fs"
import { createServer } from "node:net"
import { tmpdir } from "node:os"
import { dirname, join, resolve } from "node:path"
import { fileURLToPath } from "node:url"

/** The repository root. */
export const root = resolve(dirname(fileURLToPath(import.meta.url)), "../../../..")
/** The committed bin file (imports ../dist/cli.mjs), as `node_modules/.bin/agent-marketplace` runs it. */
export const cliBin = join(root, "packages/cli/bin/agent-marketplace.mjs")
export const serverBundle = join(root, "packages/server/dist/main.mjs")

const newest = (dir: string): number =>
  existsSync(dir)
    ? readdirSync(dir, { withFileTypes: true }).reduce((max, entry) => {
        const path = join(dir, entry.name)
        return Math.max(max, entry.isDirectory() ? newest(path) : statSync(path).mtimeMs)
      }, 0)
    : 0

const sleepSync = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms)

/**
 * Runs `node scripts/build.mjs <target>` when the bundle is missing or older than its sources (like
 * `npm start` does), under a directory lock so parallel test files never read a half-written bundle.
 */
export const ensureBuilt = (target: "cli" | "server") => {
  const bundle = target === "cli" ? join(root, "packages/cli/dist/cli.mjs") : serverBundle
  const sources = [join(root, `packages/${target}/src`), join(root, "packages/domain/src")]
  const stale = () =>
    !existsSync(bundle) ||
    statSync(bundle).mtimeMs <
      Math.max(...sources.map(newest), statSync(join(root, "scripts/build.mjs")).mtimeMs)
  if (!stale()) return
  const lock = join(tmpdir(), `agent-marketplace-build-${target}.lock`)
  const deadline = Date.now() + 120_000
  for (;;) {
    try {
      mkdirSync(lock)
      break
    } catch {
      // A lock left by a crashed run is stale after two minutes.
      if (existsSync(lock) && Date.now() - statSync(lock).mtimeMs > 120_000) rmdirSync(lock)
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${lock}`)
      sleepSync(100)
    }
  }
  try {
    if (stale()) {
      const result = spawnSync(process.execPath, [join(root, "scripts/build.mjs"), target], {
        encoding: "utf8"
      })
      if (result.status !== 0) throw new Error(`build ${target} failed: ${result.stderr}`)
    }
  } finally {
    rmdirSync(lock)
  }
}

export interface ProcessResult {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

/** An environment without the caller's AGENT_MARKETPLACE_* settings and with its own HOME. */
export const cleanEnv = (home: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv => {
  const env: NodeJS.ProcessEnv = {}
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith("AGENT_MARKETPLACE_")) env[key] = value
  }
  return { ...env, HOME: home, ...extra }
}

/** Runs the built CLI as a child process (through the committed bin file). */
export const runCli = (args: ReadonlyArray<string>, env: NodeJS.ProcessEnv, cwd?: string) =>
  new Promise<ProcessResult>((resolvePromise) => {
    execFile(process.execPath, [cliBin, ...args], { env, cwd, timeout: 60_000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === "number" ? error.code : 1
      resolvePromise({ code, stdout, stderr })
    })
  })

/** Starts the built CLI in the background (for `daemon`), collecting its output. */
export const spawnCli = (args: ReadonlyArray<string>, env: NodeJS.ProcessEnv) => {
  const child = spawn(process.execPath, [cliBin, ...args], { env, stdio: ["ignore", "pipe", "pipe"] })
  const output = { stdout: "", stderr: "" }
  child.stdout.on("data", (chunk: Buffer) => (output.stdout += chunk.toString("utf8")))
  child.stderr.on("data", (chunk: Buffer) => (output.stderr += chunk.toString("utf8")))
  const exited = new Promise<number | null>((resolvePromise) =>
    child.on("exit", (code) => resolvePromise(code))
  )
  return { child, output, exited }
}

/** Polls `check` every 100 ms until it holds or `timeoutMs` passes (the bounded wait of the e2e tier). */
export const waitFor = async (what: string, check: () => boolean | Promise<boolean>, timeoutMs = 15_000) => {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (await check()) return
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
}

export const freePort = () =>
  new Promise<number>((resolvePromise, reject) => {
    const server = createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolvePromise(port))
    })
  })

export interface StartedServer {
  readonly url: string
  readonly process: ChildProcess
  readonly logs: () => string
  readonly stop: () => Promise<void>
}

/** Starts the built platform-server on a free loopback port with the memory store; waits for /health. */
export const startServer = async (env: Record<string, string> = {}): Promise<StartedServer> => {
  const port = await freePort()
  const url = `http://127.0.0.1:${port}`
  let logs = ""
  const child = spawn(process.execPath, [serverBundle], {
    env: {
      ...cleanEnv(process.env.HOME ?? "/tmp"),
      AGENT_MARKETPLACE_ADDR: `127.0.0.1:${port}`,
      AGENT_MARKETPLACE_STORE: "memory",
      ...env
    },
    stdio: ["ignore", "pipe", "pipe"]
  })
  child.stdout!.on("data", (c: Buffer) => (logs += c.toString("utf8")))
  child.stderr!.on("data", (c: Buffer) => (logs += c.toString("utf8")))
  const exited = new Promise<void>((r) => child.on("exit", () => r()))
  await waitFor(
    `${url}/health`,
    async () => {
      if (child.exitCode !== null) throw new Error(`the server exited (${child.exitCode}):\n${logs}`)
      try {
        const response = await fetch(`${url}/health`)
        return response.ok
      } catch {
        return false
      }
    },
    20_000
  )
  return {
    url,
    process: child,
    logs: () => logs,
    stop: async () => {
      if (child.exitCode === null) child.kill("SIGTERM")
      await exited
    }
  }
}
