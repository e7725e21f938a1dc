/**
 * Every authenticated endpoint of `MarketplaceApi` (found by reflection) × {no credential, revoked
 * credentials, another agent's credential, the right credential}, and every admin endpoint × {no
 * admin token, a wrong one, an agent's token, the right one}, over raw HTTP against the real server
 * on the memory store, with real objects in every path parameter.
 * The relay's slot operations take no bearer token but the slot's own `Relay-Token`: every wrong
 * credential gets the one identical 404.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import {
  callEndpoint,
  calls,
  edgeConfig,
  type Fixture,
  fillPath,
  type RawResponse,
  type ReflectedEndpoint,
  type Role,
  reflectedEndpoints,
  send,
  setupFixture,
  setupFixtureWith,
  snapshot,
  tokenOf
} from "../support/Edge"
import { freshKey, type ServerServices, withServer as withServerOn } from "../support/Harness"
import { type KeyPair, type SignedInit, signRaw, toInit } from "../support/Keys"

/** The harness server with an admin token (`edgeConfig`), so the admin endpoints answer too. */
const withServer = <A, E>(body: Effect.Effect<A, E, ServerServices>) => withServerOn(body, edgeConfig)

/** Denied: the domain answers 404 for objects the caller may not see, 403 when it sees but may not act. */
interface Denied {
  readonly as: Role
  readonly status: 403 | 404
}

/**
 * Self-scoped endpoints address no object: the credential is the subject, so another agent's
 * token acts on that agent's own account (`status`, `check`) and leaves the owner's state alone.
 */
interface Own {
  readonly status: number
  readonly check?: (body: any, f: Fixture) => void
}

type Row = { readonly denied: ReadonlyArray<Denied> } | { readonly own: Own }

const stranger404: Denied = { as: "stranger", status: 404 }
const as403 = (as: Role): Denied => ({ as, status: 403 })
const isStranger = (body: any, f: Fixture) => expect(body.agent_id).toBe(f.stranger.id)
const noItems = (body: any) => expect(body.items).toEqual([])

/** The authorization matrix: one row per authenticated endpoint. */
const matrix: Record<string, Row> = {
  "agents.rotateToken": {
    own: {
      status: 200,
      check: (body, f) => {
        expect(body.token).toMatch(/^agent-token-[0-9a-f]{64}$/)
        expect([f.buyer.token, f.stranger.token]).not.toContain(body.token)
      }
    }
  },
  // Bearer: refused to everyone (403). Signed: the stranger rotates its own key.
  "agents.rotateKey": { own: { status: 403 } },
  "agents.declareCapabilities": { own: { status: 200, check: isStranger } },
  "agents.heartbeat": { own: { status: 200, check: isStranger } },
  "agents.deregister": { own: { status: 200, check: (body) => expect(body.deregistered).toBe(true) } },
  "agents.me": { own: { status: 200, check: isStranger } },
  "agents.assignments": { denied: [{ as: "stranger", status: 403 }, as403("buyer")] },
  "tasks.create": { own: { status: 201, check: (body, f) => expect(body.publisher).toBe(f.stranger.id) } },
  "tasks.list": { own: { status: 200, check: noItems } },
  "tasks.get": { denied: [stranger404] },
  "tasks.addParticipant": { denied: [stranger404, as403("executor")] },
  "tasks.complete": { denied: [stranger404, as403("executor")] },
  "tasks.cancel": { denied: [stranger404, as403("executor")] },
  "sessions.create": { denied: [stranger404, as403("executor")] },
  "sessions.close": { denied: [stranger404, as403("executor")] },
  "assignments.create": { denied: [stranger404, as403("executor")] },
  "assignments.get": { denied: [stranger404] },
  "assignments.reviewAssignments": { denied: [stranger404] },
  "assignments.cancel": { denied: [stranger404, as403("executor"), as403("reviewer")] },
  "assignments.decline": { denied: [stranger404, as403("buyer"), as403("reviewer")] },
  "assignments.outputReady": { denied: [stranger404, as403("buyer"), as403("reviewer")] },
  "assignments.reject": { denied: [stranger404, as403("executor"), as403("reviewer")] },
  "reviews.request": { denied: [stranger404, as403("executor")] },
  "reviews.get": { denied: [stranger404] },
  "reviews.byAssignment": { denied: [stranger404] },
  "reviews.submitVerdict": { denied: [stranger404, as403("executor"), as403("buyer")] },
  "settlement.deposit": { own: { status: 200, check: isStranger } },
  "settlement.withdraw": {
    // The stranger's own (empty) balance is what is short.
    own: { status: 409, check: (body) => expect(body).toMatchObject({ _tag: "BalanceInsufficientError" }) }
  },
  "settlement.hold": { denied: [stranger404, as403("executor")] },
  "settlement.refund": { denied: [stranger404, as403("executor")] },
  "settlement.releaseExecute": { denied: [stranger404, as403("executor")] },
  "settlement.releaseReview": { denied: [stranger404, as403("reviewer")] },
  "settlement.balance": {
    own: {
      status: 200,
      check: (body, f) => expect(body).toMatchObject({ agent_id: f.stranger.id, available: 0 })
    }
  },
  "settlement.holds": { own: { status: 200, check: noItems } },
  "settlement.ledger": { own: { status: 200, check: noItems } }
}

