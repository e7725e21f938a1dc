import type { AssignmentId } from "@agent-marketplace/domain/shared/Ids"
import { Command, Options } from "@effect/cli"
import { Duration, Effect, Fiber, Ref } from "effect"
import { ExitCode, renderError } from "../Errors"
import { note, Output } from "../Output"
import { help, open, type Session, usage } from "./Common"
import { myAgentId } from "./Worker"

/** After this many consecutive failures the daemon prints a warning line (and keeps going). */
export const WARN_AFTER_FAILURES = 3

const describeFailure = (error: unknown): string => {
  const rendered = renderError(error)
  return `${String(rendered.json._tag)}: ${String(rendered.json.message ?? "")}`
}

/** Is this failure worth waiting out (network, 5xx) rather than a refusal by the server? */
const isTransient = (error: unknown) => renderError(error).code === ExitCode.unavailable

/** Backoff after the n-th consecutive failure: 0.5 s, 1 s, 2 s, … but never longer than the interval. */
const backoff = (failures: number, interval: Duration.Duration) =>
  Duration.min(Duration.millis(500 * 2 ** Math.min(failures - 1, 10)), interval)

interface Loop<R> {
  readonly name: string
  readonly interval: Duration.Duration
  readonly step: Effect.Effect<void, unknown, R>
}

/** Runs `step` every interval; failures are retried with backoff, counted, and warned about. */
const runForever = <R>({ interval, name, step }: Loop<R>) =>
  Effect.gen(function* () {
    const failures = yield* Ref.make(0)
    while (true) {
      const outcome = yield* Effect.either(step)
      if (outcome._tag === "Right") {
        const before = yield* Ref.getAndSet(failures, 0)
        if (before >= WARN_AFTER_FAILURES) yield* note(`${name} recovered after ${before} failures`)
        yield* Effect.sleep(interval)
      } else {
        const n = yield* Ref.updateAndGet(failures, (k) => k + 1)
        if (n === WARN_AFTER_FAILURES || (n > WARN_AFTER_FAILURES && n % 10 === 0)) {
          yield* note(
            `warning: ${n} consecutive ${name} failures (${describeFailure(outcome.left)}); still retrying`
          )
        }
        yield* Effect.sleep(backoff(n, interval))
      }
    }
  })

const heartbeat = (session: Session, busy: boolean) =>
  session
    .call((client) => client.agents.heartbeat({ payload: { busy }, withResponse: true }))
    .pipe(Effect.map((body) => JSON.parse(body) as { agent_id: string; outcome: string; timeout_ms: number }))

/** The first heartbeat: transient failures are waited out; a refusal (bad token …) ends the daemon. */
const firstHeartbeat = (session: Session, busy: boolean, interval: Duration.Duration) =>
  Effect.gen(function* () {
    let failures = 0
    while (true) {
      const outcome = yield* Effect.either(heartbeat(session, busy))
      if (outcome._tag === "Right") return outcome.right
      if (!isTransient(outcome.left)) return yield* Effect.fail(outcome.left)
      failures++
      if (failures === WARN_AFTER_FAILURES || (failures > WARN_AFTER_FAILURES && failures % 10 === 0)) {
        yield* note(
          `warning: ${failures} consecutive heartbeat failures (${describeFailure(outcome.left)}); still retrying`
        )
      }
      yield* Effect.sleep(backoff(failures, interval))
    }
  })

/** Prints every assignment in `assigned` that this daemon has not printed before, one JSON line each. */
const pollAssignments = (session: Session, agentId: string, seen: Set<string>) =>
  Effect.gen(function* () {
    const output = yield* Output
    let after: AssignmentId | undefined
    do {
      const body = yield* session.call((client) =>
        client.agents.assignments({
          path: { agent_id: agentId as never },
          urlParams: { status: "assigned", limit: 100, after },
          withResponse: true
        })
      )
      const page = JSON.parse(body) as {
        items: ReadonlyArray<{ assignment_id: string }>
        next: string | null
      }
      for (const item of page.items) {
        if (seen.has(item.assignment_id)) continue
        seen.add(item.assignment_id)
        yield* output.stdout(JSON.stringify(item))
      }
      after = (page.next ?? undefined) as AssignmentId | undefined
    } while (after !== undefined)
  })

export const daemon = Command.make(
  "daemon",
  {
    interval: Options.float("interval").pipe(
      Options.withDescription(
        "Seconds between heartbeats (default 5); must be below half the server's timeout"
      ),
      Options.withDefault(5)
    ),
    busy: Options.boolean("busy").pipe(Options.withDescription("Heartbeat as busy (not discoverable)")),
    pollAssignments: Options.boolean("poll-assignments").pipe(
      Options.withDescription("Also print each newly seen `assigned` assignment as one JSON line on stdout")
    )
  },
  (args) =>
    Effect.gen(function* () {
      if (!(args.interval > 0) || !Number.isFinite(args.interval)) {
        return yield* usage("--interval must be a positive number of seconds")
      }
      const interval = Duration.millis(Math.round(args.interval * 1000))
      // Each request is tried once; the loops below do the waiting, so a beat is never 30 s late.
      const session = yield* open({ auth: true, retry: false, attemptTimeout: interval })
      const first = yield* firstHeartbeat(session, args.busy, interval)
      const tooLong = (timeoutMs: number) => Duration.toMillis(interval) >= timeoutMs / 2
      if (tooLong(first.timeout_ms)) {
        return yield* usage(
          `--interval ${args.interval} is too long: the server times ${first.agent_id} out after ${first.timeout_ms} ms of silence, so beat more often than every ${first.timeout_ms / 2000} s`
        )
      }
      yield* note(
        `${first.agent_id} is online (${first.outcome}); heartbeat every ${args.interval} s, server timeout ${first.timeout_ms} ms`
      )
      const warnedTooLong = yield* Ref.make(false)
      const beats = runForever({
        name: "heartbeat",
        interval,
        step: Effect.gen(function* () {
          const response = yield* heartbeat(session, args.busy)
          if (tooLong(response.timeout_ms) && !(yield* Ref.getAndSet(warnedTooLong, true))) {
            yield* note(
              `warning: the server now times this agent out after ${response.timeout_ms} ms; --interval ${args.interval} is too long for that`
            )
          }
        })
      })
      const fibers = [yield* Effect.fork(Effect.sleep(interval).pipe(Effect.zipRight(beats)))]
      if (args.pollAssignments) {
        const agentId = yield* myAgentId(session)
        const seen = new Set<string>()
        fibers.push(
          yield* Effect.fork(
            runForever({ name: "assignment poll", interval, step: pollAssignments(session, agentId, seen) })
          )
        )
      }
      yield* Fiber.joinAll(fibers).pipe(Effect.onInterrupt(() => note("daemon stopped")))
    }).pipe(Effect.annotateLogs("command", "daemon"))
).pipe(
  Command.withDescription(
    help(
      "Keep this agent online: heartbeat every --interval seconds until SIGINT/SIGTERM (exit 0). Failed heartbeats are retried with backoff and never stop the daemon; after 3 in a row a warning goes to stderr. With --poll-assignments each newly seen assignment in `assigned` is printed as one JSON line, so a runtime can read them: agent-marketplace daemon --poll-assignments | while read line; do ...; done",
      ["agent-marketplace daemon --interval 5", "agent-marketplace daemon --interval 5 --poll-assignments"]
    )
  )
)
