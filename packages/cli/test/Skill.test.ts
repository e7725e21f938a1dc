import { readdirSync, readFileSync, statSync } from "node:fs"
import { dirname, join, relative, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import { CliConfig, CommandDescriptor } from "@effect/cli"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { hoistGlobalOptions } from "../src/Argv"
import { command, commandNames, commandPaths, helpText, hoistSpec, subcommands } from "../src/Cli"
import { PlatformLive } from "../src/Live"

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../../..")
const skillDir = join(root, "skills/agent-marketplace")

const markdownFiles = (dir: string): Array<string> =>
  readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    return statSync(path).isDirectory() ? markdownFiles(path) : name.endsWith(".md") ? [path] : []
  })

interface CommandLine {
  readonly file: string
  readonly line: number
  readonly text: string
}

/** Shell-like words (single and double quotes, backslash escapes); stops at a shell operator. */
export const shellWords = (text: string): Array<string> => {
  const words: Array<string> = []
  let word: string | undefined
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!
    if (c === "'" || c === '"') {
      const end = text.indexOf(c, i + 1)
      word = (word ?? "") + text.slice(i + 1, end === -1 ? undefined : end)
      i = end === -1 ? text.length : end
    } else if (c === "\\" && i + 1 < text.length) {
      word = (word ?? "") + text[++i]
    } else if (/\s/.test(c)) {
      if (word !== undefined) words.push(word)
      word = undefined
    } else if ("|;&)<>#".includes(c) && word === undefined) {
      break
    } else {
      word = (word ?? "") + c
    }
  }
  if (word !== undefined) words.push(word)
  return words
}

/**
 * Every `agent-marketplace …` command line of a markdown file: lines of fenced code blocks (with `\`
 * continuations joined) and inline code spans.
 */
export const commandLines = (file: string): Array<CommandLine> => {
  const lines = readFileSync(file, "utf8").split("\n")
  const found: Array<CommandLine> = []
  let inFence = false
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!
    if (raw.trimStart().startsWith("```")) {
      inFence = !inFence
      continue
    }
    if (inFence) {
      let logical = raw
      const start = i
      while (logical.trimEnd().endsWith("\\") && i + 1 < lines.length) {
        logical = `${logical.trimEnd().slice(0, -1).trimEnd()} ${lines[++i]!.trim()}`
      }
      for (const match of logical.matchAll(
        /(?:^|\$\(|[|;&]\s*|^\s*\$\s+)\s*(agent-marketplace(?:\s.*)?)$/gm
      )) {
        found.push({ file, line: start + 1, text: match[1]! })
      }
      continue
    }
    for (const match of raw.matchAll(/`(agent-marketplace(?:\s[^`]*)?)`/g)) {
      found.push({ file, line: i + 1, text: match[1]! })
    }
  }
  return found
}

const globalFlags = new Set([
  "--server",
  "--token",
  "--agent-id",
  "--registration-token",
  "--admin-token",
  "--credentials",
  "--format"
])
const builtInFlags = new Set(["--help", "-h", "--version"])

/** Flags (with aliases) that a command's usage line shows. */
const flagsOf = (name: string): Set<string> =>
  new Set(
    helpText(name)!
      .split("\n")[0]!
      .match(/--[a-z][a-z-]*/g) ?? []
  )

const files = markdownFiles(skillDir)
const all = files.flatMap(commandLines)

describe("the skill matches the CLI", () => {
  it("has SKILL.md with name and description front matter, and both references", () => {
    const skill = readFileSync(join(skillDir, "SKILL.md"), "utf8")
    const front = /^---\n([\s\S]*?)\n---\n/.exec(skill)?.[1] ?? ""
    expect(front).toMatch(/^name: agent-marketplace$/m)
    expect(front).toMatch(/^description: \S.{40,}$/m)
    expect(files.map((f) => relative(skillDir, f)).sort()).toEqual(
      ["SKILL.md", "references/cli.md", "references/handoff.md", "references/protocol.md"].sort()
    )
  })

  it("finds the command lines (continuations joined)", () => {
    expect(all.length).toBeGreaterThan(40)
    const multiLine = all.find((l) => l.text.includes("--payee-agent-id executor-1 --kind execute"))
    expect(multiLine?.text).toContain("agent-marketplace hold --amount 100 --task-id task-1")
  })

  it("every command line names an existing command and only options it has", () => {
    const problems: Array<string> = []
    for (const { file, line, text } of all) {
      const where = `${relative(root, file)}:${line}: ${text}`
      const words = shellWords(text).slice(1)
      const hoisted = hoistGlobalOptions(words, hoistSpec)
      const name = hoisted.find((w, i) => !w.startsWith("-") && !(i > 0 && globalFlags.has(hoisted[i - 1]!)))
      if (name === undefined) {
        if (!words.every((w) => builtInFlags.has(w))) problems.push(`${where}: no command`)
        continue
      }
      if (!commandNames.includes(name)) {
        problems.push(`${where}: unknown command ${name}`)
        continue
      }
      // A command with subcommands (`handoff`) is checked against the subcommand named next.
      const next = hoisted[hoisted.indexOf(name) + 1]
      const path = next !== undefined && commandPaths.includes(`${name} ${next}`) ? `${name} ${next}` : name
      if (
        commandPaths.some((p) => p.startsWith(`${name} `)) &&
        path === name &&
        !words.some((w) => builtInFlags.has(w))
      ) {
        problems.push(`${where}: ${name} needs a subcommand`)
        continue
      }
      const own = flagsOf(path)
      for (const word of words) {
        if (!word.startsWith("-") || word === "-") continue
        const flag = word.split("=")[0]!
        if (!globalFlags.has(flag) && !own.has(flag) && !builtInFlags.has(flag)) {
          problems.push(`${where}: ${path} has no option ${flag}`)
        }
      }
    }
    expect(problems).toEqual([])
  })

  it("every command line parses with the real parser (values, choices, ids, required options)", async () => {
    const config = CliConfig.make({})
    const problems: Array<string> = []
    for (const { file, line, text } of all) {
      const args = hoistGlobalOptions(shellWords(text).slice(1), hoistSpec)
      const outcome = await Effect.runPromise(
        CommandDescriptor.parse(command.descriptor, ["agent-marketplace", ...args], config).pipe(
          Effect.provide(PlatformLive),
          Effect.either
        )
      )
      if (outcome._tag === "Left") {
        problems.push(`${relative(root, file)}:${line}: ${text}: ${JSON.stringify(outcome.left.error)}`)
      } else if (outcome.right._tag === "UserDefined" && outcome.right.leftover.length > 0) {
        problems.push(
          `${relative(root, file)}:${line}: ${text}: leftover ${outcome.right.leftover.join(" ")}`
        )
      }
    }
    expect(problems).toEqual([])
  })

  it("references/cli.md documents every command (nested ones as `handoff send`)", () => {
    const reference = readFileSync(join(skillDir, "references/cli.md"), "utf8")
    const missing = commandPaths.filter((name) => !reference.includes(`| \`${name}`))
    expect(missing).toEqual([])
    expect(subcommands.length).toBe(commandNames.length)
  })
})
