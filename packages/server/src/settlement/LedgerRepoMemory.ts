import { type EntryId, type HoldId, idNumber } from "@agent-marketplace/domain/shared/Ids"
import { Effect, Layer, Option } from "effect"
import { MemoryDb, nextSequence, pageAfter, pushUndoable } from "../platform/MemoryDb"
import { recordUndo, setUndoable } from "../platform/Store"
import { type AccountTotals, type EntryRow, type HoldRow, LedgerRepo } from "./LedgerRepo"

export const LedgerRepoMemory = Layer.effect(
  LedgerRepo,
  Effect.gen(function* () {
    const tables = yield* MemoryDb
    const balance = (account: string) => Effect.sync(() => tables.balances.get(account) ?? 0)
    const getHold = (id: HoldId) => Effect.sync(() => Option.fromNullable(tables.holds.get(id)))
    const holdsOf = (ids: ReadonlyArray<HoldId> | undefined): Array<HoldRow> =>
      (ids ?? []).map((id) => tables.holds.get(id)!)
    return {
      nextHoldId: Effect.map(nextSequence(tables, "hold"), (n) => `hold-${n}` as HoldId),
      appendEntry: (entry) =>
        Effect.gen(function* () {
          const n = yield* nextSequence(tables, "entry")
          const row: EntryRow = { ...entry, entry_id: `entry-${n}` as EntryId }
          const index = tables.entries.length
          tables.entries.push(row)
          yield* recordUndo(() => {
            tables.entries.pop()
          })
          yield* pushUndoable(tables.entriesByAccount, row.debit_account, index)
          yield* pushUndoable(tables.entriesByAccount, row.credit_account, index)
          const debit = tables.balances.get(row.debit_account) ?? 0
          yield* setUndoable(tables.balances, row.debit_account, debit - row.amount)
          const credit = tables.balances.get(row.credit_account) ?? 0
          yield* setUndoable(tables.balances, row.credit_account, credit + row.amount)
          return row
        }),
      balance,
      lockBalance: balance,
      getHold,
      lockHold: getHold,
      putHold: (row) =>
        Effect.gen(function* () {
          const isNew = !tables.holds.has(row.hold_id)
          yield* setUndoable(tables.holds, row.hold_id, row)
          if (isNew) {
            yield* pushUndoable(tables.holdsByAssignment, row.assignment_id, row.hold_id)
            yield* pushUndoable(tables.holdsByAgent, row.payer, row.hold_id)
            if (row.payee !== row.payer) yield* pushUndoable(tables.holdsByAgent, row.payee, row.hold_id)
          }
        }),
      activeHoldOf: (assignmentId) =>
        Effect.sync(() =>
          Option.fromNullable(
            holdsOf(tables.holdsByAssignment.get(assignmentId)).find((h) => h.status === "active")
          )
        ),
      activeHoldsOfTask: (taskId) =>
        Effect.sync(() =>
          [...tables.holds.values()]
            .filter((h) => h.task_id === taskId && h.status === "active")
            .sort((a, b) => idNumber(a.hold_id) - idNumber(b.hold_id))
        ),
      listHolds: (agentId, role, status, cursor) =>
        Effect.sync(() => {
          const rows = holdsOf(tables.holdsByAgent.get(agentId)).filter(
            (h) =>
              (role === "any" || (role === "payer" ? h.payer === agentId : h.payee === agentId)) &&
              (Option.isNone(status) || h.status === status.value)
          )
          return pageAfter(rows, (h) => h.hold_id, cursor.after, cursor.limit, idNumber)
        }),
      activeTotals: (agentId) =>
        Effect.sync(() => {
          let asPayer = 0
          let asPayee = 0
          for (const h of holdsOf(tables.holdsByAgent.get(agentId))) {
            if (h.status !== "active") continue
            if (h.payer === agentId) asPayer += h.amount
            if (h.payee === agentId) asPayee += h.amount
          }
          return { asPayer, asPayee }
        }),
      entriesOf: (account, cursor) =>
        Effect.sync(() => {
          const rows = (tables.entriesByAccount.get(account) ?? []).map((i) => tables.entries[i]!)
          return pageAfter(rows, (e) => e.entry_id, cursor.after, cursor.limit, idNumber)
        }),
      auditData: Effect.sync(() => {
        const totals = new Map<string, { credits: number; debits: number }>()
        const bump = (account: string, field: "credits" | "debits", amount: number) => {
          const t = totals.get(account) ?? { credits: 0, debits: 0 }
          t[field] += amount
          totals.set(account, t)
        }
        for (const e of tables.entries) {
          bump(e.debit_account, "debits", e.amount)
          bump(e.credit_account, "credits", e.amount)
        }
        return {
          totals: [...totals].map(([account, t]): AccountTotals => ({ account, ...t })),
          balances: [...tables.balances].map(([account, balance]) => ({ account, balance })),
          holds: [...tables.holds.values()],
          holdEntries: tables.entries
            .filter((e) => e.hold_id !== null && (e.reason === "release" || e.reason === "refund"))
            .map((e) => ({ hold_id: e.hold_id!, reason: e.reason }))
        }
      })
    }
  })
)
