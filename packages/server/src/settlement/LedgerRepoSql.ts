import { HoldStatus, LedgerReason } from "@agent-marketplace/domain/settlement/Settlement"
import {
  AgentId,
  AssignmentId,
  EntryId,
  HoldId,
  idNumber,
  TaskId
} from "@agent-marketplace/domain/shared/Ids"
import { AssignmentKind } from "@agent-marketplace/domain/tasks/Task"
import { SqlClient } from "@effect/sql"
import { Effect, Layer, Option, Schema } from "effect"
import { decodeRows, forUpdate, nextSequence, SqlInt, SqlIntOrNull, seqPage, upsert } from "../platform/Sql"
import { type EntryRow, type HoldRow, LedgerRepo } from "./LedgerRepo"

const HoldEntryRow = Schema.Struct({ hold_id: HoldId, reason: LedgerReason })

const ActiveTotalsRow = Schema.Struct({ as_payer: SqlInt, as_payee: SqlInt })

const HoldRecord = Schema.Struct({
  hold_id: HoldId,
  task_id: TaskId,
  assignment_id: AssignmentId,
  payer: AgentId,
  payee: AgentId,
  kind: AssignmentKind,
  amount: SqlInt,
  status: HoldStatus,
  created_at: SqlInt,
  settled_at: SqlIntOrNull
})

const EntryRecord = Schema.Struct({
  entry_id: EntryId,
  debit_account: Schema.String,
  credit_account: Schema.String,
  amount: SqlInt,
  reason: LedgerReason,
  hold_id: Schema.NullOr(HoldId),
  at: SqlInt
})

const BalanceRecord = Schema.Struct({ account: Schema.String, balance: SqlInt })
const TotalsRecord = Schema.Struct({ account: Schema.String, credits: SqlInt, debits: SqlInt })

/**
 * The ledger over `SqlClient`. `appendEntry` inserts the entry and applies it to both stored balances
 * in the same call, touching the two balance rows in sorted account order so that concurrent
 * transactions on Postgres always lock them in the same order. `lockBalance` first makes sure the
 * account row exists (so there is a row to lock even for an account never used). Amounts are
 * integers (`BIGINT`, decoded with `SqlInt`). SQL failures are defects.
 */
