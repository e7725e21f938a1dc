// Preloaded into a CLI child process (`node --import`): on exit, writes its peak resident set size
// (KiB, from process.resourceUsage) to $AM_MAX_RSS_FILE, so e2e tests can check memory stays bounded.
import { writeFileSync } from "node:fs"

const target = process.env.AM_MAX_RSS_FILE
if (target) process.on("exit", () => writeFileSync(target, String(process.resourceUsage().maxRSS)))
