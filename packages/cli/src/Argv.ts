/**
 * Argv normalisation that runs before `@effect/cli` parses.
 *
 * `@effect/cli` only parses a parent command's options *before* the subcommand name, while the CLI
 * spec lets people put global options before or after it (`agent-marketplace register --server URL
 * ...` and `agent-marketplace --server URL register ...` must both work). So:
 *
 * - a known global option found after the command name is moved in front of it (with its value),
 *   unless the subcommand declares an option of the same name itself (`register --agent-id` is
 *   register's own option);
 * - a per-command option that is written before the command name (`--idempotency-key K deposit`) is
 *   moved after it.
 *
 * Everything after a literal `--` is left alone.
 */

/** Options of the root command; every one takes a value. */
export const GLOBAL_VALUE_OPTIONS: ReadonlyArray<string> = [
  "server",
  "token",
  "agent-id",
  "registration-token",
  "admin-token",
  "credentials",
  "format"
]

/** Options that belong to subcommands but may be written before the command name. */
export const LOWERED_VALUE_OPTIONS: ReadonlyArray<string> = ["idempotency-key"]

/** Built-in `@effect/cli` options that take a value (so their value is not mistaken for a command). */
const BUILTIN_VALUE_OPTIONS: ReadonlyArray<string> = ["log-level", "completions"]

export interface HoistSpec {
  readonly globals: ReadonlyArray<string>
  readonly lowered: ReadonlyArray<string>
  /** Options a subcommand declares itself; those are never hoisted out of it. */
  readonly ownedBy: Readonly<Record<string, ReadonlyArray<string>>>
  /** Commands with subcommands of their own (`handoff` → `send`, `receive`). */
  readonly nested?: Readonly<Record<string, ReadonlyArray<string>>>
}

const optionName = (token: string): string | undefined => {
  if (!token.startsWith("--") || token === "--") return undefined
  const eq = token.indexOf("=")
  return eq === -1 ? token.slice(2) : token.slice(2, eq)
}

const hasInlineValue = (token: string) => token.includes("=")

/**
 * Reorders `args` (the arguments after the executable, i.e. `process.argv.slice(2)`) so that global
 * options come before the command name and per-command options after it.
 */
export const hoistGlobalOptions = (args: ReadonlyArray<string>, spec: HoistSpec): Array<string> => {
  const valueTakers = new Set([...spec.globals, ...spec.lowered, ...BUILTIN_VALUE_OPTIONS])
  const globals = new Set(spec.globals)
  const lowered = new Set(spec.lowered)

  // 1. Find the command name: the first bare word that is not the value of an option.
  const before: Array<string> = []
  const moveDown: Array<string> = []
  let commandIndex = -1
  for (let i = 0; i < args.length; i++) {
    const token = args[i]!
    if (token === "--") break
    const name = optionName(token)
    if (name !== undefined) {
      const takesValue = valueTakers.has(name) && !hasInlineValue(token) && i + 1 < args.length
      const group = lowered.has(name) ? moveDown : before
      group.push(token)
      if (takesValue) {
        group.push(args[i + 1]!)
        i++
      }
      continue
    }
    if (token.startsWith("-")) {
      before.push(token)
      continue
    }
    commandIndex = i
    break
  }
  if (commandIndex === -1) return [...args]

  const command = args[commandIndex]!
  // Own keys only: a command line is not to reach `Object.prototype` (`constructor`, `__proto__`).
  const owned = new Set(Object.hasOwn(spec.ownedBy, command) ? spec.ownedBy[command] : [])

  // 2. After the command name: pull global options up, keep everything else in order.
  const moveUp: Array<string> = []
  const after: Array<string> = []
  const rest: Array<string> = []
  for (let i = commandIndex + 1; i < args.length; i++) {
    const token = args[i]!
    if (token === "--") {
      rest.push(...args.slice(i))
      break
    }
    const name = optionName(token)
    if (name !== undefined && globals.has(name) && !owned.has(name)) {
      moveUp.push(token)
      if (!hasInlineValue(token) && i + 1 < args.length) {
        moveUp.push(args[i + 1]!)
        i++
      }
      continue
    }
    after.push(token)
  }
  return [...before, ...moveUp, command, ...after, ...moveDown, ...rest]
}

/**
 * If the command line asks for help (`--help`/`-h` before any `--`), which command it is for:
 * `{ command: undefined }` for the root, the command name otherwise (`handoff send` for a nested
 * one); `undefined` when no help is asked.
 */
export const helpRequest = (
  args: ReadonlyArray<string>,
  spec: HoistSpec
): { readonly command: string | undefined } | undefined => {
  const end = args.indexOf("--")
  const head = end === -1 ? args : args.slice(0, end)
  if (!head.includes("--help") && !head.includes("-h")) return undefined
  const hoisted = hoistGlobalOptions(
    head.filter((a) => a !== "--help" && a !== "-h"),
    spec
  )
  const valueTakers = new Set([...spec.globals, ...spec.lowered, ...BUILTIN_VALUE_OPTIONS])
  for (let i = 0; i < hoisted.length; i++) {
    const token = hoisted[i]!
    const name = optionName(token)
    if (name !== undefined) {
      if (valueTakers.has(name) && !hasInlineValue(token)) i++
      continue
    }
    if (token.startsWith("-")) continue
    const next = hoisted[i + 1]
    const nested = spec.nested !== undefined && Object.hasOwn(spec.nested, token) ? spec.nested[token]! : []
    return next !== undefined && nested.includes(next) ? { command: `${token} ${next}` } : { command: token }
  }
  return { command: undefined }
}

/** `--version` on its own (no command): answered without the parser. */
export const versionRequest = (args: ReadonlyArray<string>): boolean =>
  args.length === 1 && args[0] === "--version"
