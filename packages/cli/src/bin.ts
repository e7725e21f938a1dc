#!/usr/bin/env node
import { helpOrVersion } from "./Cli"
import { main } from "./Main"

// The entry module: the only place that touches `process` and the console.
//
// `--help` and `--version` are answered right here, without starting the Effect runtime, because
// agents call them often and they should answer fast. Everything else runs `runCli`, whose value
// is the exit code; an interruption (SIGINT/SIGTERM, e.g. stopping `daemon`) exits 0.
const args = process.argv.slice(2)
const text = helpOrVersion(args)
if (text !== undefined) {
  process.stdout.write(`${text}\n`)
} else {
  main(args, process.stderr)
}
