/**
 * Key-bound agents over HTTP (identity spec): registration with a public key, RFC 9421 signed
 * requests and every way one can be tampered with, the ±60 s window (TestClock), nonce replays on one
 * server and across two servers on one Postgres schema, bearer tokens of key-bound agents, key
 * rotation, re-registration, and a nonce store that fails (the request fails with it).
 */
import { createServer } from "node:http"
import { HttpServer } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Layer, Option, Redacted, TestClock } from "effect"
import { Heartbeat } from "../../src/heartbeat/Heartbeat"
import * as LaneHttpServer from "../../src/http/LaneHttpServer"
import { Identity } from "../../src/identity/Identity"
import { NonceRepo } from "../../src/identity/NonceRepo"
import { ServerConfig } from "../../src/platform/ServerConfig"
import { StorePostgresLive } from "../../src/platform/StoreLayers"
import { AppLive, StoreMemoryLive } from "../../src/ServerLive"
import { type RawResponse, send } from "../support/Edge"
import { anonClient, clientFor, freshKey, registerAgent, START, withServer } from "../support/Harness"
import {
  generateKey,
  type KeyPair,
  registerKeyed,
  type SignedInit,
  signedClientFor,
  signRaw,
  toInit
} from "../support/Keys"
import { freshPostgresSchema, postgresSkipped, type StoreCase } from "../support/Stores"

const sendSigned = (signed: SignedInit) => send(...toInit(signed))

const expectStatus = (res: RawResponse, status: number, tag?: string) => {
  expect({ status: res.status, tag: res.json?._tag }).toEqual({ status, tag: tag ?? res.json?._tag })
  if (tag !== undefined) expect(typeof res.json.message).toBe("string")
}

const deposit = (amount: number, key = freshKey()) => ({
  method: "POST",
  target: "/settlement/deposit",
  headers: { "idempotency-key": key },
  body: JSON.stringify({ amount })
})

const balanceOf = (id: string, key: KeyPair) =>
  Effect.flatMap(signedClientFor(id, key), (c) => Effect.map(c.settlement.balance(), (b) => b.available))

describe("key-bound registration", () => {
  it.scoped("register with public_key: no token, signed requests work, unsigned ones are refused", () =>
    withServer(
      Effect.gen(function* () {
        const buyer = yield* registerKeyed("buyer")
        expect(buyer.token).toBeNull()
        const me = yield* buyer.client.agents.me()
        expect(me.agent_id).toBe("buyer")
        const balance = yield* buyer.client.settlement.deposit({
          headers: { "idempotency-key": freshKey() },
          payload: { amount: 40 }
        })
        expect(balance.available).toBe(40)
        // An unsigned request is refused with the bearer answer.
        expectStatus(yield* send("/agents/me", {}), 401, "AuthenticationFailedError")
      })
    )
  )

  it.scoped("a malformed or unusable public key is a 400 and registers nothing", () =>
    withServer(
      Effect.gen(function* () {
        for (const public_key of ["short", `${"A".repeat(42)}B`, "x".repeat(43), `${"A".repeat(43)}=`]) {
          const res = yield* send("/agents/register", {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ agent_id: "bad-key", public_key })
          })
          expect(res.status).toBe(400)
        }
        const anon = yield* anonClient
        const page = yield* anon.agents.list({ urlParams: { include_deregistered: true } })
        expect(page.items.map((a) => a.agent_id)).not.toContain("bad-key")
      })
    )
  )

  it.scoped("a key-bound agent's bearer token is refused; with allow_bearer both credentials work", () =>
    withServer(
      Effect.gen(function* () {
        const both = yield* registerKeyed("both", { allowBearer: true })
        expect(both.token).toMatch(/^agent-token-[0-9a-f]{64}$/)
        const bearer = yield* clientFor(both.token!)
        expect((yield* bearer.agents.me()).agent_id).toBe("both")
        expect((yield* both.client.agents.me()).agent_id).toBe("both")

        // A bearer agent that binds a key by re-registering (with its token) loses its bearer tokens.
        const plain = yield* registerAgent("plain")
        const key = generateKey()
        const res = yield* send("/agents/register", {
          method: "POST",
          headers: { "content-type": "application/json", authorization: `Bearer ${plain.token}` },
          body: JSON.stringify({ agent_id: "plain", public_key: key.publicKey })
        })
        expect(res.json).toMatchObject({ agent_id: "plain", outcome: "updated", token: null })
        const refused = yield* send("/agents/me", { headers: { authorization: `Bearer ${plain.token}` } })
        expectStatus(refused, 401, "AuthenticationFailedError")
        // Even a token that is not revoked does not work for a key-bound agent without allow_bearer.
        const stray = yield* (yield* Identity).issue(plain.id)
        const strayRes = yield* send("/agents/me", { headers: { authorization: `Bearer ${stray}` } })
        expectStatus(strayRes, 401, "AuthenticationFailedError")
        expect(strayRes.json.message).toContain("key-bound")
        expect((yield* (yield* signedClientFor("plain", key)).agents.me()).agent_id).toBe("plain")
        // rotate-token is for bearer agents: a key-only agent has no token to rotate.
        const rotate = yield* sendSigned(
          yield* signRaw({ method: "POST", target: "/agents/rotate-token" }, "plain", key)
        )
        expectStatus(rotate, 403, "PermissionDeniedError")
      })
    )
  )
})

