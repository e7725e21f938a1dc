import { describe, expect, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import { Store } from "../../src/platform/Store"
import { type RelayLease, RelayRepo, type RelayRow } from "../../src/relay/RelayRepo"
import { blockedWhileHeld, postgresWithClient } from "../support/PgLocks"
import { postgresSkipped, storeCases } from "../support/Stores"

const id = (n: number) => `relay_${String(n).padStart(22, "A")}`

const slot = (n: number, overrides: Partial<RelayRow> = {}): RelayRow => ({
  relay_id: id(n),
  upload_token_hash: `${"a".repeat(63)}${n % 10}`,
  download_token_hash: `${"b".repeat(63)}${n % 10}`,
  size_bytes: 1000 * n,
  max_downloads: 3,
  download_count: 0,
  status: "created",
  created_at: 1_000,
  expires_at: 10_000,
  blob_key: null,
  ...overrides
})

const lease = (leaseId: string, relayId: string, until: number, kind: RelayLease["kind"] = "download") => ({
  lease_id: leaseId,
  relay_id: relayId,
  kind,
  lease_until: until
})

describe.each(storeCases)("RelayRepo contract ($name)", (storeCase) => {
  const run = <A, E>(effect: Effect.Effect<A, E, RelayRepo | Store>) =>
    Effect.provide(effect, storeCase.layer())

  it.effect("insert stores a row that get and lock return exactly; unknown is none", () =>
    run(
      Effect.gen(function* () {
        const repo = yield* RelayRepo
        const store = yield* Store
        const row = slot(1, { size_bytes: 50 * 1024 * 1024, expires_at: 1_767_225_600_000 + 86_400_000 })
        yield* repo.insert(row)
        expect(yield* repo.get(row.relay_id)).toEqual(Option.some(row))
        expect(yield* store.transaction(repo.lock(row.relay_id))).toEqual(Option.some(row))
        expect(yield* repo.get(id(2))).toEqual(Option.none())
        // A duplicate id is a defect (ids are 128 random bits).
        const duplicate = yield* Effect.exit(repo.insert(row))
        expect(duplicate._tag).toBe("Failure")
      })
    )
  )

  it.effect("update writes the mutable fields only", () =>
    run(
      Effect.gen(function* () {
        const repo = yield* RelayRepo
        yield* repo.insert(slot(1))
        yield* repo.update(
          slot(1, {
            status: "uploaded",
            download_count: 2,
            expires_at: 9_000,
            blob_key: `${id(1)}.00ff`,
            // immutable: ignored
            size_bytes: 1,
            upload_token_hash: "x",
            created_at: 5
          })
        )
        expect(yield* repo.get(id(1))).toEqual(
          Option.some(
            slot(1, { status: "uploaded", download_count: 2, expires_at: 9_000, blob_key: `${id(1)}.00ff` })
          )
        )
        yield* repo.update(slot(1, { status: "consumed", download_count: 3, blob_key: null }))
        expect(Option.map(yield* repo.get(id(1)), (r) => [r.status, r.blob_key])).toEqual(
          Option.some(["consumed", null])
        )
      })
    )
  )

  it.effect("activeBytes sums the usable slots not yet expired, all or among given ids", () =>
    run(
      Effect.gen(function* () {
        const repo = yield* RelayRepo
        yield* repo.insert(slot(1, { status: "created" }))
        yield* repo.insert(slot(2, { status: "uploading" }))
        yield* repo.insert(slot(3, { status: "uploaded" }))
        yield* repo.insert(slot(4, { status: "consumed" }))
        yield* repo.insert(slot(5, { status: "expired" }))
        yield* repo.insert(slot(6, { status: "deleted" }))
        yield* repo.insert(slot(7, { status: "uploaded", expires_at: 5_000 }))
        expect(yield* repo.activeBytes(4_999)).toBe(1000 + 2000 + 3000 + 7000)
        // expires_at is the first instant the slot no longer counts.
        expect(yield* repo.activeBytes(5_000)).toBe(6000)
        expect(yield* repo.activeBytes(10_000)).toBe(0)
        expect(yield* repo.activeBytes(0, [id(1), id(4), id(7), id(7), id(99)])).toBe(8000)
        expect(yield* repo.activeBytes(0, [])).toBe(0)
      })
    )
  )

  it.effect("expireDue marks usable slots whose time has come expired, and counts them", () =>
    run(
      Effect.gen(function* () {
        const repo = yield* RelayRepo
        const store = yield* Store
        yield* repo.insert(slot(1, { status: "created", expires_at: 100 }))
        yield* repo.insert(slot(2, { status: "uploading", expires_at: 100 }))
        yield* repo.insert(slot(3, { status: "uploaded", expires_at: 100 }))
        yield* repo.insert(slot(4, { status: "uploaded", expires_at: 101 }))
        yield* repo.insert(slot(5, { status: "consumed", expires_at: 50 }))
        yield* repo.insert(slot(6, { status: "deleted", expires_at: 50 }))
        expect(yield* store.transaction(repo.expireDue(100))).toBe(3)
        expect(yield* store.transaction(repo.expireDue(100))).toBe(0)
        const statuses = []
        for (let n = 1; n <= 6; n++) statuses.push(Option.map(yield* repo.get(id(n)), (r) => r.status))
        expect(statuses.map(Option.getOrNull)).toEqual([
          "expired",
          "expired",
          "expired",
          "uploaded",
          "consumed",
          "deleted"
        ])
      })
    )
  )

  it.effect("leases: put, renew, live by id and by slot, lapsed ones deleted", () =>
    run(
      Effect.gen(function* () {
        const repo = yield* RelayRepo
        yield* repo.putLease(lease("l1", id(1), 100))
        yield* repo.putLease(lease("l2", id(1), 200, "upload"))
        yield* repo.putLease(lease("l3", id(2), 150))
        expect(yield* repo.leaseLive("l1", 99)).toBe(true)
        expect(yield* repo.leaseLive("l1", 100)).toBe(false)
        expect(yield* repo.leaseLive("nope", 0)).toBe(false)
        expect(yield* repo.liveLeases(id(1), 99)).toBe(2)
        expect(yield* repo.liveLeases(id(1), 100)).toBe(1)
        expect(yield* repo.liveLeases(id(3), 0)).toBe(0)
        expect(yield* repo.renewLease("l1", 300)).toBe(true)
        expect(yield* repo.renewLease("nope", 300)).toBe(false)
        expect(yield* repo.liveLeases(id(1), 250)).toBe(1)
        expect(yield* repo.deleteLapsedLeases(200)).toBe(2)
        expect(yield* repo.leaseLive("l1", 250)).toBe(true)
        yield* repo.deleteLease("l1")
        yield* repo.deleteLease("l1")
        expect(yield* repo.liveLeases(id(1), 0)).toBe(0)
      })
    )
  )

  it.effect("staleUploads: uploading slots without a live lease", () =>
    run(
      Effect.gen(function* () {
        const repo = yield* RelayRepo
        yield* repo.insert(slot(1, { status: "uploading", blob_key: `${id(1)}.01` }))
        yield* repo.insert(slot(2, { status: "uploading", blob_key: `${id(2)}.02` }))
        yield* repo.insert(slot(3, { status: "created" }))
        yield* repo.putLease(lease("u1", id(1), 500, "upload"))
        yield* repo.putLease(lease("u2", id(2), 100, "upload"))
        expect((yield* repo.staleUploads(99)).map((r) => r.relay_id)).toEqual([])
        expect((yield* repo.staleUploads(100)).map((r) => r.relay_id)).toEqual([id(2)])
        expect((yield* repo.staleUploads(500)).map((r) => r.relay_id).sort()).toEqual([id(1), id(2)])
      })
    )
  )

  it.effect("bytesToDelete: final slots with bytes and no live lease; blobKeys lists every reference", () =>
    run(
      Effect.gen(function* () {
        const repo = yield* RelayRepo
        yield* repo.insert(slot(1, { status: "consumed", blob_key: `${id(1)}.01` }))
        yield* repo.insert(slot(2, { status: "expired", blob_key: `${id(2)}.02` }))
        yield* repo.insert(slot(3, { status: "deleted", blob_key: `${id(3)}.03` }))
        yield* repo.insert(slot(4, { status: "uploaded", blob_key: `${id(4)}.04` }))
        yield* repo.insert(slot(5, { status: "deleted", blob_key: null }))
        yield* repo.putLease(lease("d1", id(1), 100))
        expect((yield* repo.bytesToDelete(99)).map((r) => r.relay_id).sort()).toEqual([id(2), id(3)])
        expect((yield* repo.bytesToDelete(100)).map((r) => r.relay_id).sort()).toEqual([id(1), id(2), id(3)])
        expect([...(yield* repo.blobKeys)].sort()).toEqual([
          `${id(1)}.01`,
          `${id(2)}.02`,
          `${id(3)}.03`,
          `${id(4)}.04`
        ])
      })
    )
  )

  it.effect("removeUnusableBefore deletes final rows without bytes unusable at or before the instant", () =>
    run(
      Effect.gen(function* () {
        const repo = yield* RelayRepo
        const store = yield* Store
        yield* repo.insert(slot(1, { status: "expired", expires_at: 100 }))
        yield* repo.insert(slot(2, { status: "consumed", expires_at: 100 }))
        yield* repo.insert(slot(3, { status: "deleted", expires_at: 101 }))
        yield* repo.insert(slot(4, { status: "expired", expires_at: 50, blob_key: `${id(4)}.04` }))
        yield* repo.insert(slot(5, { status: "created", expires_at: 50 }))
        yield* repo.insert(slot(6, { status: "uploaded", expires_at: 50 }))
        expect(yield* store.transaction(repo.removeUnusableBefore(100))).toBe(2)
        expect(yield* store.transaction(repo.removeUnusableBefore(100))).toBe(0)
        const left = []
        for (let n = 1; n <= 6; n++) if (Option.isSome(yield* repo.get(id(n)))) left.push(n)
        expect(left).toEqual([3, 4, 5, 6])
      })
    )
  )

  it.effect("a failed transaction undoes inserts, updates and leases; a failed savepoint only its own", () =>
    run(
      Effect.gen(function* () {
        const repo = yield* RelayRepo
        const store = yield* Store
        yield* repo.insert(slot(1))
        const error = yield* store
          .transaction(
            Effect.gen(function* () {
              yield* repo.insert(slot(2))
              yield* repo.update(slot(1, { status: "uploading", blob_key: `${id(1)}.01` }))
              yield* repo.putLease(lease("l", id(1), 100, "upload"))
              return yield* Effect.fail("boom")
            })
          )
          .pipe(Effect.flip)
        expect(error).toBe("boom")
        expect(yield* repo.get(id(1))).toEqual(Option.some(slot(1)))
        expect(yield* repo.get(id(2))).toEqual(Option.none())
        expect(yield* repo.leaseLive("l", 0)).toBe(false)

        yield* store.transaction(
          Effect.gen(function* () {
            yield* repo.update(slot(1, { status: "deleted" }))
            const inner = yield* store
              .transaction(Effect.zipRight(repo.insert(slot(3)), Effect.fail("inner")))
              .pipe(Effect.flip)
            expect(inner).toBe("inner")
          })
        )
        expect(Option.map(yield* repo.get(id(1)), (r) => r.status)).toEqual(Option.some("deleted"))
        expect(yield* repo.get(id(3))).toEqual(Option.none())
      })
    )
  )
})

describe.skipIf(postgresSkipped)("RelayRepo row and quota locks (postgres)", () => {
  it.effect("lock locks the slot's row; lockQuota serialises quota checks; plain reads do not wait", () =>
    Effect.gen(function* () {
      const repo = yield* RelayRepo
      yield* repo.insert(slot(1))
      yield* repo.insert(slot(2))
      expect(yield* blockedWhileHeld(repo.lock(id(1)), repo.lock(id(1)))).toBe(true)
      expect(yield* blockedWhileHeld(repo.lock(id(1)), repo.update(slot(1, { status: "deleted" })))).toBe(
        true
      )
      expect(yield* blockedWhileHeld(repo.lock(id(1)), repo.lock(id(2)))).toBe(false)
      expect(yield* blockedWhileHeld(repo.lock(id(1)), repo.get(id(1)))).toBe(false)
      expect(yield* blockedWhileHeld(repo.lockQuota, repo.lockQuota)).toBe(true)
      expect(yield* blockedWhileHeld(repo.lockQuota, repo.activeBytes(0))).toBe(false)
    }).pipe(Effect.provide(postgresWithClient()))
  )
})
