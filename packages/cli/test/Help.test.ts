import { describe, expect, it } from "vitest"
import { commandNames } from "../src/Cli"
import { runPromise } from "./support/Cli"

describe("--help", () => {
  it("the root help lists every command with its summary", async () => {
    const result = await runPromise(["--help"])
    expect(result.code).toBe(0)
    for (const name of commandNames) expect(result.stdout).toMatch(new RegExp(`^  ${name} `, "m"))
    expect(result.stdout).toContain("--registration-token")
    expect(result.stdout.includes(String.fromCharCode(27))).toBe(false) // plain text, no ANSI codes
  })

  it.each(commandNames)(
    "%s --help runs and shows a description, its options and an example",
    async (name) => {
      const result = await runPromise([name, "--help"])
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

  it("--version prints the version", async () => {
    const result = await runPromise(["--version"])
    expect(result.code).toBe(0)
    expect(result.stdout).toBe("0.1.0")
  })
})
