import { HttpApiEndpoint, HttpApiGroup } from "@effect/platform"
import { AgentListing } from "../registry/Agent"
import { Balance, LedgerAudit, LedgerEntry } from "../settlement/Settlement"
import { IdempotencyHeaders } from "../shared/Headers"
import { Page } from "../shared/Ids"
import { Task } from "../tasks/Task"
import {
  AdminAgentLedgerQuery,
  AdminAgentsQuery,
  AdminDepositRequest,
  AdminLedgerQuery,
  AdminOnlineQuery,
  AdminTasksQuery,
  AgentPath,
  CreateInviteRequest,
  Invite,
  SuspendResponse,
  TaskPath
} from "./Admin"
import { AdminAuthentication } from "./AdminAuthentication"

/** The operator's endpoints (`Admin-Token`): invites, approval, suspension, deposits, read-only views. */
export class AdminApi extends HttpApiGroup.make("admin")
  .add(
    HttpApiEndpoint.post("createInvite", "/admin/invites")
      .setPayload(CreateInviteRequest)
      .addSuccess(Invite, { status: 201 })
  )
  .add(
    HttpApiEndpoint.post("approve", "/admin/agents/:agent_id/approve")
      .setPath(AgentPath)
      .addSuccess(AgentListing)
  )
  .add(
    HttpApiEndpoint.post("suspend", "/admin/agents/:agent_id/suspend")
      .setPath(AgentPath)
      .addSuccess(SuspendResponse)
  )
  .add(
    HttpApiEndpoint.post("unsuspend", "/admin/agents/:agent_id/unsuspend")
      .setPath(AgentPath)
      .addSuccess(AgentListing)
  )
  .add(
    HttpApiEndpoint.post("deposit", "/admin/deposits")
      .setHeaders(IdempotencyHeaders)
      .setPayload(AdminDepositRequest)
      .addSuccess(Balance)
  )
  .add(
    HttpApiEndpoint.get("agents", "/admin/agents")
      .setUrlParams(AdminAgentsQuery)
      .addSuccess(Page(AgentListing))
  )
  .add(
    HttpApiEndpoint.get("onlineAgents", "/admin/agents/online")
      .setUrlParams(AdminOnlineQuery)
      .addSuccess(Page(AgentListing))
  )
  .add(HttpApiEndpoint.get("tasks", "/admin/tasks").setUrlParams(AdminTasksQuery).addSuccess(Page(Task)))
  .add(HttpApiEndpoint.get("task", "/admin/tasks/:task_id").setPath(TaskPath).addSuccess(Task))
  .add(
    HttpApiEndpoint.get("ledger", "/admin/ledger")
      .setUrlParams(AdminLedgerQuery)
      .addSuccess(Page(LedgerEntry))
  )
  .add(HttpApiEndpoint.get("audit", "/admin/ledger/audit").addSuccess(LedgerAudit))
  .add(
    HttpApiEndpoint.get("agentLedger", "/admin/ledger/:agent_id")
      .setPath(AgentPath)
      .setUrlParams(AdminAgentLedgerQuery)
      .addSuccess(Page(LedgerEntry))
  )
  .middleware(AdminAuthentication) {}
