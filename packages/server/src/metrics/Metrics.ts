import { Clock, Context, Effect, Exit, Layer } from "effect"
import { Counter, Gauge, Histogram, Registry } from "prom-client"

/**
 * What the store holds right now, read on every scrape (`MetricsRepo.snapshot`), never cached in
 * the process: every replica on one store reports the same values.
 */
export interface StoredState {
  /** Agents whose liveness row is alive (the directory's `alive`). */
  readonly agentsAlive: number
  /** Holds in status `active`. */
  readonly activeHolds: number
  /** The sum of their amounts. */
  readonly activeHoldAmount: number
  /** Sizes of the relay slots that have bytes in the blob store (uploading, uploaded, or awaiting deletion). */
  readonly relayStoredBytes: number
  /** Sizes of the relay slots still usable and not expired: what counts against the relay quota. */
  readonly relayReservedBytes: number
}

/** The background sweeps whose durations are recorded. */
export type SweepName = "heartbeat" | "relay"

export interface RequestLabels {
  readonly method: string
  /** The route template (`/tasks/:task_id`), `unmatched` for a path no route serves. */
  readonly route: string
  readonly status: number
}

/** Seconds between two `Clock.currentTimeNanos` readings. */
export const secondsBetween = (from: bigint, to: bigint) => Number(to - from) / 1e9

/**
 * The process's Prometheus registry (prom-client). Request counters and histograms are per process,
 * so per replica; the stored-state gauges are set from the store at every scrape.
 */
export class Metrics extends Context.Tag("Metrics")<
  Metrics,
  {
    readonly observeRequest: (labels: RequestLabels, seconds: number) => Effect.Effect<void>
    readonly observeSweep: (sweep: SweepName, seconds: number) => Effect.Effect<void>
    /**
     * Runs a sweep and records its duration (on the `Clock`), whether it succeeded or failed; a sweep
     * interrupted at shutdown is not recorded.
     */
    readonly timeSweep: (
      sweep: SweepName
    ) => <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
    /** The exposition text, with the stored-state gauges set to `state`. */
    readonly scrape: (state: StoredState) => Effect.Effect<string>
  }
>() {
  /** `Content-Type` of the exposition text (Prometheus text format 0.0.4). */
  static readonly contentType = Registry.PROMETHEUS_CONTENT_TYPE

  /** A fresh registry per build (per server; tests get their own). */
  static readonly layer = Layer.sync(Metrics, () => {
    const registry = new Registry()
    const registers = [registry]
    const requests = new Counter({
      name: "agent_marketplace_http_requests_total",
      help: "HTTP requests answered by this process, by method, route template and status.",
      labelNames: ["method", "route", "status"] as const,
      registers
    })
    const requestSeconds = new Histogram({
      name: "agent_marketplace_http_request_duration_seconds",
      help: "Time from a request's arrival to its response head, by method, route template and status.",
      labelNames: ["method", "route", "status"] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers
    })
    const requestSeries = new Map<
      string,
      { readonly count: { inc: () => void }; readonly time: { observe: (value: number) => void } }
    >()
    const sweepSeconds = new Histogram({
      name: "agent_marketplace_sweep_duration_seconds",
      help: "Duration of the background sweeps run by this process.",
      labelNames: ["sweep"] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers
    })
    const gauge = (name: string, help: string) => new Gauge({ name, help, registers })
    const agentsAlive = gauge(
      "agent_marketplace_agents_alive",
      "Agents currently alive (read from the store)."
    )
    const activeHolds = gauge("agent_marketplace_holds_active", "Active holds (read from the store).")
    const activeHoldAmount = gauge(
      "agent_marketplace_holds_active_amount",
      "Total amount of the active holds, in the server's currency (read from the store)."
    )
    const relayStored = gauge(
      "agent_marketplace_relay_stored_bytes",
      "Bytes of the relay slots with bytes in the blob store (read from the store)."
    )
    const relayReserved = gauge(
      "agent_marketplace_relay_reserved_bytes",
      "Bytes of the relay slots counting against the relay quota (read from the store)."
    )
    const observeSweep = (sweep: SweepName, seconds: number) =>
      Effect.sync(() => sweepSeconds.observe({ sweep }, seconds))
    return {
      observeRequest: ({ method, route, status }, seconds) =>
        Effect.sync(() => {
          // prom-client's children of one series, kept so a request does not hash its labels twice.
          const key = `${method} ${route} ${status}`
          let series = requestSeries.get(key)
          if (series === undefined) {
            const labels = { method, route, status: String(status) }
            series = { count: requests.labels(labels), time: requestSeconds.labels(labels) }
            requestSeries.set(key, series)
          }
          series.count.inc()
          series.time.observe(seconds)
        }),
      observeSweep,
      timeSweep: (sweep) => (self) =>
        Effect.flatMap(Clock.currentTimeNanos, (started) =>
          Effect.onExit(self, (exit) =>
            Exit.isInterrupted(exit)
              ? Effect.void
              : Effect.flatMap(Clock.currentTimeNanos, (now) =>
                  observeSweep(sweep, secondsBetween(started, now))
                )
          )
        ),
      scrape: (state) =>
        Effect.promise(() => {
          agentsAlive.set(state.agentsAlive)
          activeHolds.set(state.activeHolds)
          activeHoldAmount.set(state.activeHoldAmount)
          relayStored.set(state.relayStoredBytes)
          relayReserved.set(state.relayReservedBytes)
          return registry.metrics()
        })
    }
  })
}
