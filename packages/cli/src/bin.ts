#!/usr/bin/env node
import { helpRequest } from "./Argv"
import { helpText, hoistSpec } from "./Cli"
import { main } from "./Main"

// The entry module: the only place that touches `process` and the console.
//
// `--help` is answered right here, without starting the Effect runtime or loading the HTTP client,
// because agents call it often and it should answer fast. Everything else runs `runCli`, whose value
// is the exit code; an interruption (SIGINT/SIGTERM, e.g. stopping `daemon`) exits 0.
const args = process.argv.slice(2)
const help = helpRequest(args, hoistSpec)
const text = help === undefined ? undefined : helpText(help.command)
if (text !== undefined) {
  process.stdout.write(`${text}\n`)
} else {
  main(args)
}
