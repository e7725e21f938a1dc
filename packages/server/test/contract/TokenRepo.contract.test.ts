import { createHash } from "node:crypto"
import { AgentId } from "@agent-marketplace/domain/shared/Ids"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import { TokenRepo } from "../../src/identity/TokenRepo"
import { Store } from "../../src/platform/Store"
import { AgentRepo } from "../../src/registry/AgentRepo"
import { storeCases } from "../support/Stores"

const hashOf = (token: string) => createHash("sha256").update(token).digest("hex")
const alpha = AgentId.make("alpha")
const beta = AgentId.make("beta")
/** The agent columns the holder tests do not vary. */
const agentRow = {
  seq: 0,
  name: null,
  endpoint: null,
  metadata: {},
  capabilities: [],
  created_at: 1_000,
  updated_at: 1_000
}

describe.each(storeCases)("TokenRepo contract ($name)", (storeCase) => {
  const run = <A, E>(effect: Effect.Effect<A, E, TokenRepo | Store>) =>
    Effect.provide(effect, storeCase.layer())

  it.effect("findActive finds an inserted hash and nothing for an unknown one", () =>
    run(
      Effect.gen(function* () {
        const repo = yield* TokenRepo
        yield* repo.insert({ token_hash: hashOf("t1"), agent_id: alpha, created_at: 1_000 })
        yield* repo.insert({ token_hash: hashOf("t2"), agent_id: beta, created_at: 1_000 })
        expect(yield* repo.findActive(hashOf("t1"))).toEqual(Option.some("alpha"))
        expect(yield* repo.findActive(hashOf("t2"))).toEqual(Option.some("beta"))
        expect(yield* repo.findActive(hashOf("t3"))).toEqual(Option.none())
        // Only the hash is a key: the token itself finds nothing.
        expect(yield* repo.findActive("t1")).toEqual(Option.none())
      })
    )
  )

  it.effect("findActiveHolder reads the token with its agent's lifecycle and key binding", () =>
    Effect.provide(
      Effect.gen(function* () {
        const repo = yield* TokenRepo
        const agents = yield* AgentRepo
        yield* agents.put({
          ...agentRow,
          agent_id: alpha,
          lifecycle: "registered",
          public_key: null,
          allow_bearer: false
        })
        yield* agents.put({
          ...agentRow,
          agent_id: beta,
          lifecycle: "pending",
          public_key: "k-beta",
          allow_bearer: true
        })
        yield* repo.insert({ token_hash: hashOf("a"), agent_id: alpha, created_at: 1_000 })
        yield* repo.insert({ token_hash: hashOf("b"), agent_id: beta, created_at: 1_000 })
        yield* repo.insert({ token_hash: hashOf("g"), agent_id: AgentId.make("ghost"), created_at: 1_000 })
        expect(yield* repo.findActiveHolder(hashOf("a"))).toEqual(
          Option.some({
            agent_id: "alpha",
            agent: { lifecycle: "registered", public_key: null, allow_bearer: false }
          })
        )
        expect(yield* repo.findActiveHolder(hashOf("b"))).toEqual(
          Option.some({
            agent_id: "beta",
            agent: { lifecycle: "pending", public_key: "k-beta", allow_bearer: true }
          })
        )
        expect(yield* repo.findActiveHolder(hashOf("g"))).toEqual(
          Option.some({ agent_id: "ghost", agent: null })
        )
        expect(yield* repo.findActiveHolder(hashOf("unknown"))).toEqual(Option.none())
        yield* repo.revoke(hashOf("a"), 2_000)
        expect(yield* repo.findActiveHolder(hashOf("a"))).toEqual(Option.none())
      }),
      storeCase.layer()
    )
  )

  it.effect(
    "concurrent findActiveHolder reads (one query per event-loop turn on SQL) each answer their own token; a revocation is seen by the next read",
    () =>
      Effect.provide(
        Effect.gen(function* () {
          const repo = yield* TokenRepo
          const agents = yield* AgentRepo
          const store = yield* Store
          yield* agents.put({
            ...agentRow,
            agent_id: alpha,
            lifecycle: "registered",
            public_key: null,
            allow_bearer: false
          })
          for (let i = 0; i < 70; i++)
            yield* repo.insert({
              token_hash: hashOf(`t${i}`),
              agent_id: i % 2 === 0 ? alpha : beta,
              created_at: 1
            })
          for (let i = 0; i < 70; i += 7) yield* repo.revoke(hashOf(`t${i}`), 2)
          // 70 tokens (more than one query's 64 keys), one asked twice, and an unknown one.
          const asked = [...Array.from({ length: 70 }, (_, i) => i), 5, -1]
          const found = yield* Effect.all(
            asked.map((i) => repo.findActiveHolder(hashOf(`t${i}`))),
            { concurrency: "unbounded" }
          )
          found.forEach((holder, n) => {
            const i = asked[n]!
            expect(holder).toEqual(
              i === -1 || i % 7 === 0
                ? Option.none()
                : Option.some(
                    i % 2 === 0
                      ? {
                          agent_id: "alpha",
                          agent: { lifecycle: "registered", public_key: null, allow_bearer: false }
                        }
                      : { agent_id: "beta", agent: null }
                  )
            )
          })
          yield* repo.revoke(hashOf("t1"), 3)
          expect(yield* repo.findActiveHolder(hashOf("t1"))).toEqual(Option.none())
          // Inside a transaction the read is on the transaction's connection (its own writes).
          const inside = yield* store.transaction(
            Effect.zipRight(
              repo.insert({ token_hash: hashOf("fresh"), agent_id: beta, created_at: 4 }),
              repo.findActiveHolder(hashOf("fresh"))
            )
          )
          expect(inside).toEqual(Option.some({ agent_id: "beta", agent: null }))
        }),
        storeCase.layer()
      )
  )

  it.effect("revoke deactivates one token and is idempotent", () =>
    run(
      Effect.gen(function* () {
        const repo = yield* TokenRepo
        yield* repo.insert({ token_hash: hashOf("t1"), agent_id: alpha, created_at: 1_000 })
        yield* repo.insert({ token_hash: hashOf("t2"), agent_id: alpha, created_at: 1_000 })
        yield* repo.revoke(hashOf("t1"), 2_000)
        yield* repo.revoke(hashOf("t1"), 3_000)
        yield* repo.revoke(hashOf("unknown"), 3_000)
        expect(yield* repo.findActive(hashOf("t1"))).toEqual(Option.none())
        expect(yield* repo.findActive(hashOf("t2"))).toEqual(Option.some("alpha"))
      })
    )
  )

  it.effect("revokeAll deactivates every token of one agent only; later tokens are active", () =>
    run(
      Effect.gen(function* () {
        const repo = yield* TokenRepo
        for (const t of ["a1", "a2", "a3"])
          yield* repo.insert({ token_hash: hashOf(t), agent_id: alpha, created_at: 1 })
        yield* repo.insert({ token_hash: hashOf("b1"), agent_id: beta, created_at: 1 })
        yield* repo.revoke(hashOf("a2"), 5)
        yield* repo.revokeAll(alpha, 10)
        for (const t of ["a1", "a2", "a3"]) expect(yield* repo.findActive(hashOf(t))).toEqual(Option.none())
        expect(yield* repo.findActive(hashOf("b1"))).toEqual(Option.some("beta"))
        yield* repo.insert({ token_hash: hashOf("a4"), agent_id: alpha, created_at: 11 })
        expect(yield* repo.findActive(hashOf("a4"))).toEqual(Option.some("alpha"))
        yield* repo.revokeAll(AgentId.make("nobody"), 12)
        expect(yield* repo.findActive(hashOf("a4"))).toEqual(Option.some("alpha"))
      })
    )
  )

  it.effect("inserting a hash again makes it active again", () =>
    run(
      Effect.gen(function* () {
        const repo = yield* TokenRepo
        yield* repo.insert({ token_hash: hashOf("t1"), agent_id: alpha, created_at: 1 })
        yield* repo.revoke(hashOf("t1"), 2)
        yield* repo.insert({ token_hash: hashOf("t1"), agent_id: alpha, created_at: 3 })
        expect(yield* repo.findActive(hashOf("t1"))).toEqual(Option.some("alpha"))
      })
    )
  )

  it.effect(
    "a failed transaction undoes inserts and revocations; a failed savepoint keeps the outer ones",
    () =>
      run(
        Effect.gen(function* () {
          const repo = yield* TokenRepo
          const store = yield* Store
          yield* repo.insert({ token_hash: hashOf("kept"), agent_id: alpha, created_at: 1 })
          const error = yield* store
            .transaction(
              Effect.gen(function* () {
                yield* repo.insert({ token_hash: hashOf("new"), agent_id: alpha, created_at: 2 })
                yield* repo.revokeAll(alpha, 3)
                return yield* Effect.fail("boom")
              })
            )
            .pipe(Effect.flip)
          expect(error).toBe("boom")
          expect(yield* repo.findActive(hashOf("new"))).toEqual(Option.none())
          expect(yield* repo.findActive(hashOf("kept"))).toEqual(Option.some("alpha"))

          yield* store.transaction(
            Effect.gen(function* () {
              yield* repo.insert({ token_hash: hashOf("outer"), agent_id: beta, created_at: 4 })
              const inner = yield* store
                .transaction(
                  Effect.gen(function* () {
                    yield* repo.insert({ token_hash: hashOf("inner"), agent_id: beta, created_at: 5 })
                    yield* repo.revoke(hashOf("kept"), 5)
                    return yield* Effect.fail("inner")
                  })
                )
                .pipe(Effect.flip)
              expect(inner).toBe("inner")
            })
          )
          expect(yield* repo.findActive(hashOf("outer"))).toEqual(Option.some("beta"))
          expect(yield* repo.findActive(hashOf("inner"))).toEqual(Option.none())
          expect(yield* repo.findActive(hashOf("kept"))).toEqual(Option.some("alpha"))
        })
      )
  )
})
