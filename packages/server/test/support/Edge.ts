/**
 * Shared by the edge suites (authorization matrix, strict input): the endpoints as reflected from
 * `MarketplaceApi`, one valid call per endpoint built from a real fixture, raw HTTP against the
 * harness server, and a snapshot of the observable state.
 */
import { MarketplaceApi } from "@agent-marketplace/domain/Api"
import { AdminAuthentication } from "@agent-marketplace/domain/admin/AdminAuthentication"
import { Authentication } from "@agent-marketplace/domain/identity/Authentication"
import type { AgentId, AssignmentId } from "@agent-marketplace/domain/shared/Ids"
import { HttpApi } from "@effect/platform"
import { Clock, Effect, FiberRef, Option, Redacted, SchemaAST } from "effect"
import { RelayRepo } from "../../src/relay/RelayRepo"
import { Settlement } from "../../src/settlement/Settlement"
import { TaskRepo } from "../../src/tasks/TaskRepo"
import { ADMIN_TOKEN } from "./Admin"
import { anonClient, clientFor, freshKey, idem, registerAgent, serverUrl } from "./Harness"
import { generateKey, type KeyPair, registerKeyed, signedClientFor } from "./Keys"

// ---------------------------------------------------------------------------------------------
// Reflection

export interface ReflectedEndpoint {
  /** `group.endpoint`, e.g. `tasks.get`. */
  readonly key: string
  readonly method: string
  /** The path with `:param` placeholders. */
  readonly path: string
  readonly authenticated: boolean
  /** Behind `AdminAuthentication` (the operator's `Admin-Token`). */
  readonly admin: boolean
  readonly hasPayload: boolean
  /** Whether the endpoint's headers schema requires an `Idempotency-Key`. */
  readonly idempotent: boolean
  /** Whether the endpoint takes a `Relay-Token` (a relay slot operation: no bearer, the slot's token). */
  readonly relayToken: boolean
  /** The names of its query parameters. */
  readonly urlParams: ReadonlyArray<string>
}

const propertyNames = (schema: Option.Option<{ readonly ast: SchemaAST.AST }>): ReadonlyArray<string> =>
  Option.match(schema, {
    onNone: () => [],
    onSome: (s) => SchemaAST.getPropertySignatures(s.ast).map((p) => String(p.name))
  })

/** Every endpoint of the one HttpApi, in declaration order. */
export const reflectedEndpoints: ReadonlyArray<ReflectedEndpoint> = (() => {
  const out: Array<ReflectedEndpoint> = []
  HttpApi.reflect(MarketplaceApi, {
    onGroup: () => {},
    onEndpoint: ({ endpoint, group, middleware, payloads }) => {
      out.push({
        key: `${group.identifier}.${endpoint.name}`,
        method: endpoint.method,
        path: endpoint.path,
        authenticated: (middleware as ReadonlySet<unknown>).has(Authentication),
        admin: (middleware as ReadonlySet<unknown>).has(AdminAuthentication),
        hasPayload: payloads.size > 0,
        idempotent: propertyNames(endpoint.headersSchema).includes("idempotency-key"),
        relayToken: propertyNames(endpoint.headersSchema).includes("relay-token"),
        urlParams: propertyNames(endpoint.urlParamsSchema)
      })
    }
  })
  return out
})()

/** `/tasks/:task_id` with `{task_id: "task-1"}` → `/tasks/task-1`; a missing param is a test bug. */
export const fillPath = (path: string, params: Record<string, string>) =>
  path.replace(/:([a-z_]+)/g, (_, name: string) => {
    const value = params[name]
    if (value === undefined) throw new Error(`no value for :${name} in ${path}`)
    return encodeURIComponent(value)
  })

// ---------------------------------------------------------------------------------------------
// Raw HTTP

export interface RawResponse {
  readonly status: number
  readonly contentType: string | null
  readonly text: string
  /** The parsed body, or `undefined` when it is empty or not JSON. */
  readonly json: any
}

const parse = (text: string) => {
  try {
    return text === "" ? undefined : JSON.parse(text)
  } catch {
    return undefined
  }
}

/** A raw request to the harness server: exactly the headers and body given, nothing added. */
export const send = (path: string, init: RequestInit) =>
  Effect.flatMap(serverUrl, (base) =>
    Effect.promise(async (): Promise<RawResponse> => {
      const res = await fetch(`${base}${path}`, init)
      const text = await res.text()
      return { status: res.status, contentType: res.headers.get("content-type"), text, json: parse(text) }
    })
  )

