import { type HoistSpec, helpRequest, versionRequest } from "./Argv"

/**
 * Everything `--help` and `--version` can print, plus what `helpRequest` needs to pick the text.
 * `Cli.helpTable()` makes it from the real commands; `scripts/build.mjs` runs that once and puts the
 * result into the bundle's entry chunk, so `bin.ts` answers help without loading `@effect/cli`, the
 * commands or the Effect runtime (start-up time is dominated by V8 parsing them).
 */
export interface HelpTable {
  readonly version: string
  /** The argv reordering spec, as `Cli.hoistSpec`. */
  readonly spec: HoistSpec
  /** `--help` texts by command as typed (`register`, `handoff send`); `""` is the root's. */
  readonly texts: Readonly<Record<string, string>>
}

/**
 * What `Cli.helpOrVersion(args)` prints, looked up in the table: `undefined` when the arguments ask
 * for neither, or for the help of an unknown command (which the parser then reports).
 */
export const answerFrom = (table: HelpTable, args: ReadonlyArray<string>): string | undefined => {
  if (versionRequest(args)) return table.version
  const help = helpRequest(args, table.spec)
  if (help === undefined) return undefined
  const key = help.command ?? ""
  return Object.hasOwn(table.texts, key) ? table.texts[key] : undefined
}
