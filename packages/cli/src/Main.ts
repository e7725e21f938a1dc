import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Cause, Effect, Exit } from "effect"
import { runCli } from "./Cli"
import { CliLive } from "./Live"

/** Runs one invocation on Node and exits with its code (0 when interrupted by SIGINT/SIGTERM). */
export const main = (args: ReadonlyArray<string>) =>
  runCli(args).pipe(
    Effect.provide(CliLive),
    NodeRuntime.runMain({
      disableErrorReporting: true,
      teardown: (exit, onExit) => {
        onExit(Exit.isSuccess(exit) ? Number(exit.value) : Cause.isInterruptedOnly(exit.cause) ? 0 : 1)
      }
    })
  )