describe("signed requests", () => {
  it.scoped("a valid signed mutation succeeds; each tampered part makes it fail", () =>
    withServer(
      Effect.gen(function* () {
        const buyer = yield* registerKeyed("buyer")
        const other = generateKey()
        const ok = yield* signRaw(deposit(5), "buyer", buyer.key)
        expectStatus(yield* sendSigned(ok), 200)

        // Body changed after signing, digest left as signed: the body does not match its digest (400).
        const body = yield* signRaw(deposit(5), "buyer", buyer.key)
        expectStatus(
          yield* sendSigned({ ...body, body: JSON.stringify({ amount: 500 }) }),
          400,
          "InputInvalidError"
        )
        // Body and digest both changed: the signature covers the digest (401).
        const redigested = yield* signRaw(deposit(500), "buyer", buyer.key)
        const both = yield* signRaw(deposit(5), "buyer", buyer.key)
        expectStatus(
          yield* sendSigned({
            ...both,
            body: redigested.body,
            headers: { ...both.headers, "content-digest": redigested.headers["content-digest"]! }
          }),
          401,
          "AuthenticationFailedError"
        )
        // Path: signed for deposit, sent to withdraw.
        const path = yield* signRaw(deposit(5), "buyer", buyer.key)
        expectStatus(
          yield* sendSigned({ ...path, target: "/settlement/withdraw" }),
          401,
          "AuthenticationFailedError"
        )
        // Idempotency key changed.
        const key = yield* signRaw(deposit(5), "buyer", buyer.key)
        expectStatus(
          yield* sendSigned({ ...key, headers: { ...key.headers, "idempotency-key": freshKey() } }),
          401,
          "AuthenticationFailedError"
        )
        // Idempotency key sent but not covered.
        const uncovered = yield* signRaw({ ...deposit(5), headers: {} }, "buyer", buyer.key)
        expectStatus(
          yield* sendSigned({
            ...uncovered,
            headers: { ...uncovered.headers, "idempotency-key": freshKey() }
          }),
          401,
          "AuthenticationFailedError"
        )
        // Method: signed as GET /tasks, sent as POST /tasks (same headers).
        const method = yield* signRaw(
          { method: "GET", target: "/tasks", headers: { "idempotency-key": freshKey() } },
          "buyer",
          buyer.key
        )
        expectStatus(yield* sendSigned({ ...method, method: "POST" }), 401, "AuthenticationFailedError")
        // Query: signed for role=publisher, sent with role=participant.
        const query = yield* signRaw({ method: "GET", target: "/tasks?role=publisher" }, "buyer", buyer.key)
        expectStatus(yield* sendSigned(query), 200)
        const query2 = yield* signRaw({ method: "GET", target: "/tasks?role=publisher" }, "buyer", buyer.key)
        expectStatus(
          yield* sendSigned({ ...query2, target: "/tasks?role=participant" }),
          401,
          "AuthenticationFailedError"
        )
        // Another key under the buyer's id; a corrupted signature; an unknown keyid.
        expectStatus(
          yield* sendSigned(yield* signRaw(deposit(5), "buyer", other)),
          401,
          "AuthenticationFailedError"
        )
        // The signature bytes of another request by the same key.
        const corrupt = yield* signRaw(deposit(5), "buyer", buyer.key)
        const donor = yield* signRaw(deposit(6), "buyer", buyer.key)
        expectStatus(
          yield* sendSigned({
            ...corrupt,
            headers: { ...corrupt.headers, signature: donor.headers.signature! }
          }),
          401,
          "AuthenticationFailedError"
        )
        expectStatus(
          yield* sendSigned(yield* signRaw(deposit(5), "nobody", other)),
          401,
          "AuthenticationFailedError"
        )
        // Only the first deposit happened.
        expect(yield* balanceOf("buyer", buyer.key)).toBe(5)
      })
    )
  )

  it.scoped("a replayed request (same nonce) is refused, even with a fresh Idempotency-Key", () =>
    withServer(
      Effect.gen(function* () {
        const buyer = yield* registerKeyed("buyer")
        const signed = yield* signRaw(deposit(7), "buyer", buyer.key)
        expectStatus(yield* sendSigned(signed), 200)
        const replay = yield* sendSigned(signed)
        expectStatus(replay, 401, "AuthenticationFailedError")
        expect(replay.json.message).toContain("nonce")
        // Same nonce, otherwise a new request: still refused.
        const again = yield* signRaw(deposit(7), "buyer", buyer.key, {
          nonce: signed.headers["signature-input"]!.match(/nonce="([^"]+)"/)![1]!
        })
        expectStatus(yield* sendSigned(again), 401, "AuthenticationFailedError")
        expect(yield* balanceOf("buyer", buyer.key)).toBe(7)
      })
    )
  )

  it.scoped("created more than 60 s from the server clock is refused, either way (TestClock)", () =>
    withServer(
      Effect.gen(function* () {
        const buyer = yield* registerKeyed("buyer")
        const now = START / 1000
        for (const created of [now - 61, now + 61]) {
          const res = yield* sendSigned(yield* signRaw(deposit(1), "buyer", buyer.key, { created }))
          expectStatus(res, 401, "AuthenticationFailedError")
          expect(res.json.message).toContain("60 s")
        }
        for (const created of [now - 60, now + 60]) {
          expectStatus(yield* sendSigned(yield* signRaw(deposit(1), "buyer", buyer.key, { created })), 200)
        }
        // Signed now, delivered 61 s later.
        const late = yield* signRaw(deposit(1), "buyer", buyer.key)
        yield* TestClock.adjust("61 seconds")
        expectStatus(yield* sendSigned(late), 401, "AuthenticationFailedError")
        expect(yield* balanceOf("buyer", buyer.key)).toBe(2)
      })
    )
  )

  it.scoped("the sweep collects nonces once they can no longer be replayed", () =>
    withServer(
      Effect.gen(function* () {
        const buyer = yield* registerKeyed("buyer")
        yield* buyer.client.agents.me()
        const heartbeat = yield* Heartbeat
        expect((yield* heartbeat.sweep).noncesCollected).toBe(0)
        yield* TestClock.adjust("121 seconds")
        expect((yield* heartbeat.sweep).noncesCollected).toBe(1)
      }),
      // No background sweep in between: this test runs the sweep itself.
      { sweepIntervalMs: 3_600_000 }
    )
  )
})

