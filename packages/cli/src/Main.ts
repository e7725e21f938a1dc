import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Cause, Effect, Exit } from "effect"
import { runCli } from "./Cli"
import { CliLive } from "./Live"

/**
 * Runs one invocation on Node and exits with its code (0 when interrupted by SIGINT/SIGTERM).
 * `stderr` is the process's stderr (for progress bars on a terminal).
 */
export const main = (args: ReadonlyArray<string>, stderr: NodeJS.WriteStream) =>
  runCli(args).pipe(
    Effect.provide(CliLive(stderr)),
    NodeRuntime.runMain({
      disableErrorReporting: true,
      teardown: (exit, onExit) => {
        onExit(Exit.isSuccess(exit) ? Number(exit.value) : Cause.isInterruptedOnly(exit.cause) ? 0 : 1)
      }
    })
  )
