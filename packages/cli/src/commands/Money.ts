import { HoldRole, HoldStatus } from "@agent-marketplace/domain/settlement/Settlement"
import { AgentId, Amount, EntryId, HoldId } from "@agent-marketplace/domain/shared/Ids"
import { Options } from "@effect/cli"
import { Option } from "effect"
import { assignmentIdOption, kindOption, taskIdOption } from "./Buyer"
import { help, kebabChoice, mutationCommand, queryCommand, schemaOption } from "./Common"
import { afterOption, limitOption } from "./Market"
import { reviewIdOption } from "./Worker"

const amountOption = Options.integer("amount").pipe(
  Options.withSchema(Amount),
  Options.withDescription("Integer amount in minor units (1 .. 2^53-1)")
)
const holdIdOption = schemaOption("hold-id", HoldId, "Hold id (hold-N)")

export const deposit = mutationCommand(
  "deposit",
  { amount: amountOption },
  {
    description: help(
      "Credit your own balance (POST /settlement/deposit).",
      "agent-marketplace deposit --amount 120"
    ),
    request: (client, args, session) =>
      client.settlement.deposit({
        headers: session.keyHeaders,
        payload: { amount: args.amount },
        withResponse: true
      })
  }
)

export const withdraw = mutationCommand(
  "withdraw",
  { amount: amountOption },
  {
    description: help(
      "Request a payout from your available balance (POST /settlement/withdraw).",
      "agent-marketplace withdraw --amount 20"
    ),
    request: (client, args, session) =>
      client.settlement.withdraw({
        headers: session.keyHeaders,
        payload: { amount: args.amount },
        withResponse: true
      })
  }
)

export const hold = mutationCommand(
  "hold",
  {
    amount: amountOption,
    taskId: taskIdOption,
    assignmentId: assignmentIdOption,
    payee: schemaOption("payee-agent-id", AgentId, "The assignee the hold pays").pipe(
      Options.withAlias("payee")
    ),
    kind: kindOption
  },
  {
    description: help(
      "Put money in escrow for one assignment of your task (POST /settlement/hold); released automatically by review outcomes. --payee is an alias of --payee-agent-id.",
      "agent-marketplace hold --amount 100 --task-id task-1 --assignment-id assignment-1 --payee-agent-id executor-1 --kind execute"
    ),
    request: (client, args, session) =>
      client.settlement.hold({
        headers: session.keyHeaders,
        payload: {
          amount: args.amount,
          task_id: args.taskId,
          assignment_id: args.assignmentId,
          payee_agent_id: args.payee,
          kind: args.kind
        },
        withResponse: true
      })
  }
)

export const refund = mutationCommand(
  "refund",
  { holdId: holdIdOption },
  {
    description: help(
      "Refund a hold you pay while its assignment is still `assigned`.",
      "agent-marketplace refund --hold-id hold-1"
    ),
    request: (client, args, session) =>
      client.settlement.refund({
        headers: session.keyHeaders,
        payload: { hold_id: args.holdId },
        withResponse: true
      })
  }
)

export const settleExecute = mutationCommand(
  "settle-execute",
  { holdId: holdIdOption },
  {
    description: help(
      "Release an execute hold created after its review already passed (same evidence rules as automatic settlement).",
      "agent-marketplace settle-execute --hold-id hold-3"
    ),
    request: (client, args, session) =>
      client.settlement.releaseExecute({
        headers: session.keyHeaders,
        payload: { hold_id: args.holdId },
        withResponse: true
      })
  }
)

export const settleReview = mutationCommand(
  "settle-review",
  { holdId: holdIdOption, reviewId: reviewIdOption },
  {
    description: help(
      "Release a review hold created after the reviewer already submitted in that review session.",
      "agent-marketplace settle-review --hold-id hold-4 --review-id review-1"
    ),
    request: (client, args, session) =>
      client.settlement.releaseReview({
        headers: session.keyHeaders,
        payload: { hold_id: args.holdId, review_id: args.reviewId },
        withResponse: true
      })
  }
)

export const balance = queryCommand(
  "balance",
  {},
  {
    description: help(
      "Show your balance: available, held_as_payer, pending_as_payee (GET /settlement/balance).",
      "agent-marketplace balance"
    ),
    request: (client) => client.settlement.balance({ withResponse: true })
  }
)

export const holds = queryCommand(
  "holds",
  {
    role: kebabChoice("role", HoldRole.literals, "payer or payee").pipe(Options.optional),
    status: kebabChoice("status", HoldStatus.literals, "active, released or refunded").pipe(Options.optional),
    limit: limitOption,
    after: afterOption(HoldId)
  },
  {
    description: help(
      "List holds you pay or are paid by.",
      "agent-marketplace holds --role payer --status active"
    ),
    request: (client, args) =>
      client.settlement.holds({
        urlParams: {
          role: Option.getOrUndefined(args.role),
          status: Option.getOrUndefined(args.status),
          limit: Option.getOrUndefined(args.limit),
          after: Option.getOrUndefined(args.after)
        },
        withResponse: true
      })
  }
)

export const ledger = queryCommand(
  "ledger",
  { limit: limitOption, after: afterOption(EntryId) },
  {
    description: help(
      "List your ledger entries (double-entry, append-only).",
      "agent-marketplace ledger --limit 50"
    ),
    request: (client, args) =>
      client.settlement.ledger({
        urlParams: { limit: Option.getOrUndefined(args.limit), after: Option.getOrUndefined(args.after) },
        withResponse: true
      })
  }
)
