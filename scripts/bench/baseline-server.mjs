#!/usr/bin/env node
// The bare node:http baseline of the benchmarks, run as its own process like the server under test:
//   POST /agents/heartbeat → the same small JSON a heartbeat answers (no auth, no store);
//   PUT /blob/{id}        → streams the body to a file in $BENCH_BLOB_DIR (relay upload baseline);
//   GET /blob/{id}        → streams that file back (relay download baseline).
import { createReadStream, createWriteStream, statSync } from "node:fs"
import { createServer } from "node:http"
import { join } from "node:path"
import { pipeline } from "node:stream/promises"

const blobDir = process.env.BENCH_BLOB_DIR ?? "/tmp"
const body = JSON.stringify({ agent_id: "agent-x", outcome: "updated", timeout_ms: 45000 })

const server = createServer(async (req, res) => {
  try {
    if (req.method === "POST" && req.url === "/agents/heartbeat") {
      req.resume()
      req.on("end", () => {
        res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) })
        res.end(body)
      })
      return
    }
    const blob = /^\/blob\/([A-Za-z0-9_-]+)$/.exec(req.url ?? "")
    if (blob && req.method === "PUT") {
      await pipeline(req, createWriteStream(join(blobDir, `${blob[1]}.bin`)))
      res.writeHead(200, { "content-type": "application/json" })
      res.end("{}")
      return
    }
    if (blob && req.method === "GET") {
      const path = join(blobDir, `${blob[1]}.bin`)
      res.writeHead(200, {
        "content-type": "application/octet-stream",
        "content-length": statSync(path).size
      })
      await pipeline(createReadStream(path), res)
      return
    }
    res.writeHead(404)
    res.end()
  } catch (error) {
    res.destroy(error)
  }
})

server.listen(Number(process.env.PORT ?? 0), "127.0.0.1", () => {
  process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`)
})
process.on("SIGTERM", () => server.close(() => process.exit(0)))
