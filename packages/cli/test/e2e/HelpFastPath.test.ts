import { execFile } from "node:child_process"
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join, relative } from "node:path"
import { beforeAll, describe, expect, it } from "vitest"
import { commandNames, commandPaths, helpOrVersion } from "../../src/Cli"
import { cleanEnv, cliBin, ensureBuilt, root, runCli } from "../support/Processes"

/**
 * The built CLI answers `--help` and `--version` from the help table embedded at build time
 * (`scripts/build.mjs`), without loading the commands or the runtime: run from a copy of only the
 * modules the entry imports statically, every help text is exactly what the parser's path
 * (`helpOrVersion`, from the sources) prints.
 */

const dist = join(root, "packages/cli/dist")
const home = mkdtempSync(join(tmpdir(), "am-help-"))

/** `dist/cli.mjs` and the chunks it imports statically, transitively (not its `import()`s). */
const staticClosure = (): Array<string> => {
  const seen = new Set<string>()
  const visit = (file: string) => {
    if (seen.has(file)) return
    seen.add(file)
    const code = readFileSync(file, "utf8")
    for (const match of code.matchAll(
      /(?:^|[;\s}])(?:import|export)\s*(?:[^"'`()]*?from\s*)?["'](\.\.?\/[^"']+)["']/g
    )) {
      visit(join(dirname(file), match[1]!))
    }
  }
  visit(join(dist, "cli.mjs"))
  return [...seen]
}

const run = (entry: string, args: ReadonlyArray<string>) =>
  new Promise<{ code: number; stdout: string; stderr: string }>((resolvePromise) => {
    execFile(
      process.execPath,
      [entry, ...args],
      { env: cleanEnv(home), timeout: 30_000 },
      (error, stdout, stderr) =>
        resolvePromise({
          code: error === null ? 0 : typeof error.code === "number" ? error.code : 1,
          stdout,
          stderr
        })
    )
  })

/** Runs `f` over `items`, `limit` at a time. */
const pool = async <A, B>(items: ReadonlyArray<A>, limit: number, f: (a: A) => Promise<B>) => {
  const results: Array<B> = []
  let next = 0
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) {
        const index = next++
        results[index] = await f(items[index]!)
      }
    })
  )
  return results
}

let copy = ""
let closure: Array<string> = []

beforeAll(() => {
  ensureBuilt("cli")
  closure = staticClosure()
  copy = mkdtempSync(join(tmpdir(), "am-help-entry-"))
  for (const file of closure) {
    const target = join(copy, relative(dist, file))
    mkdirSync(dirname(target), { recursive: true })
    copyFileSync(file, target)
  }
}, 180_000)

describe("--help and --version of the built CLI", () => {
  it("the entry's static imports leave out the commands and the runtime", async () => {
    const loaded = closure.reduce((n, file) => n + readFileSync(file).length, 0)
    const main = readFileSync(join(dist, "cli.mjs"), "utf8").match(/import\("\.\/(chunks\/Main-[^"]+)"\)/)
    expect(main).not.toBeNull()
    expect(closure.map((f) => relative(dist, f))).not.toContain(main![1])
    // Without the rest of the bundle, anything but help and version cannot run.
    const whoami = await run(join(copy, "cli.mjs"), ["whoami"])
    expect(whoami.code).not.toBe(0)
    expect(whoami.stderr).toContain("ERR_MODULE_NOT_FOUND")
    expect(loaded).toBeLessThan(200 * 1024)
  })

  it("prints exactly the parser's help for the root and every command, and the version", async () => {
    const cases: Array<Array<string>> = [
      ["--help"],
      ["-h"],
      ["--version"],
      ["--server", "http://x", "hold", "-h", "--format", "table"],
      ...[...new Set([...commandNames, ...commandPaths])].map((name) => [...name.split(" "), "--help"])
    ]
    const results = await pool(cases, 4, (args) => run(join(copy, "cli.mjs"), args))
    cases.forEach((args, i) => {
      const expected = helpOrVersion(args)
      expect(expected, args.join(" ")).toBeDefined()
      expect({ args, ...results[i] }).toEqual({ args, code: 0, stdout: `${expected}\n`, stderr: "" })
    })
  })

  it("the installed command answers the same", async () => {
    expect(cliBin.endsWith("agent-marketplace.mjs")).toBe(true)
    const result = await runCli(["handoff", "send", "--help"], cleanEnv(home))
    expect(result).toEqual({
      code: 0,
      stdout: `${helpOrVersion(["handoff", "send", "--help"])}\n`,
      stderr: ""
    })
  })
})
