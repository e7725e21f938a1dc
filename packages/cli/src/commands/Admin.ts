import { MAX_INVITE_SECS } from "@agent-marketplace/domain/admin/Admin"
import { Lifecycle } from "@agent-marketplace/domain/registry/Agent"
import { AgentId, Amount, EntryId, TaskId } from "@agent-marketplace/domain/shared/Ids"
import { TaskStatus } from "@agent-marketplace/domain/tasks/Task"
import { Command, Options } from "@effect/cli"
import type { HttpClientResponse } from "@effect/platform"
import { Effect, Option } from "effect"
import { UsageError } from "../Errors"
import { help, mutationCommand, queryCommand, schemaOption, usage } from "./Common"
import { afterOption, limitOption } from "./Market"

/**
 * The operator's commands (`admin …`): they send `Admin-Token` from `--admin-token` or
 * `AGENT_MARKETPLACE_ADMIN_TOKEN` (never from the credentials file) and no agent token.
 */

/** Options the admin subcommands declare themselves, so argv hoisting leaves them alone (`admin approve --agent-id`). */
export const ADMIN_OWN_OPTIONS: ReadonlyArray<string> = ["agent-id"]

const targetOption = schemaOption("agent-id", AgentId, "The agent to act on")

/** One call (of several endpoints, or a usage error), as `queryCommand` runs it. */
type AnyCall = Effect.Effect<readonly [unknown, HttpClientResponse.HttpClientResponse], unknown>

/** A command of one admin call, its body printed. */
const adminCommand: typeof queryCommand = (name, config, spec) =>
  queryCommand(name, config, { ...spec, admin: true })

export const invite = adminCommand(
  "invite",
  {
    expiresInSecs: Options.integer("expires-in-secs").pipe(
      Options.withDescription(`How long the code stays valid, in seconds (1-${MAX_INVITE_SECS})`)
    ),
    agentId: targetOption.pipe(
      Options.withDescription("Bind the code to this agent id (only it can register with it)"),
      Options.optional
    )
  },
  {
    description: help(
      "Create a single-use invite code (POST /admin/invites) for a server in invite mode (AGENT_MARKETPLACE_REGISTRATION=invite). The code is printed once: the server keeps only its hash. Hand it to the agent, which runs `register --invite-code`.",
      "agent-marketplace --admin-token $AGENT_MARKETPLACE_ADMIN_TOKEN admin invite --expires-in-secs 86400 --agent-id codex-worker-1"
    ),
    request: (client, args) =>
      client.admin.createInvite({
        payload: { expires_in_secs: args.expiresInSecs, agent_id: Option.getOrUndefined(args.agentId) },
        withResponse: true
      })
  }
)

export const approve = adminCommand(
  "approve",
  { agentId: targetOption },
  {
    description: help(
      "Approve a pending agent (approval mode): it becomes registered, discoverable and assignable, and its token works everywhere.",
      "agent-marketplace admin approve --agent-id codex-worker-1"
    ),
    request: (client, args) => client.admin.approve({ path: { agent_id: args.agentId }, withResponse: true })
  }
)

export const suspend = adminCommand(
  "suspend",
  { agentId: targetOption },
  {
    description: help(
      "Suspend an agent: its tokens are revoked, it is no longer alive, discoverable or assignable, and its `assigned` work is cancelled and refunded as on a liveness timeout. Prints the agent and the cancelled assignments.",
      "agent-marketplace admin suspend --agent-id codex-worker-1"
    ),
    request: (client, args) => client.admin.suspend({ path: { agent_id: args.agentId }, withResponse: true })
  }
)

export const unsuspend = adminCommand(
  "unsuspend",
  { agentId: targetOption },
  {
    description: help(
      "Lift a suspension: the agent is registered again. Its old tokens stay revoked; re-register it with the admin token (register --registration-token <admin token>) to issue a new one.",
      "agent-marketplace admin unsuspend --agent-id codex-worker-1"
    ),
    request: (client, args) =>
      client.admin.unsuspend({ path: { agent_id: args.agentId }, withResponse: true })
  }
)

export const deposit = mutationCommand(
  "deposit",
  {
    agentId: targetOption,
    amount: Options.integer("amount").pipe(
      Options.withSchema(Amount),
      Options.withDescription("Integer amount in minor units (1 .. 2^53-1)")
    )
  },
  {
    admin: true,
    description: help(
      "Credit an agent's balance (POST /admin/deposits); the only deposit path when AGENT_MARKETPLACE_DEPOSITS=admin. Prints that agent's balance. Pass a stable --idempotency-key to retry safely across invocations.",
      "agent-marketplace admin deposit --agent-id buyer-1 --amount 500 --idempotency-key credit-buyer-1-2026-01"
    ),
    request: (client, args, session) =>
      client.admin.deposit({
        headers: session.keyHeaders,
        payload: { agent_id: args.agentId, amount: args.amount },
        withResponse: true
      })
  }
)

