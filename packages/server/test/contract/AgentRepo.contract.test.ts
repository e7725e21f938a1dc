import type { Capability } from "@agent-marketplace/domain/registry/Agent"
import { AgentId, type SessionId, type TaskId } from "@agent-marketplace/domain/shared/Ids"
import type { AssignmentKind, AssignmentStatus } from "@agent-marketplace/domain/tasks/Task"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import { LivenessRepo } from "../../src/heartbeat/LivenessRepo"
import { Store } from "../../src/platform/Store"
import { AgentRepo, type AgentRow } from "../../src/registry/AgentRepo"
import { TaskRepo } from "../../src/tasks/TaskRepo"
import { storeCases } from "../support/Stores"

const summarize: Capability = { name: "summarize", max_concurrency: 2 }
const translate: Capability = {
  name: "translate",
  max_concurrency: 1,
  contract: { input_profiles: ["text.plain.utf8.v1"], output_profiles: ["text.markdown.utf8.v1"] }
}

const agentRow = (id: string, overrides: Partial<AgentRow> = {}): AgentRow => ({
  agent_id: AgentId.make(id),
  seq: 0,
  name: null,
  endpoint: null,
  metadata: {},
  lifecycle: "registered",
  capabilities: [],
  public_key: null,
  allow_bearer: false,
  created_at: 1_000,
  updated_at: 1_000,
  ...overrides
})

/** Registers agents in the given order (seq assigned by the store). */
const putAgents = (...rows: ReadonlyArray<AgentRow>) =>
  Effect.flatMap(AgentRepo, (repo) => Effect.forEach(rows, (row) => repo.put(row)))

const beat = (id: string, lastHeartbeatAt: number, options: { alive?: boolean; busy?: boolean } = {}) =>
  Effect.flatMap(LivenessRepo, (repo) =>
    repo.put({
      agent_id: AgentId.make(id),
      alive: options.alive ?? true,
      busy: options.busy ?? false,
      last_heartbeat_at: lastHeartbeatAt
    })
  )

/** An assignment row of `agentId` (only what load counts matters here). */
const assign = (agentId: string, kind: AssignmentKind, status: AssignmentStatus) =>
  Effect.gen(function* () {
    const tasks = yield* TaskRepo
    const assignmentId = yield* tasks.nextAssignmentId
    yield* tasks.putAssignment({
      assignment_id: assignmentId,
      task_id: "task-1" as TaskId,
      session_id: "session-1" as SessionId,
      agent_id: AgentId.make(agentId),
      kind,
      target_assignment_id: null,
      deadline_at: null,
      status,
      created_at: 1_000,
      updated_at: 1_000
    })
  })

const ids = (rows: ReadonlyArray<{ readonly agent: Pick<AgentRow, "agent_id"> }>) =>
  rows.map((r) => r.agent.agent_id as string)

