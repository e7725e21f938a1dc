import { MarketplaceApi } from "@agent-marketplace/domain/Api"
import { CurrentAgent } from "@agent-marketplace/domain/identity/Authentication"
import { Balance, Hold } from "@agent-marketplace/domain/settlement/Settlement"
import { InputInvalidError, PermissionDeniedError } from "@agent-marketplace/domain/shared/Errors"
import { HttpApiBuilder } from "@effect/platform"
import { Effect, Option } from "effect"
import { onLane } from "../http/FastLane"
import { mutation } from "../http/Mutation"
import { ServerConfig } from "../platform/ServerConfig"
import { entryToWire, holdToWire, nextCursor } from "../platform/Wire"
import { TaskRepo } from "../tasks/TaskRepo"
import { Tasks } from "../tasks/Tasks"
import { LedgerRepo } from "./LedgerRepo"
import { agentAccount, Settlement } from "./Settlement"

const DEFAULT_LIMIT = 100

export const SettlementHttp = HttpApiBuilder.group(MarketplaceApi, "settlement", (handlers) =>
  onLane(
    Effect.gen(function* () {
      const settlement = yield* Settlement
      const ledger = yield* LedgerRepo
      const tasks = yield* Tasks
      const taskRepo = yield* TaskRepo
      const config = yield* ServerConfig
      const selfService = () =>
        config.deposits === "open"
          ? Effect.void
          : Effect.fail(
              new PermissionDeniedError({
                message:
                  "deposits and withdrawals are operator-only on this server (AGENT_MARKETPLACE_DEPOSITS=admin)"
              })
            )
      const holdOp = (
        path: string,
        key: string,
        body: { readonly hold_id: Hold["hold_id"] },
        apply: (hold: Parameters<typeof settlement.refundByPayer>[0]) => Effect.Effect<any, any>
      ) =>
        mutation(
          { key, method: "POST", path, body, success: Hold, status: 200 },
          (caller) => settlement.holdForPayer(caller, body.hold_id),
          (hold) => Effect.map(apply(hold), holdToWire)
        )
      return handlers
        .handle("deposit", ({ payload, headers }) =>
          mutation(
            {
              key: headers["idempotency-key"],
              method: "POST",
              path: "/settlement/deposit",
              body: payload,
              success: Balance,
              status: 200
            },
            selfService,
            (_, caller) => settlement.deposit(caller, payload.amount)
          )
        )
        .handle("withdraw", ({ payload, headers }) =>
          mutation(
            {
              key: headers["idempotency-key"],
              method: "POST",
              path: "/settlement/withdraw",
              body: payload,
              success: Balance,
              status: 200
            },
            selfService,
            (_, caller) => settlement.withdraw(caller, payload.amount)
          )
        )
        .handle("hold", ({ payload, headers }) =>
          mutation(
            {
              key: headers["idempotency-key"],
              method: "POST",
              path: "/settlement/hold",
              body: payload,
              success: Hold,
              status: 201
            },
            (caller) =>
              Effect.gen(function* () {
                const task = yield* tasks.publishedTask(caller, payload.task_id)
                if (payload.from_agent !== undefined && payload.from_agent !== caller) {
                  return yield* new PermissionDeniedError({
                    message: "from_agent must be the caller: only the publisher funds its tasks"
                  })
                }
                return task
              }),
            (_, caller) =>
              Effect.gen(function* () {
                const payee = payload.payee_agent_id ?? payload.agent_id
                if (payee === undefined) {
                  return yield* new InputInvalidError({ message: "payee_agent_id is required" })
                }
                if (
                  payload.payee_agent_id !== undefined &&
                  payload.agent_id !== undefined &&
                  payload.agent_id !== payee
                ) {
                  return yield* new InputInvalidError({ message: "agent_id and payee_agent_id disagree" })
                }
                const hold = yield* settlement.hold(caller, {
                  amount: payload.amount,
                  task_id: payload.task_id,
                  assignment_id: payload.assignment_id,
                  payee,
                  kind: payload.kind
                })
                return holdToWire(hold)
              })
          )
        )
        .handle("refund", ({ payload, headers }) =>
          holdOp("/settlement/refund", headers["idempotency-key"], payload, settlement.refundByPayer)
        )
        .handle("releaseExecute", ({ payload, headers }) =>
          holdOp("/settlement/release-execute-after-reviews", headers["idempotency-key"], payload, (hold) =>
            Effect.gen(function* () {
              const released = yield* settlement.releaseExecuteAfterReviews(hold)
              const assignment = yield* taskRepo.lockAssignment(hold.assignment_id)
              if (Option.isSome(assignment) && assignment.value.status === "output_ready") {
                yield* tasks.finalize(assignment.value, "approved")
              }
              return released
            })
          )
        )
        .handle("releaseReview", ({ payload, headers }) =>
          mutation(
            {
              key: headers["idempotency-key"],
              method: "POST",
              path: "/settlement/release-review-after-submission",
              body: payload,
              success: Hold,
              status: 200
            },
            (caller) => settlement.holdForPayer(caller, payload.hold_id),
            (hold) => Effect.map(settlement.releaseReviewAfterSubmission(hold, payload.review_id), holdToWire)
          )
        )
        .handle("balance", () => Effect.flatMap(CurrentAgent, (me) => settlement.balance(me.agent_id)))
        .handle("holds", ({ urlParams }) =>
          Effect.gen(function* () {
            const me = yield* CurrentAgent
            const limit = urlParams.limit ?? DEFAULT_LIMIT
            const rows = yield* ledger.listHolds(
              me.agent_id,
              urlParams.role ?? "any",
              Option.fromNullable(urlParams.status),
              {
                after: Option.fromNullable(urlParams.after),
                limit
              }
            )
            return { items: rows.map(holdToWire), next: nextCursor(rows, limit, (h) => h.hold_id) }
          })
        )
        .handle("ledger", ({ urlParams }) =>
          Effect.gen(function* () {
            const me = yield* CurrentAgent
            const limit = urlParams.limit ?? DEFAULT_LIMIT
            const rows = yield* ledger.entriesOf(agentAccount(me.agent_id), {
              after: Option.fromNullable(urlParams.after),
              limit
            })
            return { items: rows.map(entryToWire), next: nextCursor(rows, limit, (e) => e.entry_id) }
          })
        )
    })
  )
)
