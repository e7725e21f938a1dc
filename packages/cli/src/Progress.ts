import { Context, Effect, Layer, type Scope } from "effect"

/**
 * Progress of relay transfers on stderr. Only transfers larger than `PROGRESS_THRESHOLD_BYTES` get a
 * bar, and only when stderr is a terminal: when stderr is a pipe (an agent runtime reading it) nothing
 * is drawn, so stderr keeps its contract of human notes and one final JSON error line. The bar is
 * stopped before the command prints anything else, also when it fails. `cli-progress` is imported
 * only when a bar is drawn.
 */

/** Files up to 1 MiB move without a bar. */
export const PROGRESS_THRESHOLD_BYTES = 1024 * 1024

export interface ProgressBar {
  /** `bytes` more have moved. */
  readonly advance: (bytes: number) => void
}

export class Progress extends Context.Tag("cli/Progress")<
  Progress,
  {
    /** A bar for a transfer of `total` bytes, stopped when the scope closes. */
    readonly bar: (label: string, total: number) => Effect.Effect<ProgressBar, never, Scope.Scope>
  }
>() {
  /** No bars (tests, and a stderr that is not a terminal). */
  static readonly layerNone = Layer.succeed(Progress, {
    bar: () => Effect.succeed({ advance: () => {} })
  })

  /** `cli-progress` on `stream` (the process's stderr, given by `bin.ts`) when it is a terminal. */
  static readonly layerTerminal = (stream: NodeJS.WriteStream) =>
    stream.isTTY !== true
      ? Progress.layerNone
      : Layer.succeed(Progress, {
          bar: (label, total) =>
            Effect.acquireRelease(
              Effect.map(
                Effect.promise(() => import("cli-progress")),
                (module) => {
                  // A CommonJS module: bundled as a chunk it has only a default export.
                  const { SingleBar } = (module as unknown as { default?: typeof module }).default ?? module
                  const bar = new SingleBar({
                    stream,
                    format: `agent-marketplace: ${label} [{bar}] {percentage}% | {value}/{total} MiB | ETA {eta}s`,
                    formatValue: (value, _options, type) =>
                      type === "value" || type === "total"
                        ? (Number(value) / 1048576).toFixed(1)
                        : String(value),
                    hideCursor: true,
                    clearOnComplete: false
                  })
                  bar.start(total, 0)
                  return bar
                }
              ),
              (bar) => Effect.sync(() => bar.stop())
            ).pipe(Effect.map((bar) => ({ advance: (bytes: number) => bar.increment(bytes) })))
        })

  /** Records every bar's label, total and the bytes reported, for tests. */
  static readonly layerTest = (
    record: Array<{ label: string; total: number; advanced: number; stopped: boolean }>
  ) =>
    Layer.succeed(Progress, {
      bar: (label, total) =>
        Effect.acquireRelease(
          Effect.sync(() => {
            const entry = { label, total, advanced: 0, stopped: false }
            record.push(entry)
            return entry
          }),
          (entry) =>
            Effect.sync(() => {
              entry.stopped = true
            })
        ).pipe(
          Effect.map((entry) => ({
            advance: (bytes: number) => {
              entry.advanced += bytes
            }
          }))
        )
    })
}
