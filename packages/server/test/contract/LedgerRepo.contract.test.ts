import type { HoldStatus, LedgerReason } from "@agent-marketplace/domain/settlement/Settlement"
import {
  AgentId,
  AssignmentId,
  type EntryId,
  type HoldId,
  TaskId
} from "@agent-marketplace/domain/shared/Ids"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import { Store } from "../../src/platform/Store"
import { type EntryRow, type HoldRow, LedgerRepo } from "../../src/settlement/LedgerRepo"
import { blockedWhileHeld, postgresWithClient } from "../support/PgLocks"
import { postgresSkipped, storeCases } from "../support/Stores"

const alice = AgentId.make("alice")
const bob = AgentId.make("bob")
const carol = AgentId.make("carol")
const EXTERNAL = "external"
const acct = (agent: string) => `agent:${agent}`

const entry = (
  debit_account: string,
  credit_account: string,
  amount: number,
  reason: LedgerReason,
  hold_id: HoldId | null = null,
  at = 1_000
): Omit<EntryRow, "entry_id"> => ({ debit_account, credit_account, amount, reason, hold_id, at })

const holdRow = (hold_id: HoldId, overrides: Partial<HoldRow> = {}): HoldRow => ({
  hold_id,
  task_id: TaskId.make("task-1"),
  assignment_id: AssignmentId.make("assignment-1"),
  payer: alice,
  payee: bob,
  kind: "execute",
  amount: 10,
  status: "active",
  created_at: 2_000,
  settled_at: null,
  ...overrides
})

/** Holds with ids from the store's sequence (creation order = id order, as in the services). */
const createHolds = (count: number, overrides: (i: number) => Partial<HoldRow>) =>
  Effect.gen(function* () {
    const ledger = yield* LedgerRepo
    const rows: Array<HoldRow> = []
    for (let i = 0; i < count; i++) {
      const row = holdRow(yield* ledger.nextHoldId, overrides(i))
      yield* ledger.putHold(row)
      rows.push(row)
    }
    return rows
  })

/** Every page of a keyset-paginated list, `limit` rows at a time. */
const allPages = <Id extends string, A>(
  list: (cursor: { after: Option.Option<NoInfer<Id>>; limit: number }) => Effect.Effect<ReadonlyArray<A>>,
  idOf: (a: A) => Id,
  limit: number
) =>
  Effect.gen(function* () {
    const rows: Array<A> = []
    const sizes: Array<number> = []
    let after = Option.none<Id>()
    for (;;) {
      const page = yield* list({ after, limit })
      sizes.push(page.length)
      rows.push(...page)
      if (page.length < limit) return { rows, sizes }
      after = Option.some(idOf(page[page.length - 1]!))
    }
  })

const all = { after: Option.none<never>(), limit: 1000 }
const holdIds = (rows: ReadonlyArray<HoldRow>) => rows.map((h) => h.hold_id as string)
const entryIds = (rows: ReadonlyArray<EntryRow>) => rows.map((e) => e.entry_id as string)

