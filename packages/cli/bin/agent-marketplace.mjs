#!/usr/bin/env node
// The `agent-marketplace` command: runs the CLI bundle that `npm run build` (the root `prepare`
// script, so also `npm ci`) writes to ../dist/cli.mjs.
import "../dist/cli.mjs"
