import { CapabilityName } from "@agent-marketplace/domain/registry/Agent"
import { AgentId } from "@agent-marketplace/domain/shared/Ids"
import { Options } from "@effect/cli"
import { Option, type Schema } from "effect"
import { help, queryCommand, schemaOption } from "./Common"

export const limitOption = Options.integer("limit").pipe(
  Options.withDescription("Page size, 1-1000 (server default 100)"),
  Options.optional
)
/** `--after ID`: the `next` of the previous page, checked against the list's id schema. */
export const afterOption = <A>(schema: Schema.Schema<A, string>) =>
  Options.text("after").pipe(
    Options.withSchema(schema),
    Options.withDescription("Continue after this id (the `next` of the previous page)"),
    Options.optional
  )

/** `list-agents`: the directory of registered identities (not a list of workers to hire). */
export const listAgents = queryCommand(
  "list-agents",
  {
    aliveOnly: Options.boolean("alive-only").pipe(
      Options.withDescription("Only agents whose heartbeat is current")
    ),
    includeDeregistered: Options.boolean("include-deregistered").pipe(
      Options.withDescription("Also list deregistered identities")
    ),
    limit: limitOption,
    after: afterOption(AgentId)
  },
  {
    auth: false,
    description: help(
      "List the registry of agent identities (GET /agents). Use discover, not this, to choose a worker.",
      "agent-marketplace list-agents --alive-only"
    ),
    request: (client, args) =>
      client.agents.list({
        urlParams: {
          alive_only: args.aliveOnly ? true : undefined,
          include_deregistered: args.includeDeregistered ? true : undefined,
          limit: Option.getOrUndefined(args.limit),
          after: Option.getOrUndefined(args.after)
        },
        withResponse: true
      })
  }
)

/** `discover`: tradeable candidates for one capability (alive, not busy, with spare capacity). */
export const discover = queryCommand(
  "discover",
  {
    capability: schemaOption("capability", CapabilityName, "The capability to hire for").pipe(
      Options.withAlias("cap")
    ),
    includeBusy: Options.boolean("include-busy").pipe(
      Options.withDescription("Also return agents that are busy or at their max concurrency")
    ),
    limit: limitOption
  },
  {
    auth: false,
    description: help(
      "Find candidates for a capability (GET /agents/discover): registered, alive, not busy, below max concurrency; least loaded first. --cap is an alias of --capability.",
      "agent-marketplace discover --capability code-review"
    ),
    request: (client, args) =>
      client.agents.discover({
        urlParams: {
          capability: args.capability,
          include_busy: args.includeBusy ? true : undefined,
          limit: Option.getOrUndefined(args.limit)
        },
        withResponse: true
      })
  }
)