describe("rotation and re-registration", () => {
  it.scoped("rotate-key signed by the old key: the old key fails afterwards, the new one works", () =>
    withServer(
      Effect.gen(function* () {
        const agent = yield* registerKeyed("worker")
        const next = generateKey()
        const listing = yield* agent.client.agents.rotateKey({ payload: { public_key: next.publicKey } })
        expect(listing.agent_id).toBe("worker")
        expectStatus(
          yield* sendSigned(yield* signRaw({ method: "GET", target: "/agents/me" }, "worker", agent.key)),
          401,
          "AuthenticationFailedError"
        )
        expect((yield* (yield* signedClientFor("worker", next)).agents.me()).agent_id).toBe("worker")
        // A bearer token (allow_bearer) cannot rotate the key; a bad key is a 400.
        const both = yield* registerKeyed("both", { allowBearer: true })
        const viaBearer = yield* send("/agents/rotate-key", {
          method: "POST",
          headers: { authorization: `Bearer ${both.token}`, "content-type": "application/json" },
          body: JSON.stringify({ public_key: next.publicKey })
        })
        expectStatus(viaBearer, 403, "PermissionDeniedError")
        const bad = yield* sendSigned(
          yield* signRaw(
            { method: "POST", target: "/agents/rotate-key", body: JSON.stringify({ public_key: "nope" }) },
            "worker",
            next
          )
        )
        expect(bad.status).toBe(400)
      })
    )
  )

  it.scoped("re-registering a key-bound id needs its key's signature or the registration token", () =>
    withServer(
      Effect.gen(function* () {
        const owner = yield* registerKeyed("owner")
        const thief = yield* registerKeyed("thief")
        const body = JSON.stringify({ agent_id: "owner", name: "taken" })
        const register = (headers: Record<string, string> = {}) =>
          send("/agents/register", {
            method: "POST",
            headers: { "content-type": "application/json", ...headers },
            body
          })
        // No proof; another agent's signature; the owner's id with another key; a bearer token of
        // someone else.
        expectStatus(yield* register(), 403, "PermissionDeniedError")
        const byThief = yield* signRaw(
          { method: "POST", target: "/agents/register", body },
          "thief",
          thief.key
        )
        expectStatus(yield* sendSigned(byThief), 403, "PermissionDeniedError")
        const forged = yield* signRaw(
          { method: "POST", target: "/agents/register", body },
          "owner",
          thief.key
        )
        expectStatus(yield* sendSigned(forged), 401, "AuthenticationFailedError")
        const bearerAgent = yield* registerAgent("bearer-agent")
        expectStatus(
          yield* register({ authorization: `Bearer ${bearerAgent.token}` }),
          403,
          "PermissionDeniedError"
        )
        expect((yield* owner.client.agents.me()).name).toBeNull()

        // The owner's own signature: updated, still no token, the key unchanged.
        const own = yield* sendSigned(
          yield* signRaw({ method: "POST", target: "/agents/register", body }, "owner", owner.key)
        )
        expect(own.json).toMatchObject({ agent_id: "owner", outcome: "updated", token: null })
        expect((yield* owner.client.agents.me()).name).toBe("taken")

        // Deregistered: the bound key still proves the id.
        yield* owner.client.agents.deregister()
        expectStatus(yield* register(), 403, "PermissionDeniedError")
        const back = yield* sendSigned(
          yield* signRaw({ method: "POST", target: "/agents/register", body }, "owner", owner.key)
        )
        expect(back.json).toMatchObject({ outcome: "re_registered", lifecycle: "registered", token: null })

        // Operator recovery of a lost key: the registration token binds a new key; the old one fails.
        const recovered = generateKey()
        const recovery = yield* send("/agents/register", {
          method: "POST",
          headers: { "content-type": "application/json", "registration-token": "operator-secret" },
          body: JSON.stringify({ agent_id: "owner", public_key: recovered.publicKey })
        })
        expect(recovery.json).toMatchObject({ outcome: "updated", token: null })
        expectStatus(
          yield* sendSigned(yield* signRaw({ method: "GET", target: "/agents/me" }, "owner", owner.key)),
          401,
          "AuthenticationFailedError"
        )
        expect((yield* (yield* signedClientFor("owner", recovered)).agents.me()).agent_id).toBe("owner")
      }),
      // The operator's secret (the admin token is accepted wherever the registration token is).
      { adminToken: Option.some(Redacted.make("operator-secret")) }
    )
  )
})

