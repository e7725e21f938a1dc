import { type ChildProcess, spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { LedgerAudit } from "@agent-marketplace/domain/settlement/Settlement"
import type { HoldId } from "@agent-marketplace/domain/shared/Ids"
import { Effect, Exit, Layer, Option, Redacted, Scope } from "effect"
import { ensureBuilt, freePort, root, serverBundle, waitFor } from "../../../cli/test/support/Processes"
import { ServerConfig } from "../../src/platform/ServerConfig"
import { StorePostgresLive, StoreSqliteLive, sqliteFile } from "../../src/platform/StoreLayers"
import { type EntryRow, LedgerRepo } from "../../src/settlement/LedgerRepo"
import { holdAccount, Settlement, SettlementLive } from "../../src/settlement/Settlement"
import { freshPostgresSchema } from "../support/Stores"

/**
 * Child-process helpers of the process tier: the built server (or `npm start`'s script, or the
 * production start command) as real processes, killed with SIGKILL or stopped with SIGTERM, a raw
 * HTTP client with the retry rule of a well-behaved agent, and the ledger audit computed by opening
 * the same store the processes used (the one `Settlement.audit` code path).
 */
export { ensureBuilt, freePort, root, serverBundle, waitFor }

/** The caller's environment without any server setting, so only what a test passes configures the server. */
export const bareEnv = (extra: Record<string, string>): NodeJS.ProcessEnv => {
  const env: NodeJS.ProcessEnv = {}
  for (const [key, value] of Object.entries(process.env)) {
    if (key.startsWith("AGENT_MARKETPLACE_") || key === "DATABASE_URL" || key === "PORT") continue
    env[key] = value
  }
  return { ...env, ...extra }
}

export interface Exited {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
}

export interface ServerProcess {
  readonly url: string
  readonly child: ChildProcess
  /** Everything the process wrote to stdout and stderr so far. */
  readonly logs: () => string
  readonly exited: Promise<Exited>
  /** SIGKILL to the whole process group (a wrapper such as scripts/start.mjs dies with its child). */
  readonly kill9: () => Promise<Exited>
  /** SIGTERM to the process itself; resolves with how it exited and how long that took. */
  readonly terminate: () => Promise<Exited & { readonly ms: number }>
}

const running = new Set<ServerProcess>()

/** SIGKILLs every process group these helpers started and that is still running (for `afterAll`). */
export const killAll = async () => {
  await Promise.all([...running].map((p) => p.kill9()))
}

export interface LaunchOptions {
  /** The command line; by default `node packages/server/dist/main.mjs`. */
  readonly command?: ReadonlyArray<string>
  readonly env: NodeJS.ProcessEnv
  /** Where the test reaches the server (the server binds whatever `env` says). */
  readonly port: number
  readonly cwd?: string
  readonly readyTimeoutMs?: number
}

/**
 * Starts a server process in its own process group and waits (bounded) until GET /health answers
 * 200 on 127.0.0.1:`port`.
 */
export const launch = async (options: LaunchOptions): Promise<ServerProcess> => {
  const [command, ...args] = options.command ?? [process.execPath, serverBundle]
  const child = spawn(command!, args, {
    cwd: options.cwd ?? root,
    env: options.env,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"]
  })
  let output = ""
  child.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")))
  child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")))
  const exited = new Promise<Exited>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal }))
  )
  const url = `http://127.0.0.1:${options.port}`
  const handle: ServerProcess = {
    url,
    child,
    logs: () => output,
    exited,
    kill9: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        try {
          process.kill(-child.pid!, "SIGKILL")
        } catch {
          // already gone
        }
      }
      const result = await exited
      running.delete(handle)
      return result
    },
    terminate: async () => {
      const started = Date.now()
      child.kill("SIGTERM")
      const result = await exited
      running.delete(handle)
      return { ...result, ms: Date.now() - started }
    }
  }
  running.add(handle)
  let gone: Exited | undefined
  void exited.then((e) => (gone = e))
  try {
    await waitFor(
      `${url}/health`,
      async () => {
        if (gone !== undefined) {
          throw new Error(`the server exited (${gone.code ?? gone.signal}) before answering:\n${output}`)
        }
        try {
          return (await fetch(`${url}/health`)).ok
        } catch {
          return false
        }
      },
      options.readyTimeoutMs ?? 30_000
    )
  } catch (error) {
    await handle.kill9()
    throw error
  }
  return handle
}

/** A temporary directory, removed by the returned function. */
export const tempDir = (prefix: string) => {
  const dir = mkdtempSync(join(tmpdir(), `am-${prefix}-`))
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) }
}

// --- HTTP ----------------------------------------------------------------------------------------

export interface Reply {
  readonly status: number
  /** The exact body text. */
  readonly text: string
  readonly body: any
}

export interface CallOptions {
  readonly token?: string
  readonly key?: string
  readonly body?: unknown
}