/**
 * The operator's endpoints (`Admin-Token`), each × {no admin token, a wrong one, an agent's bearer
 * token (also presented as the admin token), the right one}: the first three are a 401 that changes
 * nothing, the last the call's success. No agent credential opens any of them.
 */
const adminEndpoints = [
  "admin.createInvite",
  "admin.approve",
  "admin.suspend",
  "admin.unsuspend",
  "admin.deposit",
  "admin.agents",
  "admin.onlineAgents",
  "admin.tasks",
  "admin.task",
  "admin.ledger",
  "admin.audit",
  "admin.agentLedger"
]

/** The endpoints that take no credential. */
const openEndpoints = [
  "system.health",
  "system.ready",
  "agents.register",
  "agents.list",
  "agents.discover",
  "relay.create"
]

/** The endpoints that take a relay slot's token instead of a bearer token. */
const relayTokenEndpoints = ["relay.upload", "relay.download", "relay.delete"]

const expectError = (res: RawResponse, status: number, tag: string) => {
  expect({ status: res.status, tag: res.json?._tag }).toEqual({ status, tag })
  expect(res.contentType).toContain("application/json")
  expect(typeof res.json.message).toBe("string")
}

const authenticated = reflectedEndpoints.filter((e) => e.authenticated)
const relayScoped = reflectedEndpoints.filter((e) => e.relayToken)

const row = (endpoint: ReflectedEndpoint) => {
  const r = matrix[endpoint.key]
  const call = calls[endpoint.key]
  if (r === undefined || call === undefined) {
    throw new Error(
      `${endpoint.key} (${endpoint.method} ${endpoint.path}) is not in the authorization matrix`
    )
  }
  return { r, call }
}

