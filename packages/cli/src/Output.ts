import { Console, Context, Effect, Layer } from "effect"

/**
 * Where the CLI writes. stdout carries only the endpoint's success body (one JSON document, or one
 * JSON line per assignment for `daemon --poll-assignments`); everything for people goes to stderr.
 */
export class Output extends Context.Tag("cli/Output")<
  Output,
  {
    /** One document (or JSON line) on stdout. */
    readonly stdout: (text: string) => Effect.Effect<void>
    /** A human line or an error document on stderr. */
    readonly stderr: (text: string) => Effect.Effect<void>
  }
>() {
  /** Writes through Effect's `Console` (stdout = `log`, stderr = `error`), like `@effect/cli` does. */
  static readonly layer = Layer.succeed(Output, {
    stdout: (text) => Console.log(text),
    stderr: (text) => Console.error(text)
  })
}

/** A human message on stderr, prefixed with the program name. */
export const note = (message: string) =>
  Effect.flatMap(Output, (out) => out.stderr(`agent-marketplace: ${message}`))
