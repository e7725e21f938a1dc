import {
  type Balance,
  BalanceInsufficientError,
  type LedgerAudit
} from "@agent-marketplace/domain/settlement/Settlement"
import {
  InputInvalidError,
  notFound,
  PermissionDeniedError,
  StateConflictError
} from "@agent-marketplace/domain/shared/Errors"
import type { AgentId, AssignmentId, HoldId, ReviewId } from "@agent-marketplace/domain/shared/Ids"
import type { AssignmentKind } from "@agent-marketplace/domain/tasks/Task"
import { Clock, Context, Effect, Layer, Option } from "effect"
import { ServerConfig } from "../platform/ServerConfig"
import { ReviewRepo } from "../reviews/ReviewRepo"
import { TaskRepo } from "../tasks/TaskRepo"
import { type HoldRow, LedgerRepo } from "./LedgerRepo"

export const agentAccount = (agentId: string) => `agent:${agentId}`
export const holdAccount = (holdId: string) => `hold:${holdId}`
export const EXTERNAL = "external"

export interface HoldInput {
  readonly amount: number
  readonly task_id: string
  readonly assignment_id: AssignmentId
  readonly payee: AgentId
  readonly kind: AssignmentKind
}

/**
 * Money. Every method that moves money runs inside the caller's store transaction (the service
 * methods here are the "apply" parts; the HTTP-facing flows wrap them with idempotency).
 */
export class Settlement extends Context.Tag("Settlement")<
  Settlement,
  {
    readonly deposit: (agentId: AgentId, amount: number) => Effect.Effect<Balance>
    readonly withdraw: (agentId: AgentId, amount: number) => Effect.Effect<Balance, BalanceInsufficientError>
    /** Validates against the assignment and moves the amount from the payer's balance into a new hold. */
    readonly hold: (
      payer: AgentId,
      input: HoldInput
    ) => Effect.Effect<HoldRow, InputInvalidError | StateConflictError | BalanceInsufficientError>
    /** Returns an active hold to its payer (final). */
    readonly refund: (hold: HoldRow) => Effect.Effect<HoldRow>
    /** Pays an active hold to its payee (final). */
    readonly release: (hold: HoldRow) => Effect.Effect<HoldRow>
    /** Refunds the active hold of an assignment, if any. */
    readonly refundActiveHoldOf: (assignmentId: AssignmentId) => Effect.Effect<Option.Option<HoldRow>>
    /** The hold if the caller is its payer (403 for its payee, 404 for anybody else). */
    readonly holdForPayer: (
      caller: AgentId,
      holdId: HoldId
    ) => Effect.Effect<HoldRow, PermissionDeniedError | ReturnType<typeof notFound>>
    readonly refundByPayer: (hold: HoldRow) => Effect.Effect<HoldRow, StateConflictError>
    readonly releaseExecuteAfterReviews: (hold: HoldRow) => Effect.Effect<HoldRow, StateConflictError>
    readonly releaseReviewAfterSubmission: (
      hold: HoldRow,
      reviewId: ReviewId
    ) => Effect.Effect<HoldRow, StateConflictError | ReturnType<typeof notFound>>
    readonly balance: (agentId: AgentId) => Effect.Effect<Balance>
    readonly audit: Effect.Effect<LedgerAudit>
  }
>() {}