describe("the nonce store fails closed", () => {
  const failingNonces: StoreCase = {
    name: "memory",
    layer: () =>
      Layer.merge(
        StoreMemoryLive,
        Layer.succeed(NonceRepo, {
          insert: () => Effect.dieMessage("nonce store unreachable"),
          deleteExpired: () => Effect.succeed(0)
        })
      )
  }

  it.scoped("a signed request whose nonce cannot be recorded is a 500 and has no effect", () =>
    withServer(
      Effect.gen(function* () {
        const buyer = yield* registerKeyed("buyer")
        const res = yield* sendSigned(yield* signRaw(deposit(9), "buyer", buyer.key))
        expectStatus(res, 500)
        expect(JSON.stringify(res.json)).not.toContain("nonce store unreachable")
      }),
      {},
      failingNonces
    )
  )
})

describe.skipIf(postgresSkipped)("two servers on one Postgres schema", () => {
  /** A whole server on the shared schema, on its own port; its base URL. */
  const replica = (url: string) =>
    Effect.gen(function* () {
      const context = yield* Layer.build(
        AppLive(StorePostgresLive(Redacted.make(url))).pipe(
          Layer.provideMerge(LaneHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" })),
          Layer.provideMerge(ServerConfig.layerTest({ store: "postgres" }))
        )
      )
      const address = Context.get(context, HttpServer.HttpServer).address
      if (address._tag !== "TcpAddress") return yield* Effect.dieMessage("not a TCP server")
      return `http://127.0.0.1:${address.port}`
    })

  const sendTo = (base: string, signed: SignedInit) =>
    Effect.promise(async (): Promise<RawResponse> => {
      const [target, init] = toInit(signed)
      const res = await fetch(`${base}${target}`, init)
      const text = await res.text()
      return {
        status: res.status,
        contentType: res.headers.get("content-type"),
        text,
        json: JSON.parse(text)
      }
    })

  it.scoped("a request replayed to the other replica is refused (the nonce store is shared)", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(START)
      const { url } = yield* freshPostgresSchema
      const a = yield* replica(url)
      const b = yield* replica(url)
      const key = generateKey()
      const registered = yield* Effect.promise(() =>
        fetch(`${a}/agents/register`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ agent_id: "buyer", public_key: key.publicKey })
        }).then((r) => r.json())
      )
      expect(registered).toMatchObject({ agent_id: "buyer", token: null })
      const signed = yield* signRaw(deposit(11), "buyer", key)
      expectStatus(yield* sendTo(a, signed), 200)
      const replay = yield* sendTo(b, signed)
      expectStatus(replay, 401, "AuthenticationFailedError")
      expect(replay.json.message).toContain("nonce")
      // The other direction, and a fresh request on B works.
      const second = yield* signRaw(deposit(11), "buyer", key)
      expectStatus(yield* sendTo(b, second), 200)
      expectStatus(yield* sendTo(a, second), 401, "AuthenticationFailedError")
      const balance = yield* sendTo(
        a,
        yield* signRaw({ method: "GET", target: "/settlement/balance" }, "buyer", key)
      )
      expect(balance.json.available).toBe(22)
    })
  )
})