/**
 * Headers of a JSON request: the credential if any (bearer token, or `Admin-Token` on the admin
 * endpoints), a fresh Idempotency-Key if the endpoint needs one.
 */
export const jsonHeaders = (endpoint: ReflectedEndpoint, token: string | undefined) => {
  const headers: Record<string, string> = {}
  if (token !== undefined) {
    if (endpoint.admin) headers["admin-token"] = token
    else headers.authorization = `Bearer ${token}`
  }
  if (endpoint.idempotent) headers["idempotency-key"] = freshKey()
  return headers
}

/**
 * The endpoint called as `call` describes, with `token` (or none) as the bearer credential; the
 * call's own headers (a `Relay-Token`) unless `headers` replaces them.
 */
export const callEndpoint = (
  endpoint: ReflectedEndpoint,
  call: EndpointCall,
  f: Fixture,
  token: string | undefined,
  body: unknown = call.body?.(f),
  extraHeaders: Record<string, string> = call.headers?.(f) ?? {}
) => {
  const headers = { ...jsonHeaders(endpoint, token), ...extraHeaders }
  const raw = call.raw?.(f)
  if (raw !== undefined) headers["content-type"] = "application/octet-stream"
  else if (body !== undefined) headers["content-type"] = "application/json"
  return send(`${fillPath(endpoint.path, call.params?.(f) ?? {})}${call.query ?? ""}`, {
    method: endpoint.method,
    headers,
    body: raw ?? (body === undefined ? undefined : JSON.stringify(body))
  })
}

/** The bytes uploaded to the fixture's relay slots. */
export const relayBytes = new Uint8Array(Array.from({ length: 48 }, (_, i) => (i * 37 + 11) % 256))

/** A relay slot created (and, with `upload`, uploaded) over raw HTTP, as any anonymous client would. */
export const relaySlot = (options: { readonly upload: boolean; readonly maxDownloads?: number }) =>
  Effect.gen(function* () {
    const created = yield* send("/relay", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        size_bytes: relayBytes.length,
        ttl_secs: 600,
        max_downloads: options.maxDownloads ?? 1
      })
    })
    if (created.status !== 201)
      return yield* Effect.dieMessage(`relay create: ${created.status} ${created.text}`)
    const slot = created.json as { relay_id: string; upload_token: string; download_token: string }
    if (options.upload) {
      const uploaded = yield* send(`/relay/${slot.relay_id}`, {
        method: "PUT",
        headers: { "relay-token": slot.upload_token, "content-type": "application/octet-stream" },
        body: relayBytes
      })
      if (uploaded.status !== 200) {
        return yield* Effect.dieMessage(`relay upload: ${uploaded.status} ${uploaded.text}`)
      }
    }
    return slot
  })

export type RelaySlotHandle = Effect.Effect.Success<ReturnType<typeof relaySlot>>

// ---------------------------------------------------------------------------------------------
// Fixture

/** Whose credentials the fixture's agents hold: bearer tokens, or bound keys (and no token at all). */
export type FixtureCredentials = "bearer" | "key"
const fixtureCredentials = FiberRef.unsafeMake<FixtureCredentials>("bearer")

/** A key-bound principal's current key and the key it rotated away from. */
export interface PrincipalKeys {
  readonly current: KeyPair
  readonly rotated: KeyPair
}

/**
 * A registered agent whose first credential was replaced: with tokens, `revoked` is its first token;
 * with keys, `keys.rotated` is its first key (`token` and `revoked` are then empty: it has no token).
 */
const principal = (rawId: string, credentials: FixtureCredentials = "bearer") =>
  Effect.gen(function* () {
    if (credentials === "key") {
      const first = yield* registerKeyed(rawId)
      const current = generateKey()
      yield* first.client.agents.rotateKey({ payload: { public_key: current.publicKey } })
      const keys: Option.Option<PrincipalKeys> = Option.some({ current, rotated: first.key })
      return { id: first.id, token: "", revoked: "", keys, client: yield* signedClientFor(first.id, current) }
    }
    const first = yield* registerAgent(rawId)
    const { token } = yield* first.client.agents.rotateToken()
    const keys: Option.Option<PrincipalKeys> = Option.none()
    return { id: first.id, token, revoked: first.token, keys, client: yield* clientFor(token) }
  })

export type Principal = Effect.Effect.Success<ReturnType<typeof principal>>

