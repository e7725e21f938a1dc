#!/usr/bin/env node
import { answerFrom, type HelpTable } from "./HelpTable"

// The entry module: the only place that touches `process` and the console.
//
// `--help` (of the root and of every command) and `--version` are answered right here from the help
// table that `scripts/build.mjs` generates with the real help renderer and substitutes for
// AGENT_MARKETPLACE_HELP_TABLE, so they load neither the commands nor the Effect runtime: agents
// call them often and they should answer fast. Everything else (and everything when run unbundled,
// without a table) imports `Main` and runs `runCli`, whose value is the exit code; an interruption
// (SIGINT/SIGTERM, e.g. stopping `daemon`) exits 0.
declare const AGENT_MARKETPLACE_HELP_TABLE: HelpTable | undefined

const args = process.argv.slice(2)
const table = typeof AGENT_MARKETPLACE_HELP_TABLE === "undefined" ? undefined : AGENT_MARKETPLACE_HELP_TABLE
const text = table === undefined ? undefined : answerFrom(table, args)
if (text !== undefined) {
  process.stdout.write(`${text}\n`)
} else {
  const { main } = await import("./Main")
  main(args, process.stderr)
}
