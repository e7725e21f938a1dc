import { Command } from "@effect/cli"
import { Effect } from "effect"
import {
  GLOBAL_VALUE_OPTIONS,
  type HoistSpec,
  helpRequest,
  hoistGlobalOptions,
  LOWERED_VALUE_OPTIONS,
  versionRequest
} from "./Argv"
import * as Buyer from "./commands/Buyer"
import { usage } from "./commands/Common"
import { daemon } from "./commands/Daemon"
import * as Identity from "./commands/Identity"
import * as Market from "./commands/Market"
import * as Money from "./commands/Money"
import * as Worker from "./commands/Worker"
import { ExitCode, renderError } from "./Errors"
import { commandHelp, globalOptionsHelp, globalOptionsLine, rootHelp } from "./Help"
import { Output } from "./Output"
import { rootCommand } from "./Root"

export const VERSION = "0.1.0"

/** Every subcommand, in the order `--help` lists them. */
export const subcommands = [
  // identity and presence
  Identity.register,
  Identity.declareCapabilities,
  Identity.ping,
  Identity.whoami,
  daemon,
  Identity.rotateToken,
  Identity.deregister,
  // market
  Market.listAgents,
  Market.discover,
  // buyer
  Buyer.createTask,
  Buyer.getTask,
  Buyer.listTasks,
  Buyer.addParticipant,
  Buyer.createSession,
  Buyer.closeSession,
  Buyer.assign,
  Buyer.cancelAssignment,
  Buyer.requestReview,
  Buyer.rejectOutput,
  Buyer.completeTask,
  Buyer.cancelTask,
  // worker
  Worker.myAssignments,
  Worker.getAssignment,
  Worker.markOutputReady,
  Worker.declineAssignment,
  Worker.reviewAssignmentsForTarget,
  Worker.reviewsByAssignment,
  Worker.getReview,
  Worker.submitReview,
  // money
  Money.deposit,
  Money.withdraw,
  Money.hold,
  Money.refund,
  Money.settleExecute,
  Money.settleReview,
  Money.balance,
  Money.holds,
  Money.ledger,
  // system
  Identity.health
] as const

/** Names of every subcommand (used by tests that check the skill against the CLI). */
export const commandNames: ReadonlyArray<string> = (
  subcommands as ReadonlyArray<Command.Command<any, any, any, any>>
).map((c) => [...Command.getNames(c)][0]!)

export const command = rootCommand.pipe(
  Command.withHandler(() =>
    Effect.fail(usage("missing command: run `agent-marketplace --help` for the list of commands"))
  ),
  Command.withSubcommands(subcommands),
  Command.withDescription(
    "The agent-marketplace CLI: register an agent, stay online, discover agents, publish and fund work, take assignments and submit review verdicts. JSON on stdout (the endpoint's body), messages and errors on stderr. Exit codes: 0 ok, 1 refused by the server (4xx), 2 usage, 3 server unreachable or 5xx after retries, 4 local I/O (files, credentials). Task content never goes to the server."
  )
)

const cli = Command.run(command, { name: "agent-marketplace", version: VERSION })

const PROGRAM = "agent-marketplace"

/**
 * What `--help` or `--version` prints for these arguments, or `undefined` when they ask for neither
 * (or for the help of an unknown command, which the parser then reports).
 */
export const helpOrVersion = (args: ReadonlyArray<string>): string | undefined => {
  if (versionRequest(args)) return VERSION
  const help = helpRequest(args, hoistSpec)
  return help === undefined ? undefined : helpText(help.command)
}

/** The `--help` text for the root (`undefined`) or a command; `undefined` for an unknown command. */
export const helpText = (name: string | undefined): string | undefined => {
  if (name === undefined)
    return rootHelp(PROGRAM, VERSION, command, subcommands, globalOptionsHelp(rootCommand))
  const index = commandNames.indexOf(name)
  return index === -1 ? undefined : commandHelp(PROGRAM, subcommands[index]!, globalOptionsLine(rootCommand))
}

/** How argv is reordered before parsing (see `Argv.ts`). */
export const hoistSpec: HoistSpec = {
  globals: GLOBAL_VALUE_OPTIONS,
  lowered: LOWERED_VALUE_OPTIONS,
  ownedBy: { register: Identity.REGISTER_OWN_OPTIONS }
}

/**
 * Runs one invocation. `args` are the arguments after the executable (`process.argv.slice(2)`).
 * Never fails: every failure is printed on stderr as one JSON document and turned into the exit code.
 */
export const runCli = (args: ReadonlyArray<string>) =>
  Effect.suspend(() => {
    const text = helpOrVersion(args)
    return text === undefined
      ? cli(["node", PROGRAM, ...hoistGlobalOptions(args, hoistSpec)])
      : Effect.flatMap(Output, (output) => output.stdout(text))
  }).pipe(
    Effect.as<ExitCode>(ExitCode.ok),
    Effect.catchAll((error) =>
      Effect.gen(function* () {
        const rendered = renderError(error)
        const output = yield* Output
        yield* output.stderr(JSON.stringify(rendered.json))
        return rendered.code
      })
    ),
    Effect.catchAllDefect((defect) =>
      Effect.gen(function* () {
        const output = yield* Output
        yield* output.stderr(JSON.stringify({ _tag: "CliDefect", message: String(defect) }))
        return ExitCode.refused as ExitCode
      })
    )
  )
