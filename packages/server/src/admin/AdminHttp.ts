import { MarketplaceApi } from "@agent-marketplace/domain/Api"
import type { Lifecycle } from "@agent-marketplace/domain/registry/Agent"
import { Balance } from "@agent-marketplace/domain/settlement/Settlement"
import { notFound } from "@agent-marketplace/domain/shared/Errors"
import type { AgentId, EntryId } from "@agent-marketplace/domain/shared/Ids"
import { HttpApiBuilder } from "@effect/platform"
import { Effect, Option } from "effect"
import { respond } from "../http/Mutation"
import { Idempotency } from "../idempotency/Idempotency"
import { agentToWire, entryToWire, nextCursor, taskToWire } from "../platform/Wire"
import { AgentRepo } from "../registry/AgentRepo"
import { LedgerRepo } from "../settlement/LedgerRepo"
import { agentAccount, Settlement } from "../settlement/Settlement"
import { TaskRepo } from "../tasks/TaskRepo"
import { Admin, OPERATOR_SCOPE } from "./Admin"
import { AdminRepo } from "./AdminRepo"

const DEFAULT_LIMIT = 100

/** The `/admin/*` handlers; `AdminAuthentication` has already checked the operator's token. */
export const AdminHttp = HttpApiBuilder.group(MarketplaceApi, "admin", (handlers) =>
  Effect.gen(function* () {
    const admin = yield* Admin
    const settlement = yield* Settlement
    const idempotency = yield* Idempotency
    const agents = yield* AgentRepo
    const taskRepo = yield* TaskRepo
    const ledger = yield* LedgerRepo
    const views = yield* AdminRepo

    /** Every lifecycle, deregistered included, unless one is asked for. */
    const agentPage = (
      aliveOnly: boolean,
      lifecycle: Lifecycle | undefined,
      urlParams: { readonly limit?: number | undefined; readonly after?: AgentId | undefined }
    ) =>
      Effect.gen(function* () {
        const limit = urlParams.limit ?? DEFAULT_LIMIT
        const rows = yield* agents.list({
          aliveOnly,
          includeDeregistered: true,
          lifecycle,
          after: Option.fromNullable(urlParams.after),
          limit
        })
        return { items: rows.map(agentToWire), next: nextCursor(rows, limit, (a) => a.agent.agent_id) }
      })

    const entriesOf = (
      account: Option.Option<string>,
      urlParams: { readonly limit?: number | undefined; readonly after?: EntryId | undefined }
    ) =>
      Effect.gen(function* () {
        const limit = urlParams.limit ?? DEFAULT_LIMIT
        const cursor = { after: Option.fromNullable(urlParams.after), limit }
        const rows = yield* Option.match(account, {
          onNone: () => views.listEntries(cursor),
          onSome: (a) => ledger.entriesOf(a, cursor)
        })
        return { items: rows.map(entryToWire), next: nextCursor(rows, limit, (e) => e.entry_id) }
      })

    const agentLedger = (
      agentId: AgentId,
      urlParams: { readonly limit?: number | undefined; readonly after?: EntryId | undefined }
    ) => Effect.zipRight(admin.existing(agentId), entriesOf(Option.some(agentAccount(agentId)), urlParams))

    return handlers
      .handle("createInvite", ({ payload }) => admin.createInvite(payload))
      .handle("approve", ({ path }) => admin.approve(path.agent_id))
      .handle("suspend", ({ path }) => admin.suspend(path.agent_id))
      .handle("unsuspend", ({ path }) => admin.unsuspend(path.agent_id))
      .handle("deposit", ({ headers, payload }) =>
        Effect.map(
          idempotency.mutate(
            {
              caller: OPERATOR_SCOPE,
              key: headers["idempotency-key"],
              method: "POST",
              path: "/admin/deposits",
              body: payload,
              success: Balance,
              status: 200
            },
            admin.existing(payload.agent_id),
            () => settlement.deposit(payload.agent_id, payload.amount)
          ),
          respond
        )
      )
      .handle("agents", ({ urlParams }) => agentPage(false, urlParams.lifecycle, urlParams))
      .handle("onlineAgents", ({ urlParams }) => agentPage(true, "registered", urlParams))
      .handle("tasks", ({ urlParams }) =>
        Effect.gen(function* () {
          const limit = urlParams.limit ?? DEFAULT_LIMIT
          const rows = yield* views.listTasks(Option.fromNullable(urlParams.status), {
            after: Option.fromNullable(urlParams.after),
            limit
          })
          return { items: rows.map(taskToWire), next: nextCursor(rows, limit, (t) => t.task_id) }
        })
      )
      .handle("task", ({ path }) =>
        Effect.flatMap(taskRepo.getTask(path.task_id), (task) =>
          Option.match(task, {
            onNone: () => Effect.fail(notFound("task", path.task_id)),
            onSome: (t) => Effect.succeed(taskToWire(t))
          })
        )
      )
      .handle("ledger", ({ urlParams }) =>
        urlParams.agent_id === undefined
          ? entriesOf(Option.none(), urlParams)
          : agentLedger(urlParams.agent_id, urlParams)
      )
      .handle("audit", () => settlement.audit)
      .handle("agentLedger", ({ path, urlParams }) => agentLedger(path.agent_id, urlParams))
  })
)
