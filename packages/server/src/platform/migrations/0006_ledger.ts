import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

/**
 * The double-entry ledger: append-only entries, stored balances beside them (one row per account,
 * the row a spend locks), and holds. Amounts are integers (`BIGINT`).
 */
export default Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`CREATE TABLE balances (
    account TEXT PRIMARY KEY,
    balance BIGINT NOT NULL
  )`
  yield* sql`CREATE TABLE entries (
    entry_id TEXT PRIMARY KEY,
    seq BIGINT NOT NULL,
    debit_account TEXT NOT NULL,
    credit_account TEXT NOT NULL,
    amount BIGINT NOT NULL,
    reason TEXT NOT NULL,
    hold_id TEXT NULL,
    at BIGINT NOT NULL
  )`
  yield* sql`CREATE INDEX entries_seq ON entries (seq)`
  yield* sql`CREATE INDEX entries_debit ON entries (debit_account, seq)`
  yield* sql`CREATE INDEX entries_credit ON entries (credit_account, seq)`
  yield* sql`CREATE TABLE holds (
    hold_id TEXT PRIMARY KEY,
    seq BIGINT NOT NULL,
    task_id TEXT NOT NULL,
    assignment_id TEXT NOT NULL,
    payer TEXT NOT NULL,
    payee TEXT NOT NULL,
    kind TEXT NOT NULL,
    amount BIGINT NOT NULL,
    status TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    settled_at BIGINT NULL
  )`
  yield* sql`CREATE INDEX holds_seq ON holds (seq)`
  yield* sql`CREATE INDEX holds_assignment ON holds (assignment_id, seq)`
  yield* sql`CREATE INDEX holds_task_status ON holds (task_id, status)`
  yield* sql`CREATE INDEX holds_payer ON holds (payer, seq)`
  yield* sql`CREATE INDEX holds_payee ON holds (payee, seq)`
})
