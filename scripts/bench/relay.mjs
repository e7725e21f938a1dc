// Relay upload+download throughput and the server's peak RSS: four concurrent 50 MiB transfers
// (create slot, stream the bytes up, stream them down), in rounds alternating with a bare node:http
// stream pipe (PUT to a file, GET it back) measured in the same run.
import { randomBytes } from "node:crypto"
import { createReadStream, createWriteStream, existsSync, statSync } from "node:fs"
import { request } from "node:http"
import { join } from "node:path"
import { pipeline } from "node:stream/promises"
import { call, median, mib, rssOf, sampleRss } from "./support.mjs"

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
    // A new connection per transfer (agent: false): a kept-alive socket could be closed by the
    // server's idle timeout just as a transfer took it, and a streamed body cannot be sent again.
    const req = request(url, {
      agent: false,
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
    const req = request(url, { agent: false, method: "GET", headers })
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

/** One round of `TRANSFERS` concurrent `transfer(i)`s: its throughput and the RSS of process `pid`. */
const round = async (pid, transfer) => {
  const idle = rssOf(pid)
  const sampler = sampleRss(pid)
  const secs = await timed(() => Promise.all(Array.from({ length: TRANSFERS }, (_, i) => transfer(i))))
  const peak = sampler.stop()
  return {
    mib_per_sec: mib(2 * TRANSFERS * SIZE) / secs,
    rss_idle_mib: mib(idle),
    rss_peak_mib: mib(peak),
    rss_growth_mib: mib(peak - idle)
  }
}

/** Through the server: create a slot, stream the blob up, stream it down. */
const serverRound = (server, path) =>
  round(server.pid, async () => {
    const slot = await call(server.url, "POST", "/relay", {
      body: { size_bytes: SIZE, max_downloads: 1 },
      key: false
    })
    await put(`${server.url}/relay/${slot.relay_id}`, path, { "relay-token": slot.upload_token })
    await get(`${server.url}/relay/${slot.relay_id}`, { "relay-token": slot.download_token })
  })

/** The bare pipe: PUT to a file, GET it back. */
const baselineRound = (baseline, path) =>
  round(baseline.pid, async (i) => {
    await put(`${baseline.url}/blob/t${i}`, path, {})
    await get(`${baseline.url}/blob/t${i}`, {})
  })

const pause = () => new Promise((r) => setTimeout(r, 1000))

/**
 * The bare pipe, then a round through the server right after start-up ("cold": its growth includes
 * the one-time cost of compiling the transfer path and sizing the heap), then `rounds` warm rounds a
 * second apart, each beside a bare-pipe round ("warm": the steady state of a server that has served
 * transfers and is idle again). Throughput is the median of the warm rounds and of the bare rounds
 * (one round of a 2-core machine shared with the database and the load swings by a third); the warm
 * RSS figures are those of the round that grew most.
 */
export const benchRelay = async ({ server, baseline, blobDir, rounds = 3 }) => {
  const path = await ensureBlob(blobDir)
  const firstBaseline = await baselineRound(baseline, path)
  const cold = await serverRound(server, path)
  const bare = [firstBaseline.mib_per_sec]
  const warms = []
  for (let i = 0; i < rounds; i++) {
    await pause()
    if (i > 0) bare.push((await baselineRound(baseline, path)).mib_per_sec)
    warms.push(await serverRound(server, path))
  }
  const warm = warms.reduce((a, b) => (b.rss_growth_mib > a.rss_growth_mib ? b : a))
  return {
    transfers: TRANSFERS,
    size_mib: mib(SIZE),
    rounds,
    baseline_mib_per_sec: median(bare),
    baseline_rounds_mib_per_sec: bare,
    baseline_rss_growth_mib: firstBaseline.rss_growth_mib,
    server_mib_per_sec: median(warms.map((w) => w.mib_per_sec)),
    server_rounds_mib_per_sec: warms.map((w) => w.mib_per_sec),
    cold,
    warm,
    rss_idle_mib: cold.rss_idle_mib,
    rss_peak_mib: Math.max(cold.rss_peak_mib, ...warms.map((w) => w.rss_peak_mib)),
    rss_growth_mib: cold.rss_growth_mib
  }
}