export const LedgerRepoSql: Layer.Layer<LedgerRepo, never, SqlClient.SqlClient> = Layer.effect(
  LedgerRepo,
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const sequence = (name: "hold" | "entry") =>
      Effect.provideService(nextSequence(name), SqlClient.SqlClient, sql)
    const holdColumns = sql.literal(
      "hold_id, task_id, assignment_id, payer, payee, kind, amount, status, created_at, settled_at"
    )
    const entryColumns = sql.literal("entry_id, debit_account, credit_account, amount, reason, hold_id, at")
    const holds = decodeRows(HoldRecord)
    const entries = decodeRows(EntryRecord)
    const balanceOf = (rows: ReadonlyArray<{ readonly balance: number }>) => rows[0]?.balance ?? 0

    const balance = (account: string) =>
      sql`SELECT account, balance FROM balances WHERE account = ${account}`.pipe(
        decodeRows(BalanceRecord),
        Effect.map(balanceOf),
        Effect.orDie
      )
    const getHold = (id: HoldId, lock: boolean) =>
      sql`SELECT ${holdColumns} FROM holds WHERE hold_id = ${id}${lock ? forUpdate(sql) : sql.literal("")}`.pipe(
        holds,
        Effect.map((rows) => Option.fromNullable(rows[0])),
        Effect.orDie
      )
    const addToBalance = (account: string, delta: number) =>
      sql`INSERT INTO balances (account, balance) VALUES (${account}, ${delta})
        ON CONFLICT (account) DO UPDATE SET balance = balances.balance + excluded.balance`

    return {
      nextHoldId: Effect.map(sequence("hold"), (n) => `hold-${n}` as HoldId),
      appendEntry: (entry) =>
        Effect.gen(function* () {
          const n = yield* sequence("entry")
          const row: EntryRow = { ...entry, entry_id: `entry-${n}` as EntryId }
          yield* sql`INSERT INTO entries ${sql.insert({
            entry_id: row.entry_id,
            seq: n,
            debit_account: row.debit_account,
            credit_account: row.credit_account,
            amount: row.amount,
            reason: row.reason,
            hold_id: row.hold_id,
            at: row.at
          })}`
          // A fixed order (account name) for the two row locks, so replicas never deadlock on them.
          const changes: Array<readonly [string, number]> = [
            [row.debit_account, -row.amount],
            [row.credit_account, row.amount]
          ]
          changes.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
          for (const [account, delta] of changes) yield* addToBalance(account, delta)
          return row
        }).pipe(Effect.orDie),
      balance,
      lockBalance: (account) =>
        Effect.gen(function* () {
          yield* sql`INSERT INTO balances (account, balance) VALUES (${account}, 0) ON CONFLICT (account) DO NOTHING`
          return yield* sql`SELECT account, balance FROM balances WHERE account = ${account}${forUpdate(sql)}`.pipe(
            decodeRows(BalanceRecord),
            Effect.map(balanceOf)
          )
        }).pipe(Effect.orDie),
      getHold: (id) => getHold(id, false),
      lockHold: (id) => getHold(id, true),
      putHold: (row: HoldRow) =>
        upsert(sql, "holds", "hold_id", {
          hold_id: row.hold_id,
          seq: idNumber(row.hold_id),
          task_id: row.task_id,
          assignment_id: row.assignment_id,
          payer: row.payer,
          payee: row.payee,
          kind: row.kind,
          amount: row.amount,
          status: row.status,
          created_at: row.created_at,
          settled_at: row.settled_at
        }),
      activeHoldOf: (assignmentId) =>
        sql`SELECT ${holdColumns} FROM holds
          WHERE assignment_id = ${assignmentId} AND status = 'active' ORDER BY seq LIMIT 1`.pipe(
          holds,
          Effect.map((rows) => Option.fromNullable(rows[0])),
          Effect.orDie
        ),
      activeHoldsOfTask: (taskId) =>
        sql`SELECT ${holdColumns} FROM holds WHERE task_id = ${taskId} AND status = 'active' ORDER BY seq`.pipe(
          holds,
          Effect.orDie
        ),
      listHolds: (agentId, role, status, cursor) =>
        Option.match(seqPage(sql, "seq", cursor), {
          onNone: () => Effect.succeed([]),
          onSome: (page) => {
            const party =
              role === "payer"
                ? sql`payer = ${agentId}`
                : role === "payee"
                  ? sql`payee = ${agentId}`
                  : sql`(payer = ${agentId} OR payee = ${agentId})`
            const statusFilter = Option.match(status, {
              onNone: () => sql.literal(""),
              onSome: (s) => sql`AND status = ${s}`
            })
            return sql`SELECT ${holdColumns} FROM holds
              WHERE ${party} ${statusFilter} AND ${page.after} ORDER BY seq ${page.limit}`.pipe(
              holds,
              Effect.orDie
            )
          }
        }),
      activeTotals: (agentId) =>
        sql`SELECT
            COALESCE(SUM(CASE WHEN payer = ${agentId} THEN amount ELSE 0 END), 0) AS as_payer,
            COALESCE(SUM(CASE WHEN payee = ${agentId} THEN amount ELSE 0 END), 0) AS as_payee
          FROM holds WHERE status = 'active' AND (payer = ${agentId} OR payee = ${agentId})`.pipe(
          decodeRows(ActiveTotalsRow),
          Effect.map((rows) => ({ asPayer: rows[0]?.as_payer ?? 0, asPayee: rows[0]?.as_payee ?? 0 })),
          Effect.orDie
        ),
      entriesOf: (account, cursor) =>
        Option.match(seqPage(sql, "seq", cursor), {
          onNone: () => Effect.succeed([]),
          onSome: (page) =>
            sql`SELECT ${entryColumns} FROM entries
              WHERE (debit_account = ${account} OR credit_account = ${account}) AND ${page.after}
              ORDER BY seq ${page.limit}`.pipe(entries, Effect.orDie)
        }),
      // The memory layer's orders: accounts by first appearance in the entries (debit side first),
      // holds and hold entries by id.
      auditData: Effect.gen(function* () {
        const sides = sql`SELECT debit_account AS account, seq * 2 AS ord, amount AS debit, 0 AS credit FROM entries
          UNION ALL SELECT credit_account AS account, seq * 2 + 1 AS ord, 0 AS debit, amount AS credit FROM entries`
        const totals =
          yield* sql`SELECT account, SUM(credit) AS credits, SUM(debit) AS debits, MIN(ord) AS first_ord
          FROM (${sides}) s GROUP BY account ORDER BY first_ord`.pipe(decodeRows(TotalsRecord))
        // Stored balances of the accounts the entries touch, plus any other non-zero one (an
        // inconsistency the audit must see); zero rows made by `lockBalance` alone are not reported.
        const balances = yield* sql`SELECT b.account, b.balance FROM balances b
          LEFT JOIN (SELECT account, MIN(ord) AS first_ord FROM (${sides}) s GROUP BY account) f
            ON f.account = b.account
          WHERE f.account IS NOT NULL OR b.balance <> 0
          ORDER BY CASE WHEN f.first_ord IS NULL THEN 1 ELSE 0 END, f.first_ord, b.account`.pipe(
          decodeRows(BalanceRecord)
        )
        const allHolds = yield* sql`SELECT ${holdColumns} FROM holds ORDER BY seq`.pipe(holds)
        const holdEntries = yield* sql`SELECT hold_id, reason FROM entries
          WHERE hold_id IS NOT NULL AND reason IN ('release', 'refund') ORDER BY seq`.pipe(
          decodeRows(HoldEntryRow)
        )
        return { totals, balances, holds: allHolds, holdEntries }
      }).pipe(Effect.orDie)
    }
  })
)
