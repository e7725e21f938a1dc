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
import * as Admin from "./commands/Admin"
import * as Buyer from "./commands/Buyer"
import { usage } from "./commands/Common"
import { daemon } from "./commands/Daemon"
import * as Handoff from "./commands/Handoff"
import * as Identity from "./commands/Identity"
import * as Market from "./commands/Market"
import * as Money from "./commands/Money"
import * as Relay from "./commands/Relay"
import * as Worker from "./commands/Worker"
import { ExitCode, renderError } from "./Errors"
import { commandHelp, globalOptionsHelp, globalOptionsLine, nameOf, rootHelp } from "./Help"
import type { HelpTable } from "./HelpTable"
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
  Identity.rotateKey,
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
  // relay and handoff
  Relay.relayCreate,
  Relay.relayUpload,
  Relay.relayDownload,
  Relay.relayDelete,
  Handoff.handoff,
  // operator
  Admin.admin,
  // system
  Identity.health
] as const

type AnyCommand = Command.Command<any, any, any, any>

/** Names of every subcommand (used by tests that check the skill against the CLI). */
export const commandNames: ReadonlyArray<string> = (subcommands as ReadonlyArray<AnyCommand>).map(nameOf)

/** The subcommands of commands that have them (`handoff send`, `handoff receive`). */
export const nestedCommands: Readonly<Record<string, ReadonlyArray<AnyCommand>>> = {
  handoff: [Handoff.send, Handoff.receive],
  admin: Admin.adminSubcommands
}

/** Every command as typed, nested ones with their parent (`handoff send`), in `--help` order. */
export const commandPaths: ReadonlyArray<string> = commandNames.flatMap((name) =>
  name in nestedCommands ? nestedCommands[name]!.map((c) => `${name} ${nameOf(c)}`) : [name]
)

const commandOf = (path: string): AnyCommand | undefined => {
  const [name, sub] = path.split(" ")
  const index = commandNames.indexOf(name!)
  if (index === -1) return undefined
  const top = subcommands[index] as AnyCommand
  return sub === undefined ? top : nestedCommands[name!]?.find((c) => nameOf(c) === sub)
}

export const command = rootCommand.pipe(
  Command.withHandler(() =>
    Effect.fail(usage("missing command: run `agent-marketplace --help` for the list of commands"))
  ),
  Command.withSubcommands(subcommands),
  Command.withDescription(
    "The agent-marketplace CLI: register an agent, stay online, discover agents, publish and fund work, take assignments, submit review verdicts, and hand files to other agents encrypted through the relay. JSON on stdout (the endpoint's body), messages and errors on stderr. Exit codes: 0 ok, 1 refused by the server (4xx), 2 usage, 3 server unreachable or 5xx after retries, 4 local I/O (files, credentials), 5 a received handoff failed decryption or its hash check. Task content never goes to the server (a handoff carries only ciphertext)."
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
  if (name === undefined) {
    const entries = commandPaths.map((path) => [path, commandOf(path)!] as const)
    return rootHelp(PROGRAM, VERSION, command, entries, globalOptionsHelp(rootCommand))
  }
  const found = commandOf(name)
  if (found === undefined) return undefined
  const [parent, sub] = name.split(" ")
  return sub === undefined
    ? commandHelp(PROGRAM, found, globalOptionsLine(rootCommand), { children: nestedCommands[parent!] ?? [] })
    : commandHelp(PROGRAM, found, globalOptionsLine(rootCommand), { parent: parent! })
}

/** How argv is reordered before parsing (see `Argv.ts`). */
export const hoistSpec: HoistSpec = {
  globals: GLOBAL_VALUE_OPTIONS,
  lowered: LOWERED_VALUE_OPTIONS,
  ownedBy: { register: Identity.REGISTER_OWN_OPTIONS, admin: Admin.ADMIN_OWN_OPTIONS },
  nested: Object.fromEntries(
    Object.entries(nestedCommands).map(([name, children]) => [name, children.map(nameOf)])
  )
}

/**
 * Every text `helpOrVersion` can print, keyed as `helpRequest` names them (`""` for the root), for
 * the build to embed in the bundle's entry (see `HelpTable.ts`): `answerFrom(helpTable(), args)`
 * equals `helpOrVersion(args)` for every `args`.
 */
export const helpTable = (): HelpTable => ({
  version: VERSION,
  spec: hoistSpec,
  texts: Object.fromEntries(
    [undefined, ...new Set([...commandNames, ...commandPaths])].map((name) => [name ?? "", helpText(name)!])
  )
})

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