const criteria = { format: "plain_text", body: "check the output" } as const

/**
 * Real objects for every path parameter: buyer publishes a task with a running session; executor
 * and reviewer take part; `exec` (execute, held 100) with review `rev` (held 20) in review session
 * `review`; `spare` (execute, no hold) and `spareReview` (review of `exec`, in no session) are free.
 * `stranger` is registered and sees none of it; `leaver` deregistered (its token is revoked).
 * Relay: `relayCreated` awaits its upload, `relayUploaded` holds `relayBytes` for one download,
 * `relayOther` is another uploaded slot (its tokens are the wrong ones for the first two).
 */
export const setupFixture = Effect.gen(function* () {
  const credentials = yield* FiberRef.get(fixtureCredentials)
  const buyer = yield* principal("buyer", credentials)
  const executor = yield* principal("executor", credentials)
  const reviewer = yield* principal("reviewer", credentials)
  const stranger = yield* principal("stranger", credentials)
  const leaver = credentials === "key" ? yield* registerKeyed("leaver") : yield* registerAgent("leaver")
  yield* leaver.client.agents.deregister()

  const task = yield* buyer.client.tasks.create({ headers: idem() })
  const session = yield* buyer.client.sessions.create({ headers: idem(), payload: { task_id: task.task_id } })
  for (const p of [executor, reviewer]) {
    yield* buyer.client.tasks.addParticipant({
      path: { task_id: task.task_id },
      headers: idem(),
      payload: { agent_id: p.id }
    })
  }
  const assign = (agent: AgentId, kind: "execute" | "review", target?: AssignmentId) =>
    buyer.client.assignments.create({
      headers: idem(),
      payload: {
        task_id: task.task_id,
        session_id: session.session_id,
        agent_id: agent,
        kind,
        ...(target === undefined ? {} : { target_assignment_id: target })
      }
    })
  const exec = yield* assign(executor.id, "execute")
  const rev = yield* assign(reviewer.id, "review", exec.assignment_id)
  const spare = yield* assign(executor.id, "execute")
  const spareReview = yield* assign(reviewer.id, "review", exec.assignment_id)
  yield* buyer.client.settlement.deposit({ headers: idem(), payload: { amount: 1000 } })
  const hold = (assignment: typeof exec, payee: AgentId, amount: number) =>
    buyer.client.settlement.hold({
      headers: idem(),
      payload: {
        amount,
        task_id: task.task_id,
        assignment_id: assignment.assignment_id,
        payee_agent_id: payee,
        kind: assignment.kind
      }
    })
  const execHold = yield* hold(exec, executor.id, 100)
  const reviewHold = yield* hold(rev, reviewer.id, 20)
  const review = yield* buyer.client.reviews.request({
    headers: idem(),
    payload: {
      task_id: task.task_id,
      target_assignment_id: exec.assignment_id,
      review_assignment_ids: [rev.assignment_id],
      criteria
    }
  })
  const relayCreated = yield* relaySlot({ upload: false })
  const relayUploaded = yield* relaySlot({ upload: true })
  const relayOther = yield* relaySlot({ upload: true })
  return {
    buyer,
    executor,
    reviewer,
    stranger,
    relayCreated,
    relayUploaded,
    relayOther,
    leaverToken: leaver.token ?? "",
    /** The deregistered leaver's key (key-bound fixture). */
    leaverKey: "key" in leaver ? Option.some(leaver.key) : Option.none<KeyPair>(),
    task,
    session,
    exec,
    rev,
    spare,
    spareReview,
    execHold,
    reviewHold,
    review
  }
})

/** The fixture with key-bound agents (`"key"`: every request signed, no tokens) or bearer ones. */
export const setupFixtureWith = (credentials: FixtureCredentials) =>
  Effect.locally(setupFixture, fixtureCredentials, credentials)

export type Fixture = Effect.Effect.Success<typeof setupFixture>
export type Role = "buyer" | "executor" | "reviewer" | "stranger"

// ---------------------------------------------------------------------------------------------
// One valid call per endpoint

