import { describe, expect, it } from "vitest"
import { commandNames, commandPaths } from "../src/Cli"
import { runPromise } from "./support/Cli"

describe("--help", () => {
  it("the root help lists every command (nested ones as `handoff send`) with its summary", async () => {
    const result = await runPromise(["--help"])
    expect(result.code).toBe(0)
    for (const name of commandPaths) expect(result.stdout).toMatch(new RegExp(`^  ${name} +\\S`, "m"))
    expect(commandPaths).toContain("handoff send")
    expect(commandPaths).toContain("handoff receive")
    expect(result.stdout).toContain("--registration-token")
    expect(result.stdout.includes(String.fromCharCode(27))).toBe(false) // plain text, no ANSI codes
  })

  it.each([...new Set([...commandNames, ...commandPaths])])(
    "%s --help runs and shows a description, its options and an example",
    async (name) => {
      const result = await runPromise([...name.split(" "), "--help"])
      expect(result.code).toBe(0)
      expect(result.stderr).toBe("")
      expect(result.stdout).toContain(`Usage: agent-marketplace [global options] ${name}`)
      expect(result.stdout).toMatch(/Examples?:\n {2}agent-marketplace /)
      const example = /Examples?:\n {2}(agent-marketplace [^\n]*)/.exec(result.stdout)![1]!
      expect(example).toContain(` ${name}`)
      // The description is more than the usage line.
      const description = result.stdout.split("\n\n")[1] ?? ""
      expect(description.length).toBeGreaterThan(20)
    }
  )

  it("works with global options around it and with -h", async () => {
    const result = await runPromise(["--server", "http://x", "hold", "-h", "--format", "table"])
    expect(result.code).toBe(0)
    expect(result.stdout).toContain("--payee-agent-id")
  })

  it("a nested command's help shows its own options; the parent's lists its subcommands", async () => {
    const send = await runPromise(["--server", "http://x", "handoff", "send", "--help"])
    expect(send.stdout).toMatch(/^Usage: agent-marketplace \[global options\] handoff send --file/)
    expect(send.stdout).toContain("--envelope-out")
    const receive = await runPromise(["handoff", "receive", "-h", "--server", "http://x"])
    expect(receive.stdout).toContain("--identity-file")
    const parent = await runPromise(["handoff", "--help"])
    expect(parent.stdout).toMatch(
      /^Usage: agent-marketplace \[global options\] handoff <send\|receive> \[options\]/
    )
    expect(parent.stdout).toMatch(/^ {2}handoff send +\S/m)
    expect(parent.stdout).toMatch(/^ {2}handoff receive +\S/m)
  })

  it("--version prints the version", async () => {
    const result = await runPromise(["--version"])
    expect(result.code).toBe(0)
    expect(result.stdout).toBe("0.1.0")
  })
})
