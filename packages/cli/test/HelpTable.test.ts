import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { commandNames, commandPaths, helpOrVersion, helpTable } from "../src/Cli"
import { answerFrom } from "../src/HelpTable"

/**
 * `bin.ts` answers `--help` and `--version` from the table the build embeds (`Cli.helpTable()`), not
 * from the parser: the table must give exactly what `helpOrVersion` gives, for every command line.
 * (`e2e/HelpFastPath.test.ts` checks the built bundle prints the same.)
 */

const table = helpTable()

describe("the help table", () => {
  it("holds the root's and every command's help (nested ones as `handoff send`), and the version", () => {
    expect(Object.keys(table.texts).sort()).toEqual(
      ["", ...new Set([...commandNames, ...commandPaths])].sort()
    )
    expect(table.texts[""]).toBe(helpOrVersion(["--help"]))
    expect(table.texts["handoff send"]).toBe(helpOrVersion(["handoff", "send", "--help"]))
    expect(table.version).toBe(helpOrVersion(["--version"]))
  })

  it("a command named like an Object.prototype member is an unknown command, not a crash", () => {
    for (const name of ["constructor", "__proto__", "toString"]) {
      expect(helpOrVersion([name, "--help"])).toBeUndefined()
      expect(answerFrom(table, [name, "--help"])).toBeUndefined()
    }
  })

  it("survives the JSON round trip the build puts it through", () => {
    expect(JSON.parse(JSON.stringify(table))).toEqual(table)
  })

  it.each([
    [["--help"]],
    [["-h"]],
    [["--version"]],
    [["--server", "http://x", "hold", "-h", "--format", "table"]],
    [["handoff", "receive", "-h", "--server", "http://x"]],
    [["--format=table", "admin", "invite", "--help"]],
    [["register", "--agent-id", "a", "--help"]],
    [["--server", "register", "--help"]],
    [["nosuch", "--help"]],
    [["constructor", "--help"]],
    [["__proto__", "--help"]],
    [["whoami"]],
    [[]],
    [["--", "--help"]],
    [["deposit", "--amount", "1", "--", "-h"]],
    [["--version", "whoami"]]
  ])("answers %j as the parser's path does", (args) => {
    expect(answerFrom(table, args)).toBe(helpOrVersion(args))
  })

  it("answers every command line as the parser's path does (random command lines)", () => {
    const token = fc.oneof(
      fc.constantFrom(...commandNames, "send", "receive", "invite", "audit", "nosuch", "toString"),
      fc.constantFrom("--help", "-h", "--version", "--", "--server", "--format=table", "--agent-id"),
      fc.constantFrom("--idempotency-key", "--log-level", "--amount", "--task-id", "x", "1", "-v")
    )
    fc.assert(
      fc.property(fc.array(token, { maxLength: 7 }), (args) => {
        expect(answerFrom(table, args)).toBe(helpOrVersion(args))
      }),
      { numRuns: 2000 }
    )
  })
})
