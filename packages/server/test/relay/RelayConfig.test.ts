import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Effect } from "effect"
import { defaultRelayLimits, serverConfig } from "../../src/platform/ServerConfig"

/** The relay's limits as read at startup (a bad value stops it with one line naming the variable). */
const read = (env: Record<string, string>) =>
  serverConfig.pipe(
    Effect.map((c) => c.relay),
    Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env)))),
    Effect.mapError(String)
  )

describe("relay configuration", () => {
  it.effect("defaults to the spec's limits; one variable each", () =>
    Effect.gen(function* () {
      expect(yield* read({})).toEqual({
        maxBlobBytes: 50 * 1024 * 1024 + 64 * 1024,
        defaultTtlSecs: 3600,
        maxTtlSecs: 86_400,
        defaultDownloads: 3,
        maxDownloads: 10,
        totalBytes: 1024 * 1024 * 1024,
        addressBytes: 256 * 1024 * 1024,
        createsPerMinute: 60,
        sweepIntervalMs: 30_000
      })
      expect(defaultRelayLimits).toEqual(yield* read({}))
      const set = yield* read({
        AGENT_MARKETPLACE_RELAY_MAX_BLOB_BYTES: "1000",
        AGENT_MARKETPLACE_RELAY_DEFAULT_TTL_SECS: "60",
        AGENT_MARKETPLACE_RELAY_MAX_TTL_SECS: "120",
        AGENT_MARKETPLACE_RELAY_DEFAULT_DOWNLOADS: "1",
        AGENT_MARKETPLACE_RELAY_MAX_DOWNLOADS: "2",
        AGENT_MARKETPLACE_RELAY_TOTAL_BYTES: "5000",
        AGENT_MARKETPLACE_RELAY_ADDRESS_BYTES: "3000",
        AGENT_MARKETPLACE_RELAY_CREATES_PER_MINUTE: "5",
        AGENT_MARKETPLACE_RELAY_SWEEP_INTERVAL_MS: "1000"
      })
      expect(set).toEqual({
        maxBlobBytes: 1000,
        defaultTtlSecs: 60,
        maxTtlSecs: 120,
        defaultDownloads: 1,
        maxDownloads: 2,
        totalBytes: 5000,
        addressBytes: 3000,
        createsPerMinute: 5,
        sweepIntervalMs: 1000
      })
    })
  )

  it.effect(
    "refuses non-positive or non-integer values and defaults above their maximum, naming the variable",
    () =>
      Effect.gen(function* () {
        for (const [name, value] of [
          ["AGENT_MARKETPLACE_RELAY_MAX_BLOB_BYTES", "0"],
          ["AGENT_MARKETPLACE_RELAY_TOTAL_BYTES", "-1"],
          ["AGENT_MARKETPLACE_RELAY_CREATES_PER_MINUTE", "many"],
          ["AGENT_MARKETPLACE_RELAY_SWEEP_INTERVAL_MS", "1.5"]
        ] as const) {
          expect(yield* Effect.flip(read({ [name]: value }))).toContain(name)
        }
        expect(yield* Effect.flip(read({ AGENT_MARKETPLACE_RELAY_DEFAULT_TTL_SECS: "90000" }))).toContain(
          "AGENT_MARKETPLACE_RELAY_DEFAULT_TTL_SECS"
        )
        expect(yield* Effect.flip(read({ AGENT_MARKETPLACE_RELAY_MAX_DOWNLOADS: "2" }))).toContain(
          "AGENT_MARKETPLACE_RELAY_DEFAULT_DOWNLOADS"
        )
      })
  )
})
