import { Context, type Effect } from "effect"
import type { StoredState } from "./Metrics"

/**
 * The store-wide counts behind the `/metrics` gauges, read at scrape time (one query on SQL), so
 * replicas sharing a store report the same values.
 */
export interface MetricsRepoShape {
  /** The state at `now` (relay slots expire by the clock, before the sweep marks them). */
  readonly snapshot: (now: number) => Effect.Effect<StoredState>
}

export class MetricsRepo extends Context.Tag("MetricsRepo")<MetricsRepo, MetricsRepoShape>() {}
