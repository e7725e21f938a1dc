#!/usr/bin/env node
import { existsSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join, resolve } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
// Bundles the two deployables into plain JavaScript that runs with `node` (no transpiling loader):
//   packages/server/dist/main.mjs  — platform-server
//   packages/cli/dist/cli.mjs      — the agent-marketplace CLI (+ dist/chunks/, loaded on demand)
import { build } from "esbuild"

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..")
const only = process.argv[2]

const common = {
  bundle: true,
  platform: "node",
  target: "node20",
  format: "esm",
  sourcemap: "linked",
  logLevel: "warning",
  // Native or optional modules stay as runtime imports.
  external: ["better-sqlite3", "pg-native", "cpu-features", "ssh2"],
  // ESM bundles that include CommonJS dependencies need a real `require`.
  banner: {
    js: "import { createRequire as __amCreateRequire } from 'node:module'; const require = __amCreateRequire(import.meta.url);"
  }
}

const cliAlias = Object.fromEntries(
  ["yaml", "toml", "ini"].map((name) => [name, resolve(root, "packages/cli/build/no-config-files.mjs")])
)

/**
 * The CLI's help table (packages/cli/src/HelpTable.ts): every `--help` text and the version, made by
 * running the real renderer (`Cli.helpTable()`) once from a throwaway bundle. The CLI bundle gets it
 * as AGENT_MARKETPLACE_HELP_TABLE, so `--help` is answered without loading the commands.
 */
const cliHelpTable = async () => {
  const dir = mkdtempSync(join(tmpdir(), "agent-marketplace-help-"))
  try {
    const outfile = join(dir, "help-table.mjs")
    await build({
      ...common,
      sourcemap: false,
      stdin: {
        contents: 'export { helpTable } from "./src/Cli.ts"',
        resolveDir: resolve(root, "packages/cli"),
        loader: "ts"
      },
      outfile,
      alias: cliAlias
    })
    const { helpTable } = await import(pathToFileURL(outfile).href)
    return helpTable()
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

const targets = {
  server: {
    entryPoints: [resolve(root, "packages/server/src/main.ts")],
    outfile: resolve(root, "packages/server/dist/main.mjs")
  },
  cli: {
    entryPoints: [resolve(root, "packages/cli/src/bin.ts")],
    // Code loaded only by some commands (age-encryption and its @noble dependencies, behind a
    // dynamic import in `handoff`) goes to separate chunks, so `--help` does not parse it.
    splitting: true,
    outdir: resolve(root, "packages/cli/dist"),
    entryNames: "cli",
    chunkNames: "chunks/[name]-[hash]",
    outExtension: { ".js": ".mjs" },
    // Agents run the CLI often, so start-up matters: minify (V8 parses the bundle on every run) and
    // leave out the yaml/toml/ini parsers @effect/cli carries for config-file options we do not use.
    minify: true,
    alias: cliAlias,
    define: async () => ({ AGENT_MARKETPLACE_HELP_TABLE: JSON.stringify(await cliHelpTable()) })
  }
}

for (const [name, options] of Object.entries(targets)) {
  if (only && only !== name) continue
  if (!existsSync(options.entryPoints[0])) {
    process.stderr.write(`build: skipping ${name}: ${options.entryPoints[0]} does not exist\n`)
    continue
  }
  // Chunk names carry a content hash: drop the previous build's chunks so they do not pile up.
  if (options.splitting) rmSync(resolve(options.outdir, "chunks"), { recursive: true, force: true })
  const { define, ...rest } = options
  await build({ ...common, ...rest, ...(define ? { define: await define() } : {}) })
}
