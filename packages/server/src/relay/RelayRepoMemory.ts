import { Effect, Layer, Option } from "effect"
import { MemoryDb } from "../platform/MemoryDb"
import { deleteUndoable, setUndoable } from "../platform/Store"
import { finalStatuses, RelayRepo, type RelayRow, usableStatuses } from "./RelayRepo"

/**
 * Relay slots and leases in the memory store. Writes are undoable like every memory write; `lock` and
 * `lockQuota` need nothing, the store's one-writer semaphore serialises transactions.
 */
export const RelayRepoMemory = Layer.effect(
  RelayRepo,
  Effect.gen(function* () {
    const tables = yield* MemoryDb
    const slots = tables.relaySlots
    const leases = tables.relayLeases
    const get = (relayId: string) => Effect.sync(() => Option.fromNullable(slots.get(relayId)))
    const liveCount = (relayId: string, now: number) => {
      let n = 0
      for (const lease of leases.values()) if (lease.relay_id === relayId && lease.lease_until > now) n++
      return n
    }
    const isActive = (row: RelayRow, now: number) =>
      usableStatuses.includes(row.status) && row.expires_at > now
    return {
      insert: (row) =>
        Effect.suspend(() =>
          slots.has(row.relay_id)
            ? Effect.dieMessage(`duplicate relay slot ${row.relay_id}`)
            : setUndoable(slots, row.relay_id, row)
        ),
      get,
      lock: get,
      update: (row) =>
        Effect.suspend(() => {
          const current = slots.get(row.relay_id)
          if (current === undefined) return Effect.dieMessage(`no relay slot ${row.relay_id}`)
          return setUndoable(slots, row.relay_id, {
            ...current,
            download_count: row.download_count,
            status: row.status,
            expires_at: row.expires_at,
            blob_key: row.blob_key
          })
        }),
      lockQuota: Effect.void,
      activeBytes: (now, relayIds) =>
        Effect.sync(() => {
          let total = 0
          if (relayIds === undefined) {
            for (const row of slots.values()) if (isActive(row, now)) total += row.size_bytes
          } else {
            for (const id of new Set(relayIds)) {
              const row = slots.get(id)
              if (row !== undefined && isActive(row, now)) total += row.size_bytes
            }
          }
          return total
        }),
      expireDue: (now) =>
        Effect.gen(function* () {
          let n = 0
          for (const row of [...slots.values()]) {
            if (usableStatuses.includes(row.status) && row.expires_at <= now) {
              yield* setUndoable(slots, row.relay_id, { ...row, status: "expired" })
              n++
            }
          }
          return n
        }),
      staleUploads: (now) =>
        Effect.sync(() =>
          [...slots.values()].filter(
            (row) => row.status === "uploading" && liveCount(row.relay_id, now) === 0
          )
        ),
      bytesToDelete: (now) =>
        Effect.sync(() =>
          [...slots.values()].filter(
            (row) =>
              finalStatuses.includes(row.status) &&
              row.blob_key !== null &&
              liveCount(row.relay_id, now) === 0
          )
        ),
      removeUnusableBefore: (before) =>
        Effect.gen(function* () {
          let n = 0
          for (const row of [...slots.values()]) {
            if (finalStatuses.includes(row.status) && row.blob_key === null && row.expires_at <= before) {
              yield* deleteUndoable(slots, row.relay_id)
              n++
            }
          }
          return n
        }),
      blobKeys: Effect.sync(() => {
        const keys = new Set<string>()
        for (const row of slots.values()) if (row.blob_key !== null) keys.add(row.blob_key)
        return keys
      }),
      putLease: (lease) => setUndoable(leases, lease.lease_id, lease),
      renewLease: (leaseId, until) =>
        Effect.suspend(() => {
          const lease = leases.get(leaseId)
          if (lease === undefined) return Effect.succeed(false)
          return Effect.as(setUndoable(leases, leaseId, { ...lease, lease_until: until }), true)
        }),
      deleteLease: (leaseId) => deleteUndoable(leases, leaseId),
      leaseLive: (leaseId, now) =>
        Effect.sync(() => {
          const lease = leases.get(leaseId)
          return lease !== undefined && lease.lease_until > now
        }),
      liveLeases: (relayId, now) => Effect.sync(() => liveCount(relayId, now)),
      deleteLapsedLeases: (now) =>
        Effect.gen(function* () {
          let n = 0
          for (const lease of [...leases.values()]) {
            if (lease.lease_until <= now) {
              yield* deleteUndoable(leases, lease.lease_id)
              n++
            }
          }
          return n
        })
    }
  })
)
