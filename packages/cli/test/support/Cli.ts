import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { FetchHttpClient, type HttpClient } from "@effect/platform"
import { ConfigProvider, Effect, Layer } from "effect"
import { runCli } from "../../src/Cli"
import { Credentials } from "../../src/Credentials"
import { KeyGenerator } from "../../src/KeyGenerator"
import { PlatformLive } from "../../src/Live"
import { Output } from "../../src/Output"
import { Progress } from "../../src/Progress"
import { RelayHttp } from "../../src/RelayHttp"
import { RetryPolicy } from "../../src/RetryPolicy"
import { makeCaptureConsole } from "./Capture"

export interface RunResult {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
  /** The last stderr line parsed as JSON (the error document), if it is JSON. */
  readonly error: Record<string, unknown> | undefined
}

export interface RunOptions {
  /** Environment seen through Effect's ConfigProvider (HOME defaults to a fresh temp dir). */
  readonly env?: Record<string, string>
  /** The HttpClient (default: the global fetch). */
  readonly http?: Layer.Layer<HttpClient.HttpClient>
  /** The retry policy (default: 3 immediate retries). */
  readonly retry?: Layer.Layer<RetryPolicy>
  /** Progress bars of relay transfers (default: none). */
  readonly progress?: Layer.Layer<Progress>
}

export const tempDir = (prefix = "am-cli-") => mkdtempSync(join(tmpdir(), prefix))

/** The layers of `runCli` with test doubles (deterministic keys, short retries, captured output). */
export const testLayer = (options: RunOptions = {}) =>
  Layer.mergeAll(
    Output.layer,
    KeyGenerator.layerTest,
    options.retry ?? RetryPolicy.layerTest(3),
    options.http ?? FetchHttpClient.layer,
    Credentials.layer,
    options.progress ?? Progress.layerNone,
    RelayHttp.layer
  ).pipe(
    Layer.provideMerge(PlatformLive),
    Layer.provideMerge(
      Layer.setConfigProvider(
        ConfigProvider.fromMap(new Map(Object.entries({ HOME: tempDir("am-home-"), ...options.env })))
      )
    )
  )

const parseLastJson = (lines: ReadonlyArray<string>): Record<string, unknown> | undefined => {
  for (let i = lines.length - 1; i >= 0; i--) {
    try {
      const value = JSON.parse(lines[i]!)
      if (typeof value === "object" && value !== null) return value as Record<string, unknown>
    } catch {
      // not JSON
    }
  }
  return undefined
}

/** Runs one invocation in-process: `args` as typed after `agent-marketplace`. */
export const run = (args: ReadonlyArray<string>, options: RunOptions = {}) =>
  Effect.gen(function* () {
    const capture = makeCaptureConsole()
    const code = yield* runCli(args).pipe(
      Effect.provide(testLayer(options)),
      Effect.withConsole(capture.console)
    )
    const result: RunResult = {
      code,
      stdout: capture.stdout.join("\n"),
      stderr: capture.stderr.join("\n"),
      error: parseLastJson(capture.stderr)
    }
    return result
  })

/** Starts one invocation in a fiber (for `daemon`), with its output readable while it runs. */
export const start = (args: ReadonlyArray<string>, options: RunOptions = {}) =>
  Effect.gen(function* () {
    const capture = makeCaptureConsole()
    const fiber = yield* runCli(args).pipe(
      Effect.provide(testLayer(options)),
      Effect.withConsole(capture.console),
      Effect.fork
    )
    return { fiber, stdout: capture.stdout, stderr: capture.stderr }
  })

/** `run` as a promise, for plain (non-Effect) tests. */
export const runPromise = (args: ReadonlyArray<string>, options: RunOptions = {}) =>
  Effect.runPromise(run(args, options))
