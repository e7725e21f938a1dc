#!/usr/bin/env node
// The `agent-marketplace` command: runs the CLI bundle that `npm run build` (also the root `prepare`
// script, so `npm ci`) writes to ../dist/cli.mjs.
import { fileURLToPath } from "node:url"

const bundle = new URL("../dist/cli.mjs", import.meta.url)
try {
  await import(bundle.href)
} catch (error) {
  if (error?.code === "ERR_MODULE_NOT_FOUND" && String(error.message).includes(fileURLToPath(bundle))) {
    process.stderr.write(
      `${JSON.stringify({ _tag: "CliNotBuiltError", message: `${fileURLToPath(bundle)} is missing: run \`npm run build\` (or \`npm ci\`) in the repository` })}\n`
    )
    process.exit(4)
  }
  throw error
}
