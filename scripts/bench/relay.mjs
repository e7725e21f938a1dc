// Relay upload+download throughput and the server's peak RSS: four concurrent 50 MiB transfers
// (create slot, stream the bytes up, stream them down), beside a bare node:http stream pipe (PUT to
// a file, GET it back) measured in the same run.
import { randomBytes } from "node:crypto"
import { createReadStream, createWriteStream, existsSync, statSync } from "node:fs"
import { request } from "node:http"
import { join } from "node:path"
import { pipeline } from "node:stream/promises"
import { call, mib, rssOf, sampleRss } from "./support.mjs"

const SIZE = 50 * 1024 * 1024
const TRANSFERS = 4

const ensureBlob = async (dir) => {
  const path = join(dir, "payload-50mib.bin")
  if (existsSync(path) && statSync(path).size === SIZE) return path
  const out = createWriteStream(path)
  for (let written = 0; written < SIZE; written += 1024 * 1024) {
    if (!out.write(randomBytes(1024 * 1024))) await new Promise((r) => out.once("drain", r))
  }
  await new Promise((r, j) => out.end((e) => (e ? j(e) : r())))
  return path
}

const put = (url, path, headers) =>
  new Promise((resolvePut, reject) => {
    const req = request(url, {
      method: "PUT",
      headers: { "content-type": "application/octet-stream", "content-length": SIZE, ...headers }
    })
    req.on("response", (res) => {
      let body = ""
      res.on("data", (c) => (body += c))
      res.on("end", () =>
        res.statusCode === 200 ? resolvePut(body) : reject(new Error(`PUT ${res.statusCode} ${body}`))
      )
    })
    req.on("error", reject)
    pipeline(createReadStream(path), req).catch(reject)
  })

const get = (url, headers) =>
  new Promise((resolveGet, reject) => {
    const req = request(url, { method: "GET", headers })
    req.on("response", (res) => {
      if (res.statusCode !== 200) return reject(new Error(`GET ${res.statusCode}`))
      let bytes = 0
      res.on("data", (c) => (bytes += c.length))
      res.on("end", () => (bytes === SIZE ? resolveGet(bytes) : reject(new Error(`GET got ${bytes} bytes`))))
      res.on("error", reject)
    })
    req.on("error", reject)
    req.end()
  })

const timed = async (f) => {
  const started = process.hrtime.bigint()
  await f()
  return Number(process.hrtime.bigint() - started) / 1e9
}

/** One round: four concurrent transfers through the server; its time and the server's RSS. */
const serverRound = async (server, path) => {
  const idle = rssOf(server.pid)
  const sampler = sampleRss(server.pid)
  const secs = await timed(() =>
    Promise.all(
      Array.from({ length: TRANSFERS }, async () => {
        const slot = await call(server.url, "POST", "/relay", {
          body: { size_bytes: SIZE, max_downloads: 1 },
          key: false
        })
        await put(`${server.url}/relay/${slot.relay_id}`, path, { "relay-token": slot.upload_token })
        await get(`${server.url}/relay/${slot.relay_id}`, { "relay-token": slot.download_token })
      })
    )
  )
  const peak = sampler.stop()
  return {
    mib_per_sec: mib(2 * TRANSFERS * SIZE) / secs,
    rss_idle_mib: mib(idle),
    rss_peak_mib: mib(peak),
    rss_growth_mib: mib(peak - idle)
  }
}

/**
 * The bare pipe, then two rounds through the server: the first right after start-up ("cold": its
 * growth includes the one-time cost of compiling the transfer path and sizing the heap), the second
 * a second later ("warm": the steady state of a server that has served transfers and is idle again).
 */
export const benchRelay = async ({ server, baseline, blobDir }) => {
  const path = await ensureBlob(blobDir)
  const moved = 2 * TRANSFERS * SIZE

  const baselineIdle = rssOf(baseline.pid)
  const baselineSampler = sampleRss(baseline.pid)
  const baselineSecs = await timed(() =>
    Promise.all(
      Array.from({ length: TRANSFERS }, async (_, i) => {
        await put(`${baseline.url}/blob/t${i}`, path, {})
        await get(`${baseline.url}/blob/t${i}`, {})
      })
    )
  )
  const baselinePeak = baselineSampler.stop()

  const cold = await serverRound(server, path)
  await new Promise((r) => setTimeout(r, 1000))
  const warm = await serverRound(server, path)
  return {
    transfers: TRANSFERS,
    size_mib: mib(SIZE),
    baseline_mib_per_sec: mib(moved) / baselineSecs,
    baseline_rss_growth_mib: mib(baselinePeak - baselineIdle),
    server_mib_per_sec: warm.mib_per_sec,
    cold,
    warm,
    rss_idle_mib: cold.rss_idle_mib,
    rss_peak_mib: Math.max(cold.rss_peak_mib, warm.rss_peak_mib),
    rss_growth_mib: cold.rss_growth_mib
  }
}
