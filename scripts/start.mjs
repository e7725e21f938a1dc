#!/usr/bin/env node
// `npm start`: run the built server with plain node, building it first if the bundle is missing or
// older than the sources.
import { spawn, spawnSync } from "node:child_process"
import { existsSync, readdirSync, statSync } from "node:fs"
import { dirname, join, resolve } from "node:path"
import { fileURLToPath } from "node:url"

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..")
const bundle = join(root, "packages/server/dist/main.mjs")

const newestSource = (dir) => {
  let newest = 0
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    newest = Math.max(newest, entry.isDirectory() ? newestSource(path) : statSync(path).mtimeMs)
  }
  return newest
}

const stale =
  !existsSync(bundle) ||
  statSync(bundle).mtimeMs <
    Math.max(newestSource(join(root, "packages/server/src")), newestSource(join(root, "packages/domain/src")))
if (stale) {
  const result = spawnSync(process.execPath, [join(root, "scripts/build.mjs"), "server"], {
    stdio: "inherit"
  })
  if (result.status !== 0) process.exit(result.status ?? 1)
}

const child = spawn(process.execPath, [bundle, ...process.argv.slice(2)], { stdio: "inherit" })
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => child.kill(signal))
child.on("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)))
