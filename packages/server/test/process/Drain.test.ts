import { request } from "node:http"
import { connect } from "node:net"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { postgresSkipped } from "../support/Stores"
import {
  bareEnv,
  call,
  ensureBuilt,
  freePort,
  inspectLedger,
  jsonLines,
  key,
  killAll,
  launch,
  postgresSchema,
  register,
  type StoreLocation,
  tempDir,
  waitFor
} from "./support"

beforeAll(() => ensureBuilt("server"))
afterAll(killAll)

/** Whether a new TCP connection to the port is refused (the server has stopped accepting). */
const refused = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = connect({ host: "127.0.0.1", port })
    socket.once("connect", () => {
      socket.destroy()
      resolve(false)
    })
    socket.once("error", () => resolve(true))
  })

const stores: ReadonlyArray<"sqlite" | "postgres"> = postgresSkipped ? ["sqlite"] : ["sqlite", "postgres"]

describe.each(stores)("SIGTERM on %s", (kind) => {
  it("stops accepting, still answers the request in flight, then exits 0", async () => {
    const data = tempDir("drain")
    const pg = kind === "postgres" ? await postgresSchema() : undefined
    const store: StoreLocation =
      pg === undefined ? { kind: "sqlite", dataDir: data.dir } : { kind: "postgres", url: pg.url }
    const storeEnv: Record<string, string> =
      pg === undefined ? { AGENT_MARKETPLACE_DATA_DIR: data.dir } : { AGENT_MARKETPLACE_DATABASE_URL: pg.url }
    try {
      const port = await freePort()
      const env = bareEnv({ ...storeEnv, AGENT_MARKETPLACE_ADDR: `127.0.0.1:${port}` })
      const server = await launch({ env, port })
      expect((await call(server.url, "GET", "/health")).body.store).toBe(kind)
      const token = await register(server.url, "drain-agent")
      const body = JSON.stringify({ amount: 25 })

      // A deposit whose body is held back: `Expect: 100-continue` makes the server confirm it has the
      // request (headers parsed, handler running) before any body byte is sent.
      const req = request({
        host: "127.0.0.1",
        port,
        method: "POST",
        path: "/settlement/deposit",
        agent: false,
        headers: {
          authorization: `Bearer ${token}`,
          "idempotency-key": key("drain"),
          "content-type": "application/json",
          "content-length": Buffer.byteLength(body),
          expect: "100-continue"
        }
      })
      const response = new Promise<{ status: number; text: string }>((resolve, reject) => {
        req.once("response", (res) => {
          let text = ""
          res.setEncoding("utf8")
          res.on("data", (chunk: string) => (text += chunk))
          res.once("end", () => resolve({ status: res.statusCode ?? 0, text }))
          res.once("error", reject)
        })
        req.once("error", reject)
      })
      await new Promise<void>((resolve) => req.once("continue", () => resolve()))

      // SIGTERM while that request is in flight; wait (bounded) until the listener is closed.
      const stopping = server.terminate()
      await waitFor("the server to stop accepting connections", () => refused(port), 10_000)
      expect(server.child.exitCode).toBeNull()

      // Only now the body: the request still completes, with the store still open.
      req.end(body)
      const answer = await response
      expect(answer.status).toBe(200)
      expect(JSON.parse(answer.text)).toMatchObject({ agent_id: "drain-agent", available: 25 })

      const stopped = await stopping
      expect(stopped.code).toBe(0)
      const errors = jsonLines(server.logs()).filter((l) => l.logLevel === "ERROR" || l.logLevel === "FATAL")
      expect(errors).toEqual([])

      // The answered deposit is durable.
      const { audit } = await inspectLedger(store)
      expect(audit.problems).toEqual([])
      expect(audit).toMatchObject({ ok: true, total_deposits: 25, total_available: 25 })
      const again = await launch({ env, port })
      expect((await call(again.url, "GET", "/settlement/balance", { token })).body.available).toBe(25)
      expect((await again.terminate()).code).toBe(0)
    } finally {
      await killAll()
      data.remove()
      await pg?.drop()
    }
  }, 30_000)
})