/** One HTTP request; a connection error rejects. */
export const call = async (
  base: string,
  method: string,
  path: string,
  options: CallOptions = {}
): Promise<Reply> => {
  const headers: Record<string, string> = {}
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`
  if (options.key !== undefined) headers["idempotency-key"] = options.key
  if (options.body !== undefined) headers["content-type"] = "application/json"
  const response = await fetch(`${base}${path}`, {
    method,
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body)
  })
  const text = await response.text()
  let body: unknown = null
  try {
    body = JSON.parse(text)
  } catch {
    body = text
  }
  return { status: response.status, text, body }
}

export interface RetryStats {
  /** Requests re-sent after a connection error, a 5xx or a 409 IdempotencyInProgressError. */
  retries: number
  /** Of those, requests cut off after their connection was accepted (in flight when the server died). */
  cutOff: number
}

/** Whether a failed fetch had reached the server (reset or closed connection) rather than being refused. */
const wasCutOff = (error: unknown): boolean => {
  const cause = (error as { cause?: { code?: string } }).cause
  return cause?.code !== "ECONNREFUSED"
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * Sends until the server acknowledges (a response below 500 other than "still in progress"),
 * re-sending the very same request, idempotency key included, after a connection error or a 5xx —
 * the client rule that makes a crash invisible. Gives up after `timeoutMs`.
 */
export const untilAcknowledged = async (
  send: () => Promise<Reply>,
  stats: RetryStats,
  timeoutMs = 30_000
): Promise<Reply> => {
  const deadline = Date.now() + timeoutMs
  let last = "nothing"
  for (;;) {
    try {
      const reply = await send()
      const inProgress = reply.status === 409 && reply.body?._tag === "IdempotencyInProgressError"
      if (reply.status < 500 && !inProgress) return reply
      last = `${reply.status} ${reply.text}`
    } catch (error) {
      last = String((error as { cause?: unknown }).cause ?? error)
      if (wasCutOff(error)) stats.cutOff++
    }
    stats.retries++
    if (Date.now() > deadline) throw new Error(`not acknowledged within ${timeoutMs} ms; last: ${last}`)
    // The client's back-off between attempts (not a synchronisation point of the test).
    await pause(20)
  }
}

export const key = (label: string) => `${label}-${randomBytes(6).toString("hex")}`

/** Registers `agentId` (open registration) and returns its bearer token. */
export const register = async (base: string, agentId: string): Promise<string> => {
  const reply = await call(base, "POST", "/agents/register", { body: { agent_id: agentId } })
  if (reply.status !== 200 || typeof reply.body?.token !== "string") {
    throw new Error(`register ${agentId}: ${reply.status} ${reply.text}`)
  }
  return reply.body.token
}

/** Every page of a keyset-paged list (`{items, next}`). */
export const allPages = async (base: string, path: string, token: string) => {
  const items: Array<any> = []
  let after: string | null = null
  for (;;) {
    const sep = path.includes("?") ? "&" : "?"
    const reply = await call(
      base,
      "GET",
      `${path}${sep}limit=1000${after === null ? "" : `&after=${after}`}`,
      {
        token
      }
    )
    if (reply.status !== 200) throw new Error(`GET ${path}: ${reply.status} ${reply.text}`)
    items.push(...reply.body.items)
    if (reply.body.next === null || reply.body.items.length === 0) return items
    after = reply.body.next
  }
}

// --- Stores and the audit ------------------------------------------------------------------------

export type StoreLocation =
  | { readonly kind: "sqlite"; readonly dataDir: string }
  | { readonly kind: "postgres"; readonly url: string }

const storeLayer = (location: StoreLocation) =>
  location.kind === "sqlite"
    ? StoreSqliteLive(sqliteFile(location.dataDir))
    : StorePostgresLive(Redacted.make(location.url))

/** What the ledger of a store says, read in-process with the server's own services. */
export interface LedgerReport {
  readonly audit: LedgerAudit
  /** Ledger entries of each requested hold's account (its hold entry and its settlement, if any). */
  readonly holdEntries: ReadonlyMap<string, ReadonlyArray<EntryRow>>
}

/** Opens the store a server used and runs `Settlement.audit` (plus per-hold entries) over it. */
export const inspectLedger = (location: StoreLocation, holdIds: ReadonlyArray<string> = []) =>
  Effect.runPromise(
    Effect.gen(function* () {
      const settlement = yield* Settlement
      const ledger = yield* LedgerRepo
      const audit = yield* settlement.audit
      const holdEntries = new Map<string, ReadonlyArray<EntryRow>>()
      for (const holdId of holdIds) {
        holdEntries.set(
          holdId,
          yield* ledger.entriesOf(holdAccount(holdId as HoldId), { after: Option.none(), limit: 100 })
        )
      }
      return { audit, holdEntries } satisfies LedgerReport
    }).pipe(
      Effect.provide(
        SettlementLive.pipe(Layer.provideMerge(Layer.merge(storeLayer(location), ServerConfig.layerTest())))
      )
    )
  )

/** A fresh Postgres schema (dropped by `drop`) and the URL whose connections use it. */
export const postgresSchema = async () => {
  const scope = Effect.runSync(Scope.make())
  const { schema, url } = await Effect.runPromise(Scope.extend(freshPostgresSchema, scope))
  return { schema, url, drop: () => Effect.runPromise(Scope.close(scope, Exit.void)) }
}

// --- Logs ----------------------------------------------------------------------------------------

/** The JSON log lines a server wrote (other lines are skipped). */
export const jsonLines = (logs: string) =>
  logs
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .flatMap((line) => {
      try {
        return [
          JSON.parse(line) as { message?: unknown; logLevel?: string; annotations?: Record<string, unknown> }
        ]
      } catch {
        return []
      }
    })
