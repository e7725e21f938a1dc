import { existsSync, mkdtempSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { cleanEnv, ensureBuilt, runCli, type StartedServer, startServer } from "../support/Processes"

/** The skill's "Local smoke test" section, run as written (server URL and file path substituted). */

const skill = resolve(
  dirname(fileURLToPath(import.meta.url)),
  "../../../../skills/agent-marketplace/SKILL.md"
)

const smokeTestLines = (): Array<string> => {
  const text = readFileSync(skill, "utf8")
  const section = text.slice(text.indexOf("## 9. Local smoke test"))
  const block = /```bash\n([\s\S]*?)```/.exec(section)?.[1] ?? ""
  return block.split("\n").filter((line) => line.startsWith("agent-marketplace "))
}

let server: StartedServer
beforeAll(async () => {
  ensureBuilt("server")
  ensureBuilt("cli")
  server = await startServer({ AGENT_MARKETPLACE_REGISTRATION_TOKEN: "secret" })
}, 180_000)
afterAll(() => server?.stop())

describe("the skill's local smoke test", () => {
  it("runs as written: every step exits 0 with JSON, discover finds the agent, the file is deleted", async () => {
    const dir = mkdtempSync(join(tmpdir(), "am-smoke-"))
    const credentials = join(dir, "am-smoke.json")
    const lines = smokeTestLines()
    expect(lines.length).toBeGreaterThanOrEqual(6)
    const outputs: Record<string, any> = {}
    for (const line of lines) {
      const concrete = line
        .replaceAll("http://127.0.0.1:8080", server.url)
        .replaceAll("/tmp/am-smoke.json", credentials)
      const args = concrete.split(" ").slice(1)
      const result = await runCli(args, cleanEnv(dir))
      expect(result.code, `${concrete}\n${result.stderr}\n${server.logs()}`).toBe(0)
      const command = args.find((a, i) => !a.startsWith("-") && !args[i - 1]?.startsWith("--"))!
      outputs[command] = JSON.parse(result.stdout)
    }
    expect(outputs.health).toMatchObject({ ok: true })
    expect(outputs.register).toMatchObject({ agent_id: "smoke-agent", outcome: "registered" })
    expect(outputs.discover.items.map((c: any) => c.agent_id)).toContain("smoke-agent")
    expect(outputs.balance).toMatchObject({ agent_id: "smoke-agent", available: 10 })
    expect(outputs.deregister).toEqual({ deregistered: true })
    expect(existsSync(credentials)).toBe(false)
  }, 120_000)
})