describe("authorization matrix", () => {
  it("has exactly one row per authenticated endpoint, and only the known endpoints are open", () => {
    expect(authenticated.map((e) => e.key).sort()).toEqual(Object.keys(matrix).sort())
    expect(
      reflectedEndpoints
        .filter((e) => !e.authenticated && !e.admin && !e.relayToken)
        .map((e) => e.key)
        .sort()
    ).toEqual([...openEndpoints].sort())
    expect(
      reflectedEndpoints
        .filter((e) => e.admin)
        .map((e) => e.key)
        .sort()
    ).toEqual([...adminEndpoints].sort())
    expect(reflectedEndpoints.filter((e) => e.admin && e.authenticated)).toEqual([])
    expect(relayScoped.map((e) => e.key).sort()).toEqual([...relayTokenEndpoints].sort())
    expect(relayScoped.filter((e) => e.authenticated || e.admin)).toEqual([])
  })

  for (const endpoint of authenticated) {
    it.scoped(`${endpoint.key}: ${endpoint.method} ${endpoint.path}`, () =>
      withServer(
        Effect.gen(function* () {
          const { r, call } = row(endpoint)
          if (call.as === "anonymous" || call.as === "operator")
            throw new Error(`${endpoint.key} is authenticated but not called as an agent`)
          const f = yield* setupFixture
          if (call.prepare) yield* call.prepare(f)
          const owner = f[call.as]
          const before = yield* snapshot(f, { withStranger: true })
          const beforeOwn = yield* snapshot(f, { withStranger: false })

          // No credential, a token rotated away, a deregistered agent's token, an unknown token: 401.
          const none = yield* callEndpoint(endpoint, call, f, undefined)
          expectError(none, 401, "AuthenticationFailedError")
          for (const token of [owner.revoked, f.leaverToken, `agent-token-${"0".repeat(64)}`]) {
            expectError(yield* callEndpoint(endpoint, call, f, token), 401, "AuthenticationFailedError")
          }
          expect(yield* snapshot(f, { withStranger: true })).toEqual(before)

          // Another agent's token.
          if ("denied" in r) {
            for (const denied of r.denied) {
              const res = yield* callEndpoint(endpoint, call, f, f[denied.as].token)
              expectError(
                res,
                denied.status,
                denied.status === 403 ? "PermissionDeniedError" : "ObjectNotFoundError"
              )
            }
            expect(yield* snapshot(f, { withStranger: true })).toEqual(before)
          } else {
            const res = yield* callEndpoint(endpoint, call, f, f.stranger.token)
            expect(res.status).toBe(r.own.status)
            r.own.check?.(res.json, f)
            expect(yield* snapshot(f, { withStranger: false })).toEqual(beforeOwn)
          }

          // The right token gets past authentication and authorization (rotate-key excepted: a
          // bearer token never rotates a key, a 403 for everyone).
          const res = yield* callEndpoint(endpoint, call, f, tokenOf(f, call.as))
          if (endpoint.key !== "agents.rotateKey") expect([401, 403]).not.toContain(res.status)
          expect({ status: res.status, tag: res.json?._tag }).toEqual({
            status: call.success.status,
            tag: call.success.tag
          })
        })
      )
    )
  }

  for (const endpoint of reflectedEndpoints.filter((e) => e.admin)) {
    it.scoped(`${endpoint.key}: ${endpoint.method} ${endpoint.path} (operator)`, () =>
      withServer(
        Effect.gen(function* () {
          const call = calls[endpoint.key]
          if (call === undefined || call.as !== "operator") {
            throw new Error(`${endpoint.key} has no operator call in test/support/Edge.ts`)
          }
          const f = yield* setupFixture
          const before = yield* snapshot(f, { withStranger: true })
          const refused = [
            yield* callEndpoint(endpoint, call, f, undefined),
            yield* callEndpoint(endpoint, call, f, "not-the-admin-token"),
            yield* callEndpoint(endpoint, call, f, `${tokenOf(f, "operator")}x`),
            // An agent's token, as the admin token and as a bearer token.
            yield* callEndpoint(endpoint, call, f, f.buyer.token),
            yield* send(`${fillPath(endpoint.path, call.params?.(f) ?? {})}${call.query ?? ""}`, {
              method: endpoint.method,
              headers: {
                authorization: `Bearer ${f.buyer.token}`,
                ...(endpoint.idempotent ? { "idempotency-key": "matrix-bearer" } : {}),
                ...(call.body ? { "content-type": "application/json" } : {})
              },
              body: call.body ? JSON.stringify(call.body(f)) : undefined
            })
          ]
          for (const res of refused) expectError(res, 401, "AuthenticationFailedError")
          expect(yield* snapshot(f, { withStranger: true })).toEqual(before)

          const res = yield* callEndpoint(endpoint, call, f, tokenOf(f, "operator"))
          expect({ status: res.status, tag: res.json?._tag }).toEqual({
            status: call.success.status,
            tag: call.success.tag
          })
        })
      )
    )
  }

  it.scoped("the open endpoints answer without a credential", () =>
    withServer(
      Effect.gen(function* () {
        const f = yield* setupFixture
        for (const endpoint of reflectedEndpoints.filter(
          (e) => !e.authenticated && !e.admin && !e.relayToken
        )) {
          const res = yield* callEndpoint(endpoint, calls[endpoint.key]!, f, undefined)
          expect({ endpoint: endpoint.key, status: res.status }).toEqual({
            endpoint: endpoint.key,
            status: calls[endpoint.key]!.success.status
          })
        }
      })
    )
  )

  for (const endpoint of relayScoped) {
    it.scoped(`${endpoint.key}: ${endpoint.method} ${endpoint.path} answers only its slot's token`, () =>
      withServer(
        Effect.gen(function* () {
          const call = calls[endpoint.key]
          if (call === undefined || call.headers === undefined || call.params === undefined) {
            throw new Error(`${endpoint.key} has no relay call in test/support/Edge.ts`)
          }
          const f = yield* setupFixture
          const relayId = call.params(f).relay_id!
          const slot = [f.relayCreated, f.relayUploaded].find((s) => s.relay_id === relayId)!
          const right = call.headers(f)["relay-token"]!
          // The slot's other token, and another slot's token of the right kind.
          const otherKind = right === slot.upload_token ? slot.download_token : slot.upload_token
          const otherSlot =
            right === slot.upload_token ? f.relayOther.upload_token : f.relayOther.download_token
          const before = yield* snapshot(f, { withStranger: true })

          const refused: Array<[string, Effect.Effect<RawResponse, never, any>]> = [
            ["no token", callEndpoint(endpoint, call, f, undefined, undefined, {})],
            ["an empty token", callEndpoint(endpoint, call, f, undefined, undefined, { "relay-token": "" })],
            [
              "an unknown token",
              callEndpoint(endpoint, call, f, undefined, undefined, {
                "relay-token": `relay-token-${"0".repeat(64)}`
              })
            ],
            [
              "the slot's other token",
              callEndpoint(endpoint, call, f, undefined, undefined, { "relay-token": otherKind })
            ],
            [
              "another slot's token",
              callEndpoint(endpoint, call, f, undefined, undefined, { "relay-token": otherSlot })
            ],
            ["a bearer token instead", callEndpoint(endpoint, call, f, f.buyer.token, undefined, {})],
            [
              "an agent token as Relay-Token",
              callEndpoint(endpoint, call, f, undefined, undefined, { "relay-token": f.buyer.token })
            ],
            [
              "a wrong Admin-Token",
              callEndpoint(endpoint, call, f, undefined, undefined, { "admin-token": "guess" })
            ],
            [
              "the right token on an unknown slot id",
              callEndpoint(
                endpoint,
                { ...call, params: () => ({ relay_id: `relay_${"A".repeat(22)}` }) },
                f,
                undefined
              )
            ],
            [
              "the right token on a malformed slot id",
              callEndpoint(endpoint, { ...call, params: () => ({ relay_id: "relay-1" }) }, f, undefined)
            ]
          ]
          const bodies = new Set<string>()
          for (const [label, request] of refused) {
            const res = yield* request
            expect({ label, status: res.status, tag: res.json?._tag }).toEqual({
              label,
              status: 404,
              tag: "RelayNotFoundError"
            })
            bodies.add(res.text)
          }
          // One answer, byte for byte: nothing tells a wrong token from a missing slot.
          expect([...bodies]).toHaveLength(1)
          expect(yield* snapshot(f, { withStranger: true })).toEqual(before)

          const res = yield* callEndpoint(endpoint, call, f, undefined)
          expect({ status: res.status, tag: res.json?._tag }).toEqual({
            status: call.success.status,
            tag: call.success.tag
          })
        })
      )
    )
  }
})