describe.each(storeCases)("LedgerRepo contract ($name)", (storeCase) => {
  const run = <A, E>(effect: Effect.Effect<A, E, LedgerRepo | Store>) =>
    Effect.provide(effect, storeCase.layer())

  it.effect("hold ids are hold-N; appendEntry returns the entry with entry-N, increasing", () =>
    run(
      Effect.gen(function* () {
        const ledger = yield* LedgerRepo
        expect(yield* ledger.nextHoldId).toBe("hold-1")
        expect(yield* ledger.nextHoldId).toBe("hold-2")
        const e1 = yield* ledger.appendEntry(entry(EXTERNAL, acct("alice"), 5, "deposit"))
        expect(e1).toEqual({ ...entry(EXTERNAL, acct("alice"), 5, "deposit"), entry_id: "entry-1" })
        const e2 = yield* ledger.appendEntry(
          entry(acct("alice"), "hold:hold-1", 3, "hold", "hold-1" as HoldId, Number.MAX_SAFE_INTEGER)
        )
        expect(e2).toEqual({
          ...entry(acct("alice"), "hold:hold-1", 3, "hold", "hold-1" as HoldId, Number.MAX_SAFE_INTEGER),
          entry_id: "entry-2"
        })
        expect(yield* ledger.nextHoldId).toBe("hold-3")
      })
    )
  )

  it.effect("balances: 0 when never used; both sides of each entry applied; large integers exact", () =>
    run(
      Effect.gen(function* () {
        const ledger = yield* LedgerRepo
        const store = yield* Store
        expect(yield* ledger.balance(acct("alice"))).toBe(0)
        expect(yield* store.transaction(ledger.lockBalance(acct("nobody")))).toBe(0)
        expect(yield* ledger.balance(acct("nobody"))).toBe(0)
        yield* ledger.appendEntry(entry(EXTERNAL, acct("alice"), 100, "deposit"))
        yield* ledger.appendEntry(entry(EXTERNAL, acct("bob"), 50, "deposit"))
        // debit account sorting after the credit account, and before it
        yield* ledger.appendEntry(entry(acct("zed"), acct("alice"), 0, "deposit"))
        yield* ledger.appendEntry(entry(acct("bob"), acct("alice"), 20, "withdraw"))
        yield* ledger.appendEntry(entry(acct("alice"), acct("bob"), 5, "withdraw"))
        expect(yield* ledger.balance(acct("alice"))).toBe(115)
        expect(yield* ledger.balance(acct("bob"))).toBe(35)
        expect(yield* ledger.balance(EXTERNAL)).toBe(-150)
        expect(yield* ledger.balance(acct("zed"))).toBe(0)
        expect(yield* store.transaction(ledger.lockBalance(acct("alice")))).toBe(115)
        yield* ledger.appendEntry(entry(EXTERNAL, acct("rich"), Number.MAX_SAFE_INTEGER, "deposit"))
        expect(yield* ledger.balance(acct("rich"))).toBe(Number.MAX_SAFE_INTEGER)
        expect(yield* store.transaction(ledger.lockBalance(acct("rich")))).toBe(Number.MAX_SAFE_INTEGER)
      })
    )
  )

  it.effect("entriesOf lists an account's entries on both sides in order, paged by keyset", () =>
    run(
      Effect.gen(function* () {
        const ledger = yield* LedgerRepo
        const written: Array<EntryRow> = []
        for (let i = 0; i < 12; i++) {
          const e =
            i % 3 === 0
              ? entry(EXTERNAL, acct("alice"), i + 1, "deposit", null, 100 + i)
              : i % 3 === 1
                ? entry(acct("alice"), `hold:hold-${i}`, i + 1, "hold", `hold-${i}` as HoldId, 100 + i)
                : entry(EXTERNAL, acct("bob"), i + 1, "deposit", null, 100 + i)
          written.push(yield* ledger.appendEntry(e))
        }
        const ofAlice = written.filter(
          (e) => e.debit_account === acct("alice") || e.credit_account === acct("alice")
        )
        const list = (account: string, limit: number) =>
          allPages(
            (cursor) => ledger.entriesOf(account, cursor),
            (e: EntryRow) => e.entry_id,
            limit
          )
        expect((yield* list(acct("alice"), 1000)).rows).toEqual(ofAlice)
        const paged = yield* list(acct("alice"), 3)
        expect(paged.rows).toEqual(ofAlice)
        expect(paged.sizes).toEqual([3, 3, 2])
        expect(entryIds((yield* list(acct("bob"), 1)).rows)).toEqual([
          "entry-3",
          "entry-6",
          "entry-9",
          "entry-12"
        ])
        expect((yield* list(EXTERNAL, 5)).rows.length).toBe(8)
        expect(
          entryIds(
            yield* ledger.entriesOf(acct("alice"), { after: Option.some("entry-9" as EntryId), limit: 5 })
          )
        ).toEqual(["entry-10", "entry-11"])
        expect(yield* ledger.entriesOf("hold:hold-1", all)).toEqual([written[1]])
        expect(yield* ledger.entriesOf(acct("nobody"), all)).toEqual([])
      })
    )
  )

  it.effect("a hold round-trips; put overwrites; lockHold reads it; unknown is none", () =>
    run(
      Effect.gen(function* () {
        const ledger = yield* LedgerRepo
        const store = yield* Store
        const id = yield* ledger.nextHoldId
        expect(Option.isNone(yield* ledger.getHold(id))).toBe(true)
        const row = holdRow(id, { kind: "review", amount: Number.MAX_SAFE_INTEGER })
        yield* ledger.putHold(row)
        expect(yield* ledger.getHold(id)).toEqual(Option.some(row))
        const settled = { ...row, status: "released" as const, settled_at: 3_000 }
        yield* ledger.putHold(settled)
        expect(yield* ledger.getHold(id)).toEqual(Option.some(settled))
        expect(yield* store.transaction(ledger.lockHold(id))).toEqual(Option.some(settled))
        expect(Option.isNone(yield* store.transaction(ledger.lockHold("hold-9" as HoldId)))).toBe(true)
      })
    )
  )

  it.effect("activeHoldOf and activeHoldsOfTask see active holds only, by id number", () =>
    run(
      Effect.gen(function* () {
        const ledger = yield* LedgerRepo
        const a1 = AssignmentId.make("assignment-1")
        const a2 = AssignmentId.make("assignment-2")
        const holds = yield* createHolds(11, (i) => ({
          assignment_id: i < 2 ? a1 : a2,
          task_id: TaskId.make(i % 2 === 0 ? "task-1" : "task-2"),
          status: i === 0 ? "refunded" : "active"
        }))
        expect(yield* ledger.activeHoldOf(a1)).toEqual(Option.some(holds[1]))
        expect(Option.map(yield* ledger.activeHoldOf(a2), (h) => h.hold_id)).toEqual(Option.some("hold-3"))
        yield* ledger.putHold({ ...holds[1]!, status: "released", settled_at: 5 })
        expect(Option.isNone(yield* ledger.activeHoldOf(a1))).toBe(true)
        expect(Option.isNone(yield* ledger.activeHoldOf(AssignmentId.make("assignment-3")))).toBe(true)
        expect(holdIds(yield* ledger.activeHoldsOfTask(TaskId.make("task-1")))).toEqual([
          "hold-3",
          "hold-5",
          "hold-7",
          "hold-9",
          "hold-11"
        ])
        expect(holdIds(yield* ledger.activeHoldsOfTask(TaskId.make("task-2")))).toEqual([
          "hold-4",
          "hold-6",
          "hold-8",
          "hold-10"
        ])
        expect(yield* ledger.activeHoldsOfTask(TaskId.make("task-3"))).toEqual([])
      })
    )
  )

  it.effect("listHolds filters by role and status and pages by keyset; activeTotals sums active holds", () =>
    run(
      Effect.gen(function* () {
        const ledger = yield* LedgerRepo
        const statuses: ReadonlyArray<HoldStatus> = ["active", "released", "refunded"]
        const holds = yield* createHolds(14, (i) => ({
          payer: i % 3 === 1 ? bob : alice,
          payee: i % 4 === 0 ? alice : i % 4 === 1 ? bob : carol,
          status: statuses[Math.floor(i / 2) % 3]!,
          amount: 10 * (i + 1)
        }))
        const roles = ["payer", "payee", "any"] as const
        for (const agent of [alice, bob, carol]) {
          for (const role of roles) {
            for (const status of [Option.none<HoldStatus>(), ...statuses.map((s) => Option.some(s))]) {
              const expected = holds.filter(
                (h) =>
                  (role === "payer"
                    ? h.payer === agent
                    : role === "payee"
                      ? h.payee === agent
                      : h.payer === agent || h.payee === agent) &&
                  (Option.isNone(status) || h.status === status.value)
              )
              const whole = yield* ledger.listHolds(agent, role, status, all)
              expect(whole).toEqual(expected)
              const paged = yield* allPages(
                (cursor) => ledger.listHolds(agent, role, status, cursor),
                (h: HoldRow) => h.hold_id,
                2
              )
              expect(paged.rows).toEqual(expected)
            }
          }
          const active = holds.filter((h) => h.status === "active")
          expect(yield* ledger.activeTotals(agent)).toEqual({
            asPayer: active.filter((h) => h.payer === agent).reduce((n, h) => n + h.amount, 0),
            asPayee: active.filter((h) => h.payee === agent).reduce((n, h) => n + h.amount, 0)
          })
        }
        // hold-1 is alice → alice (payer and payee): listed once under "any", counted on both sides
        expect(holdIds(yield* ledger.listHolds(alice, "any", Option.some("active"), all))).toEqual([
          "hold-1",
          "hold-7",
          "hold-13"
        ])
        expect(yield* ledger.activeTotals(alice)).toEqual({ asPayer: 10 + 70 + 130, asPayee: 10 + 130 })
        expect(
          holdIds(
            yield* ledger.listHolds(alice, "payer", Option.none(), {
              after: Option.some("hold-9" as HoldId),
              limit: 3
            })
          )
        ).toEqual(["hold-10", "hold-12", "hold-13"])
        expect(yield* ledger.activeTotals(AgentId.make("nobody"))).toEqual({ asPayer: 0, asPayee: 0 })
        expect(yield* ledger.listHolds(AgentId.make("nobody"), "any", Option.none(), all)).toEqual([])
      })
    )
  )

  it.effect(
    "auditData: per-account totals recomputed from entries, stored balances, holds, settlements",
    () =>
      run(
        Effect.gen(function* () {
          const ledger = yield* LedgerRepo
          const store = yield* Store
          expect(yield* ledger.auditData).toEqual({ totals: [], balances: [], holds: [], holdEntries: [] })
          const h1 = yield* ledger.nextHoldId
          const h2 = yield* ledger.nextHoldId
          yield* ledger.appendEntry(entry(EXTERNAL, acct("alice"), 100, "deposit"))
          yield* ledger.appendEntry(entry(EXTERNAL, acct("bob"), 50, "deposit"))
          yield* ledger.putHold(holdRow(h1, { amount: 30 }))
          yield* ledger.appendEntry(entry(acct("alice"), `hold:${h1}`, 30, "hold", h1))
          yield* ledger.putHold(holdRow(h1, { amount: 30, status: "released", settled_at: 5 }))
          yield* ledger.appendEntry(entry(`hold:${h1}`, acct("bob"), 30, "release", h1))
          yield* ledger.appendEntry(entry(acct("bob"), EXTERNAL, 20, "withdraw"))
          yield* ledger.putHold(holdRow(h2, { amount: 10, payee: carol, kind: "review" }))
          yield* ledger.appendEntry(entry(acct("alice"), `hold:${h2}`, 10, "hold", h2))
          yield* ledger.putHold(
            holdRow(h2, { amount: 10, payee: carol, kind: "review", status: "refunded", settled_at: 6 })
          )
          yield* ledger.appendEntry(entry(`hold:${h2}`, acct("alice"), 10, "refund", h2))
          // a locked but never used account is not a stored balance of the audit
          yield* store.transaction(ledger.lockBalance(acct("carol")))
          expect(yield* ledger.auditData).toEqual({
            totals: [
              { account: EXTERNAL, credits: 20, debits: 150 },
              { account: acct("alice"), credits: 110, debits: 40 },
              { account: acct("bob"), credits: 80, debits: 20 },
              { account: `hold:${h1}`, credits: 30, debits: 30 },
              { account: `hold:${h2}`, credits: 10, debits: 10 }
            ],
            balances: [
              { account: EXTERNAL, balance: -130 },
              { account: acct("alice"), balance: 70 },
              { account: acct("bob"), balance: 60 },
              { account: `hold:${h1}`, balance: 0 },
              { account: `hold:${h2}`, balance: 0 }
            ],
            holds: [
              holdRow(h1, { amount: 30, status: "released", settled_at: 5 }),
              holdRow(h2, { amount: 10, payee: carol, kind: "review", status: "refunded", settled_at: 6 })
            ],
            holdEntries: [
              { hold_id: h1, reason: "release" },
              { hold_id: h2, reason: "refund" }
            ]
          })
        })
      )
  )

  it.effect(
    "a failed transaction leaves no entry, balance or hold; a failed savepoint keeps the outer writes",
    () =>
      run(
        Effect.gen(function* () {
          const ledger = yield* LedgerRepo
          const store = yield* Store
          yield* ledger.appendEntry(entry(EXTERNAL, acct("alice"), 100, "deposit"))
          const before = yield* ledger.auditData
          const error = yield* store
            .transaction(
              Effect.gen(function* () {
                expect(yield* ledger.lockBalance(acct("alice"))).toBe(100)
                expect(yield* ledger.lockBalance(acct("bob"))).toBe(0)
                const id = yield* ledger.nextHoldId
                yield* ledger.putHold(holdRow(id, { amount: 40 }))
                yield* ledger.appendEntry(entry(acct("alice"), `hold:${id}`, 40, "hold", id))
                yield* ledger.appendEntry(entry(EXTERNAL, acct("bob"), 7, "deposit"))
                expect(yield* ledger.balance(acct("alice"))).toBe(60)
                return yield* Effect.fail("boom" as const)
              })
            )
            .pipe(Effect.flip)
          expect(error).toBe("boom")
          expect(yield* ledger.balance(acct("alice"))).toBe(100)
          expect(yield* ledger.balance(acct("bob"))).toBe(0)
          expect(yield* ledger.balance(EXTERNAL)).toBe(-100)
          expect(yield* ledger.listHolds(alice, "any", Option.none(), all)).toEqual([])
          expect(entryIds(yield* ledger.entriesOf(acct("alice"), all))).toEqual(["entry-1"])
          expect(yield* ledger.auditData).toEqual(before)

          const outer = yield* store.transaction(
            Effect.gen(function* () {
              const kept = yield* ledger.appendEntry(entry(EXTERNAL, acct("bob"), 30, "deposit"))
              const inner = yield* store
                .transaction(
                  Effect.gen(function* () {
                    yield* ledger.lockBalance(acct("carol"))
                    yield* ledger.appendEntry(entry(acct("bob"), acct("carol"), 30, "withdraw"))
                    yield* ledger.putHold(holdRow(yield* ledger.nextHoldId))
                    return yield* Effect.fail("inner" as const)
                  })
                )
                .pipe(Effect.flip)
              expect(inner).toBe("inner")
              return kept
            })
          )
          expect(yield* ledger.balance(acct("bob"))).toBe(30)
          expect(yield* ledger.balance(acct("carol"))).toBe(0)
          expect(yield* ledger.balance(EXTERNAL)).toBe(-130)
          expect(yield* ledger.entriesOf(acct("bob"), all)).toEqual([outer])
          expect(yield* ledger.listHolds(alice, "any", Option.none(), all)).toEqual([])
          const audit = yield* ledger.auditData
          expect(audit.balances).toEqual([
            { account: EXTERNAL, balance: -130 },
            { account: acct("alice"), balance: 100 },
            { account: acct("bob"), balance: 30 }
          ])
          expect(audit.totals.map((t) => t.account)).toEqual([EXTERNAL, acct("alice"), acct("bob")])
        })
      )
  )
})

