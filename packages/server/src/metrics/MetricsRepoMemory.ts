import { Effect, Layer } from "effect"
import { MemoryDb } from "../platform/MemoryDb"
import { usableStatuses } from "../relay/RelayRepo"
import { MetricsRepo } from "./MetricsRepo"

/** The gauges' counts over the memory store's tables (plain reads, like every memory read). */
export const MetricsRepoMemory = Layer.effect(
  MetricsRepo,
  Effect.map(MemoryDb, (tables) => ({
    snapshot: (now) =>
      Effect.sync(() => {
        let agentsAlive = 0
        for (const row of tables.liveness.values()) if (row.alive) agentsAlive++
        let activeHolds = 0
        let activeHoldAmount = 0
        for (const hold of tables.holds.values()) {
          if (hold.status === "active") {
            activeHolds++
            activeHoldAmount += hold.amount
          }
        }
        let relayStoredBytes = 0
        let relayReservedBytes = 0
        for (const slot of tables.relaySlots.values()) {
          if (slot.blob_key !== null) relayStoredBytes += slot.size_bytes
          if (usableStatuses.includes(slot.status) && slot.expires_at > now)
            relayReservedBytes += slot.size_bytes
        }
        return { agentsAlive, activeHolds, activeHoldAmount, relayStoredBytes, relayReservedBytes }
      })
  }))
)