export interface EndpointCall {
  /** Whose credential is the right one; `anonymous` for open endpoints, `operator` for admin ones. */
  readonly as: Exclude<Role, "stranger"> | "anonymous" | "operator"
  readonly params?: (f: Fixture) => Record<string, string>
  /** A query string, with its `?`. */
  readonly query?: string
  /** A valid body (endpoints with a JSON payload). */
  readonly body?: (f: Fixture) => unknown
  /** A valid raw body, sent as `application/octet-stream` (the relay upload). */
  readonly raw?: (f: Fixture) => Uint8Array
  /** Headers the call needs besides a bearer token (a relay slot's `Relay-Token`). */
  readonly headers?: (f: Fixture) => Record<string, string>
  /** Brings the fixture into the state where the call succeeds. */
  readonly prepare?: (f: Fixture) => Effect.Effect<unknown, unknown>
  /** The answer to the right credential: a status, and the error `_tag` when it is not a 2xx. */
  readonly success: { readonly status: number; readonly tag?: string }
  /** The answer to the right signature (key-bound fixture), when it differs from `success`. */
  readonly signedSuccess?: { readonly status: number; readonly tag?: string }
}

const ok = { status: 200 } as const
const created = { status: 201 } as const
const verdict = { kind: "passed", score_bps: 9000, feedback: "fine" } as const
const outputReady = (f: Fixture) =>
  f.executor.client.assignments.outputReady({
    path: { assignment_id: f.exec.assignment_id },
    headers: idem()
  })

/**
 * How each endpoint is called correctly against the fixture. A new endpoint has no entry, which
 * fails the suites until one is added.
 */