export const SettlementLive = Layer.effect(
  Settlement,
  Effect.gen(function* () {
    const ledger = yield* LedgerRepo
    const tasks = yield* TaskRepo
    const reviews = yield* ReviewRepo
    const config = yield* ServerConfig

    const balance = (agentId: AgentId) =>
      Effect.gen(function* () {
        const available = yield* ledger.balance(agentAccount(agentId))
        const totals = yield* ledger.activeTotals(agentId)
        return {
          agent_id: agentId,
          currency: config.currency,
          available,
          held_as_payer: totals.asPayer,
          pending_as_payee: totals.asPayee
        }
      })

    const settle = (hold: HoldRow, to: "released" | "refunded") =>
      Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        const settled: HoldRow = { ...hold, status: to, settled_at: now }
        yield* ledger.putHold(settled)
        yield* ledger.appendEntry({
          debit_account: holdAccount(hold.hold_id),
          credit_account: agentAccount(to === "released" ? hold.payee : hold.payer),
          amount: hold.amount,
          reason: to === "released" ? "release" : "refund",
          hold_id: hold.hold_id,
          at: now
        })
        return settled
      })
    const refund = (hold: HoldRow) => settle(hold, "refunded")
    const release = (hold: HoldRow) => settle(hold, "released")

    const notActive = (hold: HoldRow) =>
      new StateConflictError({ message: `hold ${hold.hold_id} is already ${hold.status}` })

    return {
      balance,
      refund,
      release,
      deposit: (agentId, amount) =>
        Effect.gen(function* () {
          const now = yield* Clock.currentTimeMillis
          yield* ledger.lockBalance(agentAccount(agentId))
          yield* ledger.appendEntry({
            debit_account: EXTERNAL,
            credit_account: agentAccount(agentId),
            amount,
            reason: "deposit",
            hold_id: null,
            at: now
          })
          return yield* balance(agentId)
        }),
      withdraw: (agentId, amount) =>
        Effect.gen(function* () {
          const now = yield* Clock.currentTimeMillis
          const available = yield* ledger.lockBalance(agentAccount(agentId))
          if (available < amount) {
            return yield* new BalanceInsufficientError({
              message: `available balance ${available} is less than ${amount}`,
              available,
              requested: amount
            })
          }
          yield* ledger.appendEntry({
            debit_account: agentAccount(agentId),
            credit_account: EXTERNAL,
            amount,
            reason: "withdraw",
            hold_id: null,
            at: now
          })
          return yield* balance(agentId)
        }),
      hold: (payer, input) =>
        Effect.gen(function* () {
          const assignment = yield* Effect.flatMap(tasks.lockAssignment(input.assignment_id), (o) =>
            Option.match(o, {
              onNone: () =>
                Effect.fail(
                  new InputInvalidError({ message: `assignment ${input.assignment_id} not found` })
                ),
              onSome: Effect.succeed
            })
          )
          if (assignment.task_id !== input.task_id) {
            return yield* new InputInvalidError({
              message: `assignment ${assignment.assignment_id} belongs to ${assignment.task_id}, not ${input.task_id}`
            })
          }
          if (assignment.agent_id !== input.payee) {
            return yield* new InputInvalidError({
              message: `the payee must be the assignee of ${assignment.assignment_id} (${assignment.agent_id})`
            })
          }
          if (assignment.kind !== input.kind) {
            return yield* new InputInvalidError({
              message: `assignment ${assignment.assignment_id} is a ${assignment.kind} assignment, not ${input.kind}`
            })
          }
          const task = yield* tasks.getTask(assignment.task_id)
          if (Option.isNone(task) || task.value.status !== "active") {
            return yield* new StateConflictError({ message: `task ${assignment.task_id} is not active` })
          }
          if (assignment.status !== "assigned") {
            return yield* new StateConflictError({
              message: `assignment ${assignment.assignment_id} is ${assignment.status}; holds fund assigned work only`
            })
          }
          if (Option.isSome(yield* ledger.activeHoldOf(assignment.assignment_id))) {
            return yield* new StateConflictError({
              message: `assignment ${assignment.assignment_id} already has an active ${assignment.kind} hold`
            })
          }
          const available = yield* ledger.lockBalance(agentAccount(payer))
          if (available < input.amount) {
            return yield* new BalanceInsufficientError({
              message: `available balance ${available} is less than ${input.amount}`,
              available,
              requested: input.amount
            })
          }
          const now = yield* Clock.currentTimeMillis
          const hold: HoldRow = {
            hold_id: yield* ledger.nextHoldId,
            task_id: assignment.task_id,
            assignment_id: assignment.assignment_id,
            payer,
            payee: input.payee,
            kind: input.kind,
            amount: input.amount,
            status: "active",
            created_at: now,
            settled_at: null
          }
          yield* ledger.putHold(hold)
          yield* ledger.appendEntry({
            debit_account: agentAccount(payer),
            credit_account: holdAccount(hold.hold_id),
            amount: input.amount,
            reason: "hold",
            hold_id: hold.hold_id,
            at: now
          })
          return hold
        }),
      refundActiveHoldOf: (assignmentId) =>
        Effect.flatMap(ledger.activeHoldOf(assignmentId), (hold) =>
          Option.match(hold, {
            onNone: () => Effect.succeed(Option.none()),
            onSome: (h) => Effect.map(refund(h), Option.some)
          })
        ),
      holdForPayer: (caller, holdId) =>
        Effect.gen(function* () {
          const hold = yield* ledger.lockHold(holdId)
          if (Option.isNone(hold) || (hold.value.payer !== caller && hold.value.payee !== caller)) {
            return yield* notFound("hold", holdId)
          }
          if (hold.value.payer !== caller) {
            return yield* new PermissionDeniedError({ message: `only the payer of ${holdId} may settle it` })
          }
          return hold.value
        }),
      refundByPayer: (hold) =>
        Effect.gen(function* () {
          if (hold.status !== "active") return yield* notActive(hold)
          const assignment = yield* tasks.getAssignment(hold.assignment_id)
          if (Option.isNone(assignment) || assignment.value.status !== "assigned") {
            return yield* new StateConflictError({
              message: `hold ${hold.hold_id} can be refunded only while its assignment is assigned (it is ${Option.match(assignment, { onNone: () => "gone", onSome: (a) => a.status })}); after output-ready escrow leaves through reviews or reject`
            })
          }
          return yield* refund(hold)
        }),
      releaseExecuteAfterReviews: (hold) =>
        Effect.gen(function* () {
          if (hold.status !== "active") return yield* notActive(hold)
          if (hold.kind !== "execute") {
            return yield* new StateConflictError({ message: `hold ${hold.hold_id} is not an execute hold` })
          }
          const sessions = yield* reviews.byTarget(hold.assignment_id)
          const latest = sessions[sessions.length - 1]
          const allPassed =
            latest !== undefined &&
            latest.verdicts.length === latest.review_assignment_ids.length &&
            latest.verdicts.every((v) => v.verdict.kind === "passed")
          if (!allPassed) {
            return yield* new StateConflictError({
              message: `the latest review session of ${hold.assignment_id} has not passed with every verdict`
            })
          }
          // The caller (SettlementHttp) approves the assignment through Tasks.finalize in the same transaction.
          return yield* release(hold)
        }),
      releaseReviewAfterSubmission: (hold, reviewId) =>
        Effect.gen(function* () {
          if (hold.status !== "active") return yield* notActive(hold)
          if (hold.kind !== "review") {
            return yield* new StateConflictError({ message: `hold ${hold.hold_id} is not a review hold` })
          }
          const review = yield* reviews.get(reviewId)
          if (Option.isNone(review) || review.value.task_id !== hold.task_id)
            return yield* notFound("review", reviewId)
          if (!review.value.verdicts.some((v) => v.review_assignment_id === hold.assignment_id)) {
            return yield* new StateConflictError({
              message: `${hold.assignment_id} has not submitted a verdict in ${reviewId}`
            })
          }
          return yield* release(hold)
        }),
      audit: Effect.gen(function* () {
        const data = yield* ledger.auditData
        const problems: Array<string> = []
        const stored = new Map(data.balances.map((b) => [b.account, b.balance]))
        const computed = new Map(data.totals.map((t) => [t.account, t.credits - t.debits]))
        for (const account of new Set([...stored.keys(), ...computed.keys()])) {
          const s = stored.get(account) ?? 0
          const c = computed.get(account) ?? 0
          if (s !== c) problems.push(`${account}: stored balance ${s} != credits - debits ${c}`)
          if (account !== EXTERNAL && s < 0) problems.push(`${account}: negative balance ${s}`)
        }
        let totalAvailable = 0
        for (const [account, b] of computed) if (account.startsWith("agent:")) totalAvailable += b
        let totalHeld = 0
        for (const h of data.holds) {
          const b = computed.get(holdAccount(h.hold_id)) ?? 0
          if (h.status === "active") {
            totalHeld += h.amount
            if (b !== h.amount)
              problems.push(`hold ${h.hold_id}: active with account balance ${b} != ${h.amount}`)
          } else if (b !== 0) problems.push(`hold ${h.hold_id}: ${h.status} with account balance ${b}`)
        }
        const settlements = new Map<string, number>()
        for (const e of data.holdEntries) settlements.set(e.hold_id, (settlements.get(e.hold_id) ?? 0) + 1)
        for (const [holdId, n] of settlements) if (n > 1) problems.push(`hold ${holdId}: settled ${n} times`)
        const external = data.totals.find((t) => t.account === EXTERNAL)
        const deposits = external?.debits ?? 0
        const withdrawals = external?.credits ?? 0
        if (totalAvailable + totalHeld !== deposits - withdrawals) {
          problems.push(
            `available ${totalAvailable} + held ${totalHeld} != deposits ${deposits} - withdrawals ${withdrawals}`
          )
        }
        return {
          ok: problems.length === 0,
          accounts: computed.size,
          total_deposits: deposits,
          total_withdrawals: withdrawals,
          total_available: totalAvailable,
          total_held: totalHeld,
          problems
        }
      })
    }
  })
)
