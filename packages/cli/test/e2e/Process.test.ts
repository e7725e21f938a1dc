import { execFile } from "node:child_process"
import { copyFileSync, mkdirSync, mkdtempSync, realpathSync } from "node:fs"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { beforeAll, describe, expect, it } from "vitest"
import {
  cleanEnv,
  cliBin,
  ensureBuilt,
  freePort,
  root,
  runCli,
  spawnCli,
  waitFor
} from "../support/Processes"

/** The built CLI as a real process: the bin link, exit codes, signals. */

const home = mkdtempSync(join(tmpdir(), "am-proc-"))

beforeAll(() => ensureBuilt("cli"), 180_000)

describe("the installed command", () => {
  it("node_modules/.bin/agent-marketplace is the committed bin file, and --help answers", async () => {
    expect(realpathSync(join(root, "node_modules/.bin/agent-marketplace"))).toBe(realpathSync(cliBin))
    const result = await runCli(["--help"], cleanEnv(home))
    expect(result.code).toBe(0)
    expect(result.stdout).toMatch(/^agent-marketplace 0\.1\.0\n/)
    expect(result.stdout).toContain("  discover ")
  })

  it("without a build, the bin says what to run (exit 4) instead of a stack trace", async () => {
    const copy = mkdtempSync(join(tmpdir(), "am-nobuild-"))
    mkdirSync(join(copy, "bin"))
    copyFileSync(cliBin, join(copy, "bin/agent-marketplace.mjs"))
    const result = await new Promise<{ code: number | null; stderr: string }>((resolvePromise) => {
      execFile(
        process.execPath,
        [join(copy, "bin/agent-marketplace.mjs"), "--help"],
        (error, _stdout, stderr) =>
          resolvePromise({ code: error === null ? 0 : (error.code as number), stderr })
      )
    })
    expect(result.code).toBe(4)
    expect(JSON.parse(result.stderr)).toMatchObject({ _tag: "CliNotBuiltError" })
    expect(result.stderr).toContain("npm run build")
  })

  it("an unreachable server: exit 3, one JSON error naming the URL, nothing on stdout", async () => {
    const port = await freePort()
    const result = await runCli(
      ["discover", "--capability", "code-review", "--server", `http://127.0.0.1:${port}`],
      cleanEnv(home, { AGENT_MARKETPLACE_RETRY_SECS: "1" })
    )
    expect(result.code).toBe(3)
    expect(result.stdout).toBe("")
    const error = JSON.parse(result.stderr.trim().split("\n").at(-1)!)
    expect(error._tag).toBe("ServerUnreachableError")
    expect(error.message).toContain(`http://127.0.0.1:${port}`)
  })

  it("a usage error exits 2", async () => {
    const result = await runCli(["deposit", "--amount", "lots"], cleanEnv(home))
    expect(result.code).toBe(2)
  })

  it("the daemon exits 0 on SIGTERM and on SIGINT", async () => {
    const server = createServer((req, res) => {
      req.resume()
      req.on("end", () => {
        res.writeHead(200, { "content-type": "application/json" })
        res.end(JSON.stringify({ agent_id: "a-1", outcome: "updated", timeout_ms: 45_000 }))
      })
    })
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r))
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    try {
      for (const signal of ["SIGTERM", "SIGINT"] as const) {
        const daemon = spawnCli(
          ["daemon", "--interval", "1", "--server", url, "--token", "t"],
          cleanEnv(home)
        )
        await waitFor("the first heartbeat", () => daemon.output.stderr.includes("is online"))
        daemon.child.kill(signal)
        expect(await daemon.exited).toBe(0)
        expect(daemon.output.stdout).toBe("")
      }
    } finally {
      server.closeAllConnections()
      await new Promise<void>((r) => server.close(() => r()))
    }
  }, 60_000)
})