export const calls: Record<string, EndpointCall> = {
  "system.health": { as: "anonymous", success: ok },
  "system.ready": { as: "anonymous", success: ok },
  "agents.register": { as: "anonymous", body: () => ({ agent_id: "newcomer", name: "new" }), success: ok },
  "agents.list": { as: "anonymous", success: ok },
  "agents.discover": { as: "anonymous", query: "?capability=summarize", success: ok },
  // A key-bound agent without allow_bearer has no token to rotate.
  "agents.rotateToken": {
    as: "buyer",
    success: ok,
    signedSuccess: { status: 403, tag: "PermissionDeniedError" }
  },
  // Only a request signed by the current key rotates it: a bearer token is refused (403).
  "agents.rotateKey": {
    as: "buyer",
    body: () => ({ public_key: generateKey().publicKey }),
    success: { status: 403, tag: "PermissionDeniedError" },
    signedSuccess: ok
  },
  "agents.declareCapabilities": {
    as: "executor",
    body: () => ({ capabilities: [{ name: "summarize", max_concurrency: 2 }] }),
    success: ok
  },
  "agents.heartbeat": { as: "executor", body: () => ({ busy: true }), success: ok },
  "agents.deregister": { as: "executor", success: ok },
  "agents.me": { as: "executor", success: ok },
  "agents.assignments": { as: "executor", params: (f) => ({ agent_id: f.executor.id }), success: ok },
  "tasks.create": { as: "buyer", success: created },
  "tasks.list": { as: "buyer", success: ok },
  "tasks.get": { as: "buyer", params: (f) => ({ task_id: f.task.task_id }), success: ok },
  "tasks.addParticipant": {
    as: "buyer",
    params: (f) => ({ task_id: f.task.task_id }),
    body: (f) => ({ agent_id: f.stranger.id }),
    success: ok
  },
  "tasks.complete": {
    as: "buyer",
    params: (f) => ({ task_id: f.task.task_id }),
    // Completing needs no active hold: refund both first.
    prepare: (f) =>
      Effect.forEach([f.execHold, f.reviewHold], (h) =>
        f.buyer.client.settlement.refund({ headers: idem(), payload: { hold_id: h.hold_id } })
      ),
    success: ok
  },
  "tasks.cancel": { as: "buyer", params: (f) => ({ task_id: f.task.task_id }), success: ok },
  "sessions.create": { as: "buyer", body: (f) => ({ task_id: f.task.task_id }), success: created },
  "sessions.close": { as: "buyer", params: (f) => ({ session_id: f.session.session_id }), success: ok },
  "assignments.create": {
    as: "buyer",
    body: (f) => ({
      task_id: f.task.task_id,
      session_id: f.session.session_id,
      agent_id: f.executor.id,
      kind: "execute",
      deadline_secs: 600
    }),
    success: created
  },
  "assignments.get": { as: "buyer", params: (f) => ({ assignment_id: f.exec.assignment_id }), success: ok },
  "assignments.reviewAssignments": {
    as: "buyer",
    params: (f) => ({ assignment_id: f.exec.assignment_id }),
    success: ok
  },
  "assignments.cancel": {
    as: "buyer",
    params: (f) => ({ assignment_id: f.exec.assignment_id }),
    success: ok
  },
  "assignments.decline": {
    as: "executor",
    params: (f) => ({ assignment_id: f.exec.assignment_id }),
    success: ok
  },
  "assignments.outputReady": {
    as: "executor",
    params: (f) => ({ assignment_id: f.exec.assignment_id }),
    success: ok
  },
  "assignments.reject": {
    as: "buyer",
    params: (f) => ({ assignment_id: f.exec.assignment_id }),
    // Rejecting needs the latest review session complete with a verdict that is not passed.
    prepare: (f) =>
      Effect.zipRight(
        outputReady(f),
        f.reviewer.client.reviews.submitVerdict({
          path: { review_id: f.review.review_id },
          headers: idem(),
          payload: {
            review_assignment_id: f.rev.assignment_id,
            verdict: { kind: "failed", score_bps: 0, feedback: "wrong" }
          }
        })
      ),
    success: ok
  },
  "reviews.request": {
    as: "buyer",
    body: (f) => ({
      task_id: f.task.task_id,
      target_assignment_id: f.exec.assignment_id,
      review_assignment_ids: [f.spareReview.assignment_id],
      criteria
    }),
    success: created
  },
  "reviews.get": { as: "buyer", params: (f) => ({ review_id: f.review.review_id }), success: ok },
  "reviews.byAssignment": {
    as: "reviewer",
    params: (f) => ({ assignment_id: f.exec.assignment_id }),
    success: ok
  },
  "reviews.submitVerdict": {
    as: "reviewer",
    params: (f) => ({ review_id: f.review.review_id }),
    body: (f) => ({ review_assignment_id: f.rev.assignment_id, verdict }),
    prepare: outputReady,
    success: ok
  },
  "settlement.deposit": { as: "buyer", body: () => ({ amount: 5 }), success: ok },
  "settlement.withdraw": { as: "buyer", body: () => ({ amount: 5 }), success: ok },
  "settlement.hold": {
    as: "buyer",
    body: (f) => ({
      amount: 10,
      task_id: f.task.task_id,
      assignment_id: f.spare.assignment_id,
      payee_agent_id: f.executor.id,
      kind: "execute"
    }),
    success: created
  },
  "settlement.refund": { as: "buyer", body: (f) => ({ hold_id: f.execHold.hold_id }), success: ok },
  // The two compensation releases have nothing to compensate in the fixture (no review has passed
  // or been submitted): the payer gets past authorization to the evidence rule, a 409.
  "settlement.releaseExecute": {
    as: "buyer",
    body: (f) => ({ hold_id: f.execHold.hold_id }),
    success: { status: 409, tag: "StateConflictError" }
  },
  "settlement.releaseReview": {
    as: "buyer",
    body: (f) => ({ hold_id: f.reviewHold.hold_id, review_id: f.review.review_id }),
    success: { status: 409, tag: "StateConflictError" }
  },
  "settlement.balance": { as: "buyer", success: ok },
  "settlement.holds": { as: "buyer", success: ok },
  "settlement.ledger": { as: "buyer", success: ok },
  // The operator (the fixture's server has an admin token, see `edgeConfig`).
  "admin.createInvite": { as: "operator", body: () => ({ expires_in_secs: 600 }), success: created },
  // Approving and unsuspending a registered agent answer it as it is.
  "admin.approve": { as: "operator", params: (f) => ({ agent_id: f.executor.id }), success: ok },
  "admin.suspend": { as: "operator", params: (f) => ({ agent_id: f.executor.id }), success: ok },
  "admin.unsuspend": { as: "operator", params: (f) => ({ agent_id: f.executor.id }), success: ok },
  "admin.deposit": { as: "operator", body: (f) => ({ agent_id: f.stranger.id, amount: 5 }), success: ok },
  "admin.agents": { as: "operator", success: ok },
  "admin.onlineAgents": { as: "operator", success: ok },
  "admin.tasks": { as: "operator", success: ok },
  "admin.task": { as: "operator", params: (f) => ({ task_id: f.task.task_id }), success: ok },
  "admin.ledger": { as: "operator", success: ok },
  "admin.audit": { as: "operator", success: ok },
  "admin.agentLedger": { as: "operator", params: (f) => ({ agent_id: f.buyer.id }), success: ok },
  // The relay takes no bearer token: creating a slot is open, the slot operations take its own token.
  "relay.create": {
    as: "anonymous",
    body: () => ({ size_bytes: 1024, ttl_secs: 600, max_downloads: 2 }),
    success: created
  },
  "relay.upload": {
    as: "anonymous",
    params: (f) => ({ relay_id: f.relayCreated.relay_id }),
    headers: (f) => ({ "relay-token": f.relayCreated.upload_token }),
    raw: () => relayBytes,
    success: ok
  },
  "relay.download": {
    as: "anonymous",
    params: (f) => ({ relay_id: f.relayUploaded.relay_id }),
    headers: (f) => ({ "relay-token": f.relayUploaded.download_token }),
    success: ok
  },
  "relay.delete": {
    as: "anonymous",
    params: (f) => ({ relay_id: f.relayUploaded.relay_id }),
    headers: (f) => ({ "relay-token": f.relayUploaded.upload_token }),
    success: ok
  }
}

