import type { HoldStatus, LedgerReason } from "@agent-marketplace/domain/settlement/Settlement"
import type { AgentId, AssignmentId, EntryId, HoldId, TaskId } from "@agent-marketplace/domain/shared/Ids"
import type { AssignmentKind } from "@agent-marketplace/domain/tasks/Task"
import { Context, type Effect, type Option } from "effect"
import type { Cursor } from "../tasks/TaskRepo"

export interface HoldRow {
  readonly hold_id: HoldId
  readonly task_id: TaskId
  readonly assignment_id: AssignmentId
  readonly payer: AgentId
  readonly payee: AgentId
  readonly kind: AssignmentKind
  readonly amount: number
  readonly status: HoldStatus
  readonly created_at: number
  readonly settled_at: number | null
}

export interface EntryRow {
  readonly entry_id: EntryId
  readonly debit_account: string
  readonly credit_account: string
  readonly amount: number
  readonly reason: LedgerReason
  readonly hold_id: HoldId | null
  readonly at: number
}

export interface AccountTotals {
  readonly account: string
  readonly credits: number
  readonly debits: number
}

/**
 * The double-entry ledger. Balances are derived state kept beside the entries (so a balance read is
 * one row); `appendEntry` updates both in the same step, and the audit recomputes them from entries.
 */
export interface LedgerRepoShape {
  readonly nextHoldId: Effect.Effect<HoldId>
  /** Appends one entry and applies it to the two account balances. */
  readonly appendEntry: (entry: Omit<EntryRow, "entry_id">) => Effect.Effect<EntryRow>
  /** Available balance of an account (`agent:<id>`, `hold:<id>`, `external`); 0 if never used. */
  readonly balance: (account: string) => Effect.Effect<number>
  /** Same, locking the account row until commit (SQL), to serialise concurrent spends. */
  readonly lockBalance: (account: string) => Effect.Effect<number>

  readonly getHold: (id: HoldId) => Effect.Effect<Option.Option<HoldRow>>
  readonly lockHold: (id: HoldId) => Effect.Effect<Option.Option<HoldRow>>
  readonly putHold: (row: HoldRow) => Effect.Effect<void>
  /** The active hold of an assignment (at most one per assignment and kind). */
  readonly activeHoldOf: (assignmentId: AssignmentId) => Effect.Effect<Option.Option<HoldRow>>
  readonly activeHoldsOfTask: (taskId: TaskId) => Effect.Effect<ReadonlyArray<HoldRow>>
  readonly listHolds: (
    agentId: AgentId,
    role: "payer" | "payee" | "any",
    status: Option.Option<HoldStatus>,
    cursor: Cursor<HoldId>
  ) => Effect.Effect<ReadonlyArray<HoldRow>>
  /** Σ active holds paid by / payable to an agent. */
  readonly activeTotals: (
    agentId: AgentId
  ) => Effect.Effect<{ readonly asPayer: number; readonly asPayee: number }>

  readonly entriesOf: (account: string, cursor: Cursor<EntryId>) => Effect.Effect<ReadonlyArray<EntryRow>>
  /** For the audit: per-account credits and debits recomputed from entries, the stored balances, active holds. */
  readonly auditData: Effect.Effect<{
    readonly totals: ReadonlyArray<AccountTotals>
    readonly balances: ReadonlyArray<{ readonly account: string; readonly balance: number }>
    readonly holds: ReadonlyArray<HoldRow>
    readonly holdEntries: ReadonlyArray<{ readonly hold_id: HoldId; readonly reason: LedgerReason }>
  }>
}

export class LedgerRepo extends Context.Tag("LedgerRepo")<LedgerRepo, LedgerRepoShape>() {}