/**
 * The same matrix for key-bound agents (no tokens: every request RFC 9421-signed): every
 * authenticated endpoint × {unsigned, the owner's rotated-away key, another agent's key under the
 * owner's id, a deregistered agent's key, a signature of another request → 401 and no change;
 * another agent's own signature → as for its token; the right signature → the call's success}.
 */
describe("authorization matrix, signed requests", () => {
  /** The endpoint's valid call, signed as `keyid` with `key`; `swap` sends another request's signature. */
  const callSigned = (
    endpoint: ReflectedEndpoint,
    f: Fixture,
    keyid: string,
    key: KeyPair,
    options: { readonly swap?: boolean } = {}
  ) =>
    Effect.gen(function* () {
      const call = calls[endpoint.key]!
      const body = call.body?.(f)
      const request = {
        method: endpoint.method,
        target: `${fillPath(endpoint.path, call.params?.(f) ?? {})}${call.query ?? ""}`,
        headers: (endpoint.idempotent ? { "idempotency-key": freshKey() } : {}) as Record<string, string>,
        ...(body === undefined ? {} : { body: JSON.stringify(body) })
      }
      let signed: SignedInit = yield* signRaw(request, keyid, key)
      if (options.swap === true) {
        const other = yield* signRaw({ method: "GET", target: "/agents/me" }, keyid, key)
        signed = { ...signed, headers: { ...signed.headers, signature: other.headers.signature! } }
      }
      return yield* send(...toInit(signed))
    })

  for (const endpoint of authenticated) {
    it.scoped(`${endpoint.key}: ${endpoint.method} ${endpoint.path} (signed)`, () =>
      withServer(
        Effect.gen(function* () {
          const { r, call } = row(endpoint)
          const as = call.as as Role
          if (!["buyer", "executor", "reviewer"].includes(as)) {
            throw new Error(`${endpoint.key} is authenticated but not called as an agent`)
          }
          const f = yield* setupFixtureWith("key")
          if (call.prepare) yield* call.prepare(f)
          const keysOf = (role: Role) => Option.getOrThrow(f[role].keys)
          const owner = f[as]
          const before = yield* snapshot(f, { withStranger: true })
          const beforeOwn = yield* snapshot(f, { withStranger: false })

          const refused = [
            yield* callEndpoint(endpoint, call, f, undefined),
            yield* callSigned(endpoint, f, owner.id, keysOf(as).rotated),
            yield* callSigned(endpoint, f, owner.id, keysOf("stranger").current),
            yield* callSigned(endpoint, f, "leaver", Option.getOrThrow(f.leaverKey)),
            yield* callSigned(endpoint, f, owner.id, keysOf(as).current, { swap: true })
          ]
          for (const res of refused) expectError(res, 401, "AuthenticationFailedError")
          expect(yield* snapshot(f, { withStranger: true })).toEqual(before)

          // Another agent's own signature.
          if ("denied" in r) {
            for (const denied of r.denied) {
              const res = yield* callSigned(endpoint, f, f[denied.as].id, keysOf(denied.as).current)
              expectError(
                res,
                denied.status,
                denied.status === 403 ? "PermissionDeniedError" : "ObjectNotFoundError"
              )
            }
            expect(yield* snapshot(f, { withStranger: true })).toEqual(before)
          } else {
            const res = yield* callSigned(endpoint, f, f.stranger.id, keysOf("stranger").current)
            // On its own account the stranger gets what the owner would (rotate-key, rotate-token).
            if (call.signedSuccess !== undefined) {
              expect(res.status).toBe(call.signedSuccess.status)
            } else {
              expect(res.status).toBe(r.own.status)
              r.own.check?.(res.json, f)
            }
            expect(yield* snapshot(f, { withStranger: false })).toEqual(beforeOwn)
          }

          // The right signature gets past authentication (and, but for rotate-token of a key-only
          // agent, authorization).
          const res = yield* callSigned(endpoint, f, owner.id, keysOf(as).current)
          const expected = call.signedSuccess ?? call.success
          expect(res.status).not.toBe(401)
          expect({ status: res.status, tag: res.json?._tag }).toEqual({
            status: expected.status,
            tag: expected.tag
          })
        })
      )
    )
  }
})