/** The edge suites' server: the defaults plus an admin token, so the admin endpoints can be called. */
export const edgeConfig = { adminToken: Option.some(Redacted.make(ADMIN_TOKEN)) }

export const tokenOf = (f: Fixture, as: EndpointCall["as"]) =>
  as === "anonymous" ? undefined : as === "operator" ? ADMIN_TOKEN : f[as].token

// ---------------------------------------------------------------------------------------------
// Snapshot of the observable state

const agentState = (p: Principal) =>
  Effect.gen(function* () {
    const c = p.client
    return {
      me: yield* c.agents.me(),
      balance: yield* c.settlement.balance(),
      holds: yield* c.settlement.holds({ urlParams: {} }),
      ledger: yield* c.settlement.ledger({ urlParams: {} }),
      tasks: yield* c.tasks.list({ urlParams: {} }),
      assignments: yield* c.agents.assignments({ path: { agent_id: p.id }, urlParams: {} })
    }
  })

/**
 * The relay as the store holds it: the fixture's slots (status, downloads, whether they have bytes)
 * and the bytes of every usable slot together (a slot created by a refused request would add to them).
 */
export const relayState = (f: Fixture) =>
  Effect.gen(function* () {
    const repo = yield* RelayRepo
    const now = yield* Clock.currentTimeMillis
    const slot = (id: string) =>
      Effect.map(
        repo.get(id),
        Option.map((row) => ({
          status: row.status,
          downloads: row.download_count,
          bytes: row.blob_key !== null
        }))
      )
    return {
      created: yield* slot(f.relayCreated.relay_id),
      uploaded: yield* slot(f.relayUploaded.relay_id),
      other: yield* slot(f.relayOther.relay_id),
      activeBytes: yield* repo.activeBytes(now)
    }
  })

/**
 * What the fixture's agents can observe, the fixture's objects as their publisher sees them, the
 * directory and the ledger audit. With `withStranger: false` the stranger's own state and the
 * ledger totals are left out (for calls by which the stranger acts on its own account).
 */
export const snapshot = (f: Fixture, options: { readonly withStranger: boolean }) =>
  Effect.gen(function* () {
    const buyer = f.buyer.client
    const repo = yield* TaskRepo
    const audit = yield* (yield* Settlement).audit
    const agents: Record<string, unknown> = {}
    for (const role of ["buyer", "executor", "reviewer", "stranger"] as const) {
      if (role === "stranger" && !options.withStranger) continue
      agents[role] = yield* agentState(f[role])
    }
    const directory = yield* (yield* anonClient).agents.list({
      urlParams: { include_deregistered: true, limit: 1000 }
    })
    return {
      agents,
      directory: directory.items.filter((a) => options.withStranger || a.agent_id !== f.stranger.id),
      task: yield* buyer.tasks.get({ path: { task_id: f.task.task_id } }),
      session: yield* repo.getSession(f.session.session_id),
      assignments: yield* Effect.forEach([f.exec, f.rev, f.spare, f.spareReview], (a) =>
        buyer.assignments.get({ path: { assignment_id: a.assignment_id } })
      ),
      reviewAssignments: yield* buyer.assignments.reviewAssignments({
        path: { assignment_id: f.exec.assignment_id }
      }),
      review: yield* buyer.reviews.get({ path: { review_id: f.review.review_id } }),
      reviews: yield* buyer.reviews.byAssignment({ path: { assignment_id: f.exec.assignment_id } }),
      relay: yield* relayState(f),
      audit: options.withStranger ? audit : { ok: audit.ok, problems: audit.problems }
    }
  })