export const agents = adminCommand(
  "agents",
  {
    online: Options.boolean("online").pipe(
      Options.withDescription("Only registered agents whose heartbeat is current (GET /admin/agents/online)")
    ),
    lifecycle: Options.choice("lifecycle", Lifecycle.literals).pipe(
      Options.withDescription("Only agents in this lifecycle"),
      Options.optional
    ),
    limit: limitOption,
    after: afterOption(AgentId)
  },
  {
    description: help(
      "List every agent identity, deregistered ones included (GET /admin/agents), or only the online ones.",
      ["agent-marketplace admin agents --lifecycle pending", "agent-marketplace admin agents --online"]
    ),
    request: (client, args): AnyCall => {
      const page = { limit: Option.getOrUndefined(args.limit), after: Option.getOrUndefined(args.after) }
      if (!args.online) {
        return client.admin.agents({
          urlParams: { ...page, lifecycle: Option.getOrUndefined(args.lifecycle) },
          withResponse: true
        })
      }
      return Option.isSome(args.lifecycle)
        ? Effect.fail(usage("--online lists registered agents; it does not take --lifecycle"))
        : client.admin.onlineAgents({ urlParams: page, withResponse: true })
    }
  }
)

export const tasks = adminCommand(
  "tasks",
  {
    taskId: schemaOption("task-id", TaskId, "Show this one task (GET /admin/tasks/{id})").pipe(
      Options.optional
    ),
    status: Options.choice("status", TaskStatus.literals).pipe(
      Options.withDescription("Only tasks in this status"),
      Options.optional
    ),
    limit: limitOption,
    after: afterOption(TaskId)
  },
  {
    description: help("List the tasks of every publisher (GET /admin/tasks), or show one.", [
      "agent-marketplace admin tasks --status active",
      "agent-marketplace admin tasks --task-id task-1"
    ]),
    request: (client, args): AnyCall => {
      if (Option.isNone(args.taskId)) {
        return client.admin.tasks({
          urlParams: {
            status: Option.getOrUndefined(args.status),
            limit: Option.getOrUndefined(args.limit),
            after: Option.getOrUndefined(args.after)
          },
          withResponse: true
        })
      }
      return Option.isSome(args.status) || Option.isSome(args.limit) || Option.isSome(args.after)
        ? Effect.fail(usage("--task-id shows one task; it does not take --status, --limit or --after"))
        : client.admin.task({ path: { task_id: args.taskId.value }, withResponse: true })
    }
  }
)

export const ledger = adminCommand(
  "ledger",
  {
    agentId: targetOption.pipe(
      Options.withDescription("Only this agent's entries (GET /admin/ledger/{agent_id})"),
      Options.optional
    ),
    limit: limitOption,
    after: afterOption(EntryId)
  },
  {
    description: help(
      "Page through the whole double-entry ledger (GET /admin/ledger), or one agent's entries.",
      ["agent-marketplace admin ledger", "agent-marketplace admin ledger --agent-id buyer-1"]
    ),
    request: (client, args): AnyCall => {
      const page = { limit: Option.getOrUndefined(args.limit), after: Option.getOrUndefined(args.after) }
      return Option.match(args.agentId, {
        onNone: () => client.admin.ledger({ urlParams: page, withResponse: true }),
        // `/admin/ledger/audit` is the audit: an agent named "audit" is asked for by query instead.
        onSome: (agentId) =>
          agentId === "audit"
            ? client.admin.ledger({ urlParams: { ...page, agent_id: agentId }, withResponse: true })
            : client.admin.agentLedger({ path: { agent_id: agentId }, urlParams: page, withResponse: true })
      })
    }
  }
)

export const audit = adminCommand(
  "audit",
  {},
  {
    description: help(
      "Recompute the ledger invariants from the entries (GET /admin/ledger/audit): {ok, accounts, total_deposits, total_withdrawals, total_available, total_held, problems}.",
      "agent-marketplace admin audit"
    ),
    request: (client) => client.admin.audit({ withResponse: true })
  }
)

/** The subcommands of `admin`, in `--help` order. */
export const adminSubcommands: ReadonlyArray<Command.Command<any, any, any, any>> = [
  invite,
  approve,
  suspend,
  unsuspend,
  deposit,
  agents,
  tasks,
  ledger,
  audit
]

export const admin = Command.make("admin").pipe(
  Command.withHandler(() =>
    Effect.fail(
      new UsageError({
        message: `missing subcommand: admin ${adminSubcommands.map((c) => [...Command.getNames(c)][0]).join("|")}`
      })
    )
  ),
  Command.withSubcommands([invite, approve, suspend, unsuspend, deposit, agents, tasks, ledger, audit]),
  Command.withDescription(
    help(
      "Operator commands (AGENT_MARKETPLACE_ADMIN_TOKEN on the server): invites, approval, suspension, deposits, and read-only views of agents, tasks and the ledger. They send --admin-token (or env AGENT_MARKETPLACE_ADMIN_TOKEN), never an agent token, and never store the admin token. Run `agent-marketplace admin <command> --help` for each one's options.",
      [
        "agent-marketplace --admin-token $AGENT_MARKETPLACE_ADMIN_TOKEN admin invite --expires-in-secs 3600",
        "agent-marketplace admin audit"
      ]
    )
  )
)
