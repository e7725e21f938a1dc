// `agent-marketplace --help` start-up time: the installed command (bin → bundle), plain node.
import { spawnSync } from "node:child_process"
import { cliBin, median } from "./support.mjs"

export const benchCliHelp = ({ runs = 15 } = {}) => {
  const times = []
  for (let i = 0; i < runs + 2; i++) {
    const started = process.hrtime.bigint()
    const result = spawnSync(process.execPath, [cliBin, "--help"], { encoding: "utf8" })
    const ms = Number(process.hrtime.bigint() - started) / 1e6
    if (result.status !== 0) throw new Error(`--help exited ${result.status}: ${result.stderr}`)
    if (i >= 2) times.push(ms) // the first two warm the file cache
  }
  return { runs, median_ms: median(times), min_ms: Math.min(...times), max_ms: Math.max(...times) }
}
