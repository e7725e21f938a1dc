import { existsSync } from "node:fs"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  bareEnv,
  call,
  ensureBuilt,
  freePort,
  inspectLedger,
  key,
  killAll,
  launch,
  register,
  root,
  tempDir
} from "./support"

beforeAll(() => ensureBuilt("server"))
afterAll(killAll)

describe("npm start's default store", () => {
  it("keeps agents, tokens, balances, holds and idempotency records across kill -9", async () => {
    const data = tempDir("persist")
    const port = await freePort()
    // `npm start` with no store configured: only where to keep data and where to listen.
    const env = bareEnv({
      AGENT_MARKETPLACE_DATA_DIR: data.dir,
      AGENT_MARKETPLACE_ADDR: `127.0.0.1:${port}`
    })
    const start = () => launch({ command: [process.execPath, join(root, "scripts/start.mjs")], env, port })
    try {
      const first = await start()
      const base = first.url
      const health = await call(base, "GET", "/health")
      expect(health.body.store).toBe("sqlite")
      expect(existsSync(join(data.dir, "marketplace.sqlite"))).toBe(true)

      const buyer = await register(base, "persist-buyer")
      const executor = await register(base, "persist-executor")
      const depositKey = key("deposit")
      const deposit = await call(base, "POST", "/settlement/deposit", {
        token: buyer,
        key: depositKey,
        body: { amount: 100 }
      })
      expect(deposit.status).toBe(200)
      const task = await call(base, "POST", "/tasks", { token: buyer, key: key("task") })
      expect(task.status).toBe(201)
      const session = await call(base, "POST", "/sessions", {
        token: buyer,
        key: key("session"),
        body: { task_id: task.body.task_id }
      })
      expect(session.status).toBe(201)
      const assignment = await call(base, "POST", "/assignments", {
        token: buyer,
        key: key("assignment"),
        body: {
          task_id: task.body.task_id,
          session_id: session.body.session_id,
          agent_id: "persist-executor",
          kind: "execute"
        }
      })
      expect(assignment.status).toBe(201)
      const holdKey = key("hold")
      const holdBody = {
        amount: 40,
        task_id: task.body.task_id,
        assignment_id: assignment.body.assignment_id,
        payee_agent_id: "persist-executor",
        kind: "execute"
      }
      const hold = await call(base, "POST", "/settlement/hold", {
        token: buyer,
        key: holdKey,
        body: holdBody
      })
      expect(hold.status).toBe(201)

      const killed = await first.kill9()
      expect(killed.signal).toBe("SIGKILL")

      const second = await start()
      // The agents are listed and their tokens still authenticate.
      const listed = await call(second.url, "GET", "/agents?limit=1000")
      expect(listed.status).toBe(200)
      const ids = listed.body.items.map((a: { agent_id: string }) => a.agent_id)
      expect(ids).toEqual(expect.arrayContaining(["persist-buyer", "persist-executor"]))
      const me = await call(second.url, "GET", "/agents/me", { token: buyer })
      expect(me.status).toBe(200)
      expect(me.body.agent_id).toBe("persist-buyer")
      expect((await call(second.url, "GET", "/agents/me", { token: executor })).body.agent_id).toBe(
        "persist-executor"
      )

      // Balance and hold.
      const balance = await call(second.url, "GET", "/settlement/balance", { token: buyer })
      expect(balance.body).toMatchObject({ available: 60, held_as_payer: 40 })
      const holds = await call(second.url, "GET", "/settlement/holds?role=payer", { token: buyer })
      expect(holds.body.items).toEqual([hold.body])

      // Idempotency records: the same key and body replay the stored bytes (the deposit's stored
      // answer still says 100 available, which a re-execution could not) and move no money.
      const depositAgain = await call(second.url, "POST", "/settlement/deposit", {
        token: buyer,
        key: depositKey,
        body: { amount: 100 }
      })
      expect(depositAgain.status).toBe(200)
      expect(depositAgain.text).toBe(deposit.text)
      const holdAgain = await call(second.url, "POST", "/settlement/hold", {
        token: buyer,
        key: holdKey,
        body: holdBody
      })
      expect(holdAgain.status).toBe(201)
      expect(holdAgain.text).toBe(hold.text)
      // The same key with another body is refused: the record, not luck, made the replay.
      const reused = await call(second.url, "POST", "/settlement/deposit", {
        token: buyer,
        key: depositKey,
        body: { amount: 101 }
      })
      expect(reused.status).toBe(422)
      const after = await call(second.url, "GET", "/settlement/balance", { token: buyer })
      expect(after.body).toMatchObject({ available: 60, held_as_payer: 40 })

      const stopped = await second.terminate()
      expect(stopped.code).toBe(0)
      const { audit } = await inspectLedger({ kind: "sqlite", dataDir: data.dir })
      expect(audit.problems).toEqual([])
      expect(audit).toMatchObject({ ok: true, total_deposits: 100, total_available: 60, total_held: 40 })
    } finally {
      await killAll()
      data.remove()
    }
  }, 60_000)
})