describe.each(storeCases)("AgentRepo contract ($name)", (storeCase) => {
  const run = <A, E>(effect: Effect.Effect<A, E, AgentRepo | LivenessRepo | TaskRepo | Store>) =>
    Effect.provide(effect, storeCase.layer())

  it.effect("get of an unknown id is none", () =>
    run(
      Effect.gen(function* () {
        const repo = yield* AgentRepo
        expect(Option.isNone(yield* repo.get(AgentId.make("nobody")))).toBe(true)
        expect(Option.isNone(yield* repo.getWithLiveness(AgentId.make("nobody")))).toBe(true)
      })
    )
  )

  it.effect("put assigns increasing seqs when seq is 0 and round-trips every field", () =>
    run(
      Effect.gen(function* () {
        const repo = yield* AgentRepo
        const first = yield* repo.put(
          agentRow("alpha", {
            name: "Alpha",
            endpoint: "https://alpha.example/a2a",
            metadata: { region: "eu", "9": "digit key", team: "x" },
            capabilities: [translate, summarize],
            created_at: 1_700_000_000_123,
            updated_at: 1_700_000_000_456
          })
        )
        const second = yield* repo.put(agentRow("beta"))
        expect(first.seq).toBeGreaterThan(0)
        expect(second.seq).toBeGreaterThan(first.seq)
        const stored = yield* repo.get(AgentId.make("alpha"))
        expect(stored).toEqual(Option.some(first))
        expect(Option.getOrThrow(stored)).toStrictEqual({
          agent_id: "alpha",
          seq: first.seq,
          name: "Alpha",
          endpoint: "https://alpha.example/a2a",
          metadata: { region: "eu", "9": "digit key", team: "x" },
          lifecycle: "registered",
          capabilities: [translate, summarize],
          public_key: null,
          allow_bearer: false,
          created_at: 1_700_000_000_123,
          updated_at: 1_700_000_000_456
        })
        expect(Object.keys(Option.getOrThrow(stored).metadata)).toEqual(Object.keys(first.metadata))
      })
    )
  )

  it.effect("put of an existing id replaces the row and keeps a given seq", () =>
    run(
      Effect.gen(function* () {
        const repo = yield* AgentRepo
        const first = yield* repo.put(agentRow("alpha", { name: "old", capabilities: [summarize] }))
        yield* repo.put(agentRow("beta"))
        const replaced = yield* repo.put({
          ...first,
          name: null,
          lifecycle: "deregistered",
          capabilities: [translate],
          updated_at: 2_000
        })
        expect(replaced.seq).toBe(first.seq)
        expect(yield* repo.get(AgentId.make("alpha"))).toEqual(
          Option.some({
            ...first,
            name: null,
            lifecycle: "deregistered",
            capabilities: [translate],
            updated_at: 2_000
          })
        )
        const explicit = yield* repo.put(agentRow("gamma", { seq: 77 }))
        expect(explicit.seq).toBe(77)
        expect(Option.map(yield* repo.get(AgentId.make("gamma")), (a) => a.seq)).toEqual(Option.some(77))
      })
    )
  )

  it.effect("the bound public key and allow_bearer round-trip, and a put replaces them", () =>
    run(
      Effect.gen(function* () {
        const repo = yield* AgentRepo
        const key = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
        const first = yield* repo.put(agentRow("keyed", { public_key: key, allow_bearer: true }))
        expect(yield* repo.get(AgentId.make("keyed"))).toEqual(Option.some(first))
        const listed = yield* repo.getWithLiveness(AgentId.make("keyed"))
        expect(Option.map(listed, (l) => [l.agent.public_key, l.agent.allow_bearer])).toEqual(
          Option.some([key, true])
        )
        yield* repo.put({ ...first, public_key: null, allow_bearer: false })
        expect(
          Option.map(yield* repo.get(AgentId.make("keyed")), (a) => [a.public_key, a.allow_bearer])
        ).toEqual(Option.some([null, false]))
      })
    )
  )

  it.effect("getWithLiveness: no liveness before a beat, the liveness row after, load counted", () =>
    run(
      Effect.gen(function* () {
        const repo = yield* AgentRepo
        yield* putAgents(agentRow("alpha"))
        const before = Option.getOrThrow(yield* repo.getWithLiveness(AgentId.make("alpha")))
        expect(Option.isNone(before.liveness)).toBe(true)
        expect(before.load).toBe(0)
        yield* beat("alpha", 5_000, { busy: true })
        yield* assign("alpha", "execute", "assigned")
        yield* assign("alpha", "review", "assigned")
        yield* assign("alpha", "execute", "output_ready")
        // Not load: a review waiting for its verdict to be read, finished or cancelled work, others' work.
        yield* assign("alpha", "review", "output_ready")
        yield* assign("alpha", "execute", "approved")
        yield* assign("alpha", "execute", "cancelled")
        yield* assign("alpha", "review", "rejected")
        yield* assign("beta", "execute", "assigned")
        const after = Option.getOrThrow(yield* repo.getWithLiveness(AgentId.make("alpha")))
        expect(after.liveness).toEqual(
          Option.some({ agent_id: "alpha", alive: true, busy: true, last_heartbeat_at: 5_000 })
        )
        expect(after.load).toBe(3)
        expect(after.agent).toEqual(Option.getOrThrow(yield* repo.get(AgentId.make("alpha"))))
      })
    )
  )

  it.effect("list is in registration order, not id order, and pages after an agent id", () =>
    run(
      Effect.gen(function* () {
        const repo = yield* AgentRepo
        yield* putAgents(agentRow("m"), agentRow("B"), agentRow("z"), agentRow("a"), agentRow("c"))
        const options = { aliveOnly: false, includeDeregistered: false }
        expect(ids(yield* repo.list({ ...options, after: Option.none(), limit: 100 }))).toEqual([
          "m",
          "B",
          "z",
          "a",
          "c"
        ])
        const page1 = yield* repo.list({ ...options, after: Option.none(), limit: 2 })
        expect(ids(page1)).toEqual(["m", "B"])
        const page2 = yield* repo.list({ ...options, after: Option.some(page1[1]!.agent.agent_id), limit: 2 })
        expect(ids(page2)).toEqual(["z", "a"])
        const page3 = yield* repo.list({ ...options, after: Option.some(page2[1]!.agent.agent_id), limit: 2 })
        expect(ids(page3)).toEqual(["c"])
        expect(yield* repo.list({ ...options, after: Option.some(AgentId.make("c")), limit: 2 })).toEqual([])
        // An id that is not registered: nothing comes after it.
        expect(yield* repo.list({ ...options, after: Option.some(AgentId.make("ghost")), limit: 2 })).toEqual(
          []
        )
      })
    )
  )

  it.effect(
    "list filters deregistered agents unless asked and alive agents when asked, with liveness and load",
    () =>
      run(
        Effect.gen(function* () {
          const repo = yield* AgentRepo
          yield* putAgents(
            agentRow("gone", { lifecycle: "deregistered" }),
            agentRow("silent"),
            agentRow("dead"),
            agentRow("live")
          )
          yield* beat("dead", 1_000, { alive: false })
          yield* beat("live", 3_000, { busy: true })
          yield* assign("live", "execute", "assigned")
          const page = (aliveOnly: boolean, includeDeregistered: boolean) =>
            repo.list({ aliveOnly, includeDeregistered, after: Option.none(), limit: 100 })
          expect(ids(yield* page(false, false))).toEqual(["silent", "dead", "live"])
          expect(ids(yield* page(false, true))).toEqual(["gone", "silent", "dead", "live"])
          expect(ids(yield* page(true, true))).toEqual(["live"])
          yield* beat("gone", 4_000)
          expect(ids(yield* page(true, false))).toEqual(["live"])
          expect(ids(yield* page(true, true))).toEqual(["gone", "live"])
          const all = yield* page(false, true)
          expect(all.map((r) => [r.agent.agent_id, Option.getOrNull(r.liveness), r.load])).toEqual([
            ["gone", { agent_id: "gone", alive: true, busy: false, last_heartbeat_at: 4_000 }, 0],
            ["silent", null, 0],
            ["dead", { agent_id: "dead", alive: false, busy: false, last_heartbeat_at: 1_000 }, 0],
            ["live", { agent_id: "live", alive: true, busy: true, last_heartbeat_at: 3_000 }, 1]
          ])
        })
      )
  )

  it.effect(
    "discover: registered, alive, declaring the capability; idle and under max_concurrency unless includeBusy",
    () =>
      run(
        Effect.gen(function* () {
          const repo = yield* AgentRepo
          yield* putAgents(
            agentRow("ok", { capabilities: [translate, summarize] }),
            agentRow("other-cap", { capabilities: [translate] }),
            agentRow("deregistered", { lifecycle: "deregistered", capabilities: [summarize] }),
            agentRow("pending", { lifecycle: "pending", capabilities: [summarize] }),
            agentRow("never-beat", { capabilities: [summarize] }),
            agentRow("timed-out", { capabilities: [summarize] }),
            agentRow("said-busy", { capabilities: [summarize] }),
            agentRow("full", { capabilities: [summarize] }),
            agentRow("half", { capabilities: [summarize] })
          )
          for (const id of ["ok", "other-cap", "deregistered", "pending", "full", "half"])
            yield* beat(id, 1_000)
          yield* beat("timed-out", 1_000, { alive: false })
          yield* beat("said-busy", 1_000, { busy: true })
          // summarize allows 2: two counted assignments make "full"; "half" has one plus uncounted ones.
          yield* assign("full", "execute", "assigned")
          yield* assign("full", "execute", "output_ready")
          yield* assign("half", "review", "assigned")
          yield* assign("half", "review", "output_ready")
          yield* assign("half", "execute", "approved")

          const idle = yield* repo.discover({ capability: "summarize", includeBusy: false, limit: 100 })
          expect(ids(idle)).toEqual(["ok", "half"])
          expect(idle.map((h) => [h.capability, h.load, h.last_heartbeat_at])).toEqual([
            [summarize, 0, 1_000],
            [summarize, 1, 1_000]
          ])
          const busyToo = yield* repo.discover({ capability: "summarize", includeBusy: true, limit: 100 })
          expect(ids(busyToo)).toEqual(["ok", "said-busy", "half", "full"])
          expect(busyToo.map((h) => h.load)).toEqual([0, 0, 1, 2])
          const other = yield* repo.discover({ capability: "translate", includeBusy: false, limit: 100 })
          expect(ids(other)).toEqual(["ok", "other-cap"])
          expect(other[0]!.capability).toEqual(translate)
          const ok = Option.getOrThrow(yield* repo.get(AgentId.make("ok")))
          expect(other[0]!.agent).toEqual({ agent_id: ok.agent_id, name: ok.name, endpoint: ok.endpoint })
          expect(yield* repo.discover({ capability: "unknown", includeBusy: true, limit: 100 })).toEqual([])
          // Short pages filled by agents without load apply the same filters.
          expect(
            ids(yield* repo.discover({ capability: "summarize", includeBusy: false, limit: 1 }))
          ).toEqual(["ok"])
          expect(ids(yield* repo.discover({ capability: "summarize", includeBusy: true, limit: 2 }))).toEqual(
            ["ok", "said-busy"]
          )
          expect(yield* repo.discover({ capability: "summarize", includeBusy: true, limit: 0 })).toEqual([])
        })
      )
  )

  it.effect(
    "discover orders by load, then most recent heartbeat, then agent id by code unit; limit applies",
    () =>
      run(
        Effect.gen(function* () {
          const repo = yield* AgentRepo
          const cap: Capability = { name: "render", max_concurrency: 5 }
          const agents = ["b", "B", "a", "A", "_", "old", "loaded", "recent"]
          yield* putAgents(...agents.map((id) => agentRow(id, { capabilities: [cap] })))
          for (const id of ["b", "B", "a", "A", "_"]) yield* beat(id, 2_000)
          yield* beat("old", 1_000)
          yield* beat("recent", 3_000)
          yield* beat("loaded", 9_000)
          yield* assign("loaded", "execute", "assigned")
          const all = yield* repo.discover({ capability: "render", includeBusy: false, limit: 100 })
          expect(ids(all)).toEqual(["recent", "A", "B", "_", "a", "b", "old", "loaded"])
          const top = yield* repo.discover({ capability: "render", includeBusy: false, limit: 3 })
          expect(ids(top)).toEqual(["recent", "A", "B"])
        })
      )
  )

  it.effect("put replaces the capability set that discover sees", () =>
    run(
      Effect.gen(function* () {
        const repo = yield* AgentRepo
        const [agent] = yield* putAgents(agentRow("alpha", { capabilities: [summarize] }))
        yield* beat("alpha", 1_000)
        expect(ids(yield* repo.discover({ capability: "summarize", includeBusy: false, limit: 10 }))).toEqual(
          ["alpha"]
        )
        yield* repo.put({ ...agent!, capabilities: [translate] })
        expect(yield* repo.discover({ capability: "summarize", includeBusy: false, limit: 10 })).toEqual([])
        expect(ids(yield* repo.discover({ capability: "translate", includeBusy: false, limit: 10 }))).toEqual(
          ["alpha"]
        )
        yield* repo.put({ ...agent!, capabilities: [] })
        expect(yield* repo.discover({ capability: "translate", includeBusy: true, limit: 10 })).toEqual([])
      })
    )
  )

  it.effect(
    "discover follows every liveness write: touch, claim, last-seen batch, capabilities declared later",
    () =>
      run(
        Effect.gen(function* () {
          const repo = yield* AgentRepo
          const liveness = yield* LivenessRepo
          const hits = (includeBusy: boolean) =>
            Effect.map(repo.discover({ capability: "summarize", includeBusy, limit: 10 }), (found) =>
              found.map((h) => [h.agent.agent_id, h.last_heartbeat_at])
            )
          // Beats before the capability is declared: the capability row starts with that liveness.
          yield* beat("early", 5_000)
          yield* beat("late", 1_000)
          yield* putAgents(
            agentRow("early", { capabilities: [summarize] }),
            agentRow("late", { capabilities: [translate, summarize] })
          )
          expect(yield* hits(false)).toEqual([
            ["early", 5_000],
            ["late", 1_000]
          ])
          yield* liveness.touch(AgentId.make("late"), false, 9_000)
          expect(yield* hits(false)).toEqual([
            ["late", 9_000],
            ["early", 5_000]
          ])
          yield* liveness.touch(AgentId.make("late"), true, 9_500)
          expect(yield* hits(false)).toEqual([["early", 5_000]])
          expect(yield* hits(true)).toEqual([
            ["late", 9_500],
            ["early", 5_000]
          ])
          yield* liveness.writeLastSeen([{ agent_id: AgentId.make("early"), at: 12_000 }])
          expect(yield* hits(true)).toEqual([
            ["early", 12_000],
            ["late", 9_500]
          ])
          expect(
            yield* liveness.claimTimeout(AgentId.make("early"), { idleCutoff: 20_000, busyCutoff: 20_000 })
          ).toBe(true)
          expect(yield* hits(true)).toEqual([["late", 9_500]])
          yield* beat("early", 30_000)
          expect(yield* hits(true)).toEqual([
            ["early", 30_000],
            ["late", 9_500]
          ])
        })
      )
  )

  it.effect("a failed transaction leaves no agent; a failed savepoint keeps the outer writes", () =>
    run(
      Effect.gen(function* () {
        const repo = yield* AgentRepo
        const store = yield* Store
        const failed = yield* store
          .transaction(
            Effect.zipRight(
              repo.put(agentRow("rolled-back", { capabilities: [summarize] })),
              Effect.fail("boom")
            )
          )
          .pipe(Effect.flip)
        expect(failed).toBe("boom")
        expect(Option.isNone(yield* repo.get(AgentId.make("rolled-back")))).toBe(true)

        yield* store.transaction(
          Effect.gen(function* () {
            yield* repo.put(agentRow("outer", { capabilities: [summarize] }))
            const inner = yield* store
              .transaction(
                Effect.zipRight(
                  repo.put(agentRow("inner", { capabilities: [summarize] })),
                  Effect.fail("inner")
                )
              )
              .pipe(Effect.flip)
            expect(inner).toBe("inner")
          })
        )
        yield* beat("outer", 1_000)
        yield* beat("inner", 1_000)
        expect(Option.isSome(yield* repo.get(AgentId.make("outer")))).toBe(true)
        expect(Option.isNone(yield* repo.get(AgentId.make("inner")))).toBe(true)
        expect(ids(yield* repo.discover({ capability: "summarize", includeBusy: true, limit: 10 }))).toEqual([
          "outer"
        ])
        expect(
          ids(
            yield* repo.list({ aliveOnly: false, includeDeregistered: true, after: Option.none(), limit: 10 })
          )
        ).toEqual(["outer"])
      })
    )
  )
})
