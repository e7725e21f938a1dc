import { Console, Effect } from "effect"

/** A `Console` that records `log` (stdout) and `error` (stderr) lines instead of printing them. */
export const makeCaptureConsole = () => {
  const stdout: Array<string> = []
  const stderr: Array<string> = []
  const text = (args: ReadonlyArray<unknown>) =>
    args.map((a) => (typeof a === "string" ? a : String(a))).join(" ")
  const noop = () => {}
  const unsafe = {
    assert: noop,
    clear: noop,
    count: noop,
    countReset: noop,
    debug: (...args: ReadonlyArray<unknown>) => void stderr.push(text(args)),
    dir: noop,
    dirxml: noop,
    error: (...args: ReadonlyArray<unknown>) => void stderr.push(text(args)),
    group: noop,
    groupCollapsed: noop,
    groupEnd: noop,
    info: (...args: ReadonlyArray<unknown>) => void stdout.push(text(args)),
    log: (...args: ReadonlyArray<unknown>) => void stdout.push(text(args)),
    table: noop,
    time: noop,
    timeEnd: noop,
    timeLog: noop,
    trace: noop,
    warn: (...args: ReadonlyArray<unknown>) => void stderr.push(text(args))
  }
  const lift =
    (f: (...args: ReadonlyArray<any>) => void) =>
    (...args: ReadonlyArray<any>) =>
      Effect.sync(() => f(...args))
  const console: Console.Console = {
    [Console.TypeId]: Console.TypeId,
    assert: lift(noop),
    clear: Effect.void,
    count: lift(noop),
    countReset: lift(noop),
    debug: lift(unsafe.debug),
    dir: lift(noop),
    dirxml: lift(noop),
    error: lift(unsafe.error),
    group: lift(noop),
    groupEnd: Effect.void,
    info: lift(unsafe.info),
    log: lift(unsafe.log),
    table: lift(noop),
    time: lift(noop),
    timeEnd: lift(noop),
    timeLog: lift(noop),
    trace: lift(noop),
    warn: lift(unsafe.warn),
    unsafe: unsafe as unknown as Console.UnsafeConsole
  }
  return { console, stdout, stderr }
}
