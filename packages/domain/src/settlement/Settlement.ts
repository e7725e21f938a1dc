import { HttpApiSchema } from "@effect/platform"
import { Schema } from "effect"
import {
  AgentId,
  Amount,
  AssignmentId,
  EntryId,
  HoldId,
  Money,
  ReviewId,
  strict,
  TaskId,
  Timestamp
} from "../shared/Ids"
import { AssignmentKind } from "../tasks/Task"

export const HoldStatus = Schema.Literal("active", "released", "refunded")
export type HoldStatus = typeof HoldStatus.Type

export const Hold = Schema.Struct({
  hold_id: HoldId,
  task_id: TaskId,
  assignment_id: AssignmentId,
  payer: AgentId,
  payee: AgentId,
  kind: AssignmentKind,
  amount: Amount,
  status: HoldStatus,
  created_at: Timestamp,
  settled_at: Schema.NullOr(Timestamp)
}).annotations({ identifier: "Hold" })
export type Hold = typeof Hold.Type

export const Balance = Schema.Struct({
  agent_id: AgentId,
  currency: Schema.String,
  available: Money,
  held_as_payer: Money,
  pending_as_payee: Money
}).annotations({ identifier: "Balance" })
export type Balance = typeof Balance.Type

export const LedgerReason = Schema.Literal("deposit", "withdraw", "hold", "release", "refund")
export type LedgerReason = typeof LedgerReason.Type

export const LedgerEntry = Schema.Struct({
  entry_id: EntryId,
  debit_account: Schema.String,
  credit_account: Schema.String,
  amount: Amount,
  reason: LedgerReason,
  hold_id: Schema.NullOr(HoldId),
  at: Timestamp
}).annotations({ identifier: "LedgerEntry" })
export type LedgerEntry = typeof LedgerEntry.Type

export const AmountRequest = Schema.Struct({ amount: Amount }).annotations({
  ...strict,
  identifier: "AmountRequest"
})

/**
 * `agent_id` is accepted as an alias of `payee_agent_id` (the prototype's field name); exactly one of
 * them must be given.
 */
export const HoldRequest = Schema.Struct({
  amount: Amount,
  task_id: TaskId,
  assignment_id: AssignmentId,
  payee_agent_id: Schema.optional(AgentId),
  agent_id: Schema.optional(AgentId),
  kind: AssignmentKind,
  from_agent: Schema.optional(AgentId)
}).annotations({ ...strict, identifier: "HoldRequest" })
export type HoldRequest = typeof HoldRequest.Type

export const HoldIdRequest = Schema.Struct({ hold_id: HoldId }).annotations({
  ...strict,
  identifier: "HoldIdRequest"
})

export const ReleaseReviewRequest = Schema.Struct({ hold_id: HoldId, review_id: ReviewId }).annotations({
  ...strict,
  identifier: "ReleaseReviewRequest"
})

export const HoldRole = Schema.Literal("payer", "payee")

/** 409: not enough available balance; nothing changed. */
export class BalanceInsufficientError extends Schema.TaggedError<BalanceInsufficientError>()(
  "BalanceInsufficientError",
  { message: Schema.String, available: Schema.Number, requested: Schema.Number },
  HttpApiSchema.annotations({ status: 409 })
) {}

export const AuditProblem = Schema.String
export const LedgerAudit = Schema.Struct({
  ok: Schema.Boolean,
  accounts: Schema.Int,
  total_deposits: Schema.Number,
  total_withdrawals: Schema.Number,
  total_available: Schema.Number,
  total_held: Schema.Number,
  problems: Schema.Array(AuditProblem)
}).annotations({ identifier: "LedgerAudit" })
export type LedgerAudit = typeof LedgerAudit.Type