describe.skipIf(postgresSkipped)("LedgerRepo row locks (postgres)", () => {
  it.effect("lockBalance locks the account row, even for an account never used; reads do not wait", () =>
    Effect.gen(function* () {
      const ledger = yield* LedgerRepo
      yield* ledger.appendEntry(entry(EXTERNAL, acct("alice"), 100, "deposit"))
      const lockAlice = ledger.lockBalance(acct("alice"))
      expect(yield* blockedWhileHeld(lockAlice, lockAlice)).toBe(true)
      expect(yield* blockedWhileHeld(lockAlice, ledger.balance(acct("alice")))).toBe(false)
      expect(yield* blockedWhileHeld(lockAlice, ledger.lockBalance(acct("bob")))).toBe(false)
      const lockNew = ledger.lockBalance(acct("newcomer"))
      expect(yield* blockedWhileHeld(lockNew, lockNew)).toBe(true)
      // a spend waits for the lock holder: appendEntry updates the locked row
      expect(
        yield* blockedWhileHeld(lockAlice, ledger.appendEntry(entry(acct("alice"), EXTERNAL, 1, "withdraw")))
      ).toBe(true)
      expect(yield* ledger.balance(acct("alice"))).toBe(100)
    }).pipe(Effect.provide(postgresWithClient()))
  )

  it.effect("lockHold locks the hold row", () =>
    Effect.gen(function* () {
      const ledger = yield* LedgerRepo
      const h1 = yield* ledger.nextHoldId
      const h2 = yield* ledger.nextHoldId
      yield* ledger.putHold(holdRow(h1))
      yield* ledger.putHold(holdRow(h2))
      expect(yield* blockedWhileHeld(ledger.lockHold(h1), ledger.lockHold(h1))).toBe(true)
      expect(yield* blockedWhileHeld(ledger.lockHold(h1), ledger.lockHold(h2))).toBe(false)
      expect(yield* blockedWhileHeld(ledger.lockHold(h1), ledger.getHold(h1))).toBe(false)
    }).pipe(Effect.provide(postgresWithClient()))
  )
})
