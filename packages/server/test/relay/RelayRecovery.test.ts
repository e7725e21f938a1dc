/**
 * The relay's recovery paths on every store, through the `Relay` service with the background sweep
 * on the TestClock: an upload cut short, an upload whose server stopped (its lease lapses), blobs no
 * row refers to. And the relay tables themselves: nothing but the slot's own columns.
 */
import { randomBytes } from "node:crypto"
import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Layer, Option, Redacted, Stream } from "effect"
import { PgClientLive, SqliteClientLive, StoreSqlLive } from "../../src/platform/StoreLayers"
import { BlobStore } from "../../src/relay/BlobStore"
import { LEASE_MS, Relay } from "../../src/relay/Relay"
import { RelayRepo } from "../../src/relay/RelayRepo"
import { START, withServer } from "../support/Harness"
import { advanceRelay } from "../support/RelayHttp"
import { relayStoreCases } from "../support/RelayStores"
import { freshPostgresSchema, postgresSkipped } from "../support/Stores"

const bytesOf = (n: number) => new Uint8Array(randomBytes(n))

describe.each(relayStoreCases)("relay recovery ($name)", (storeCase) => {
  it.scoped("an upload whose body fails midway keeps nothing and leaves the slot uploadable", () =>
    Effect.flatMap(storeCase.make, (store) =>
      withServer(
        Effect.gen(function* () {
          const relay = yield* Relay
          const repo = yield* RelayRepo
          const data = bytesOf(3 * 1024 * 1024)
          const slot = yield* relay.create({ size_bytes: data.length }, "192.0.2.1")
          const cut = Stream.concat(
            Stream.make(data.subarray(0, 2 * 1024 * 1024)),
            Stream.fail("connection reset")
          )
          const error = yield* relay
            .upload(slot.relay_id, slot.upload_token, Option.none(), cut)
            .pipe(Effect.flip)
          expect(error).toBe("connection reset")
          expect(Option.map(yield* repo.get(slot.relay_id), (r) => [r.status, r.blob_key])).toEqual(
            Option.some(["created", null])
          )
          expect(yield* store.physical).toEqual([])
          expect(yield* repo.liveLeases(slot.relay_id, START)).toBe(0)

          const done = yield* relay.upload(slot.relay_id, slot.upload_token, Option.none(), Stream.make(data))
          expect(done.status).toBe("uploaded")
          const back = yield* relay.download(slot.relay_id, slot.download_token)
          const chunks = yield* Stream.runCollect(back.bytes)
          expect(Buffer.concat(Chunk.toReadonlyArray(chunks)).equals(Buffer.from(data))).toBe(true)
        }),
        {},
        store.storeCase
      )
    )
  )

  it.scoped(
    "the sweep returns an upload whose server stopped to created once its lease lapses, and deletes orphans",
    () =>
      Effect.flatMap(storeCase.make, (store) =>
        withServer(
          Effect.gen(function* () {
            const relay = yield* Relay
            const repo = yield* RelayRepo
            const blobs = yield* BlobStore
            const data = bytesOf(1000)
            const slot = yield* relay.create({ size_bytes: data.length }, "192.0.2.1")
            // What a server leaves behind when it is killed mid-upload: the claim, a lease it no longer
            // renews, the bytes written so far.
            const row = Option.getOrThrow(yield* repo.get(slot.relay_id))
            const key = `${slot.relay_id}.dead`
            yield* repo.update({ ...row, status: "uploading", blob_key: key })
            yield* repo.putLease({
              lease_id: "dead",
              relay_id: slot.relay_id,
              kind: "upload",
              lease_until: START + LEASE_MS
            })
            yield* blobs.write(key, Stream.make(data.subarray(0, 600)))
            // A blob no row refers to (its server stopped between writing and recording it).
            const orphan = `relay_${"Q".repeat(22)}.0ff1ce`
            yield* blobs.write(orphan, Stream.make(data))
            expect(yield* store.physical).toHaveLength(2)

            // Within the lease: the upload is still "in progress" for everyone.
            yield* advanceRelay(30_000)
            expect(Option.map(yield* repo.get(slot.relay_id), (r) => r.status)).toEqual(
              Option.some("uploading")
            )
            const during = yield* relay
              .upload(slot.relay_id, slot.upload_token, Option.none(), Stream.make(data))
              .pipe(Effect.flip)
            expect(during._tag).toBe("RelayAlreadyUploadedError")
            // The orphan went at the first sweep; the claimed bytes stay until the lease lapses.
            expect(yield* store.physical).toHaveLength(1)

            yield* advanceRelay(60_000)
            expect(Option.map(yield* repo.get(slot.relay_id), (r) => [r.status, r.blob_key])).toEqual(
              Option.some(["created", null])
            )
            expect(yield* store.physical).toEqual([])
            expect(yield* repo.liveLeases(slot.relay_id, Number.MIN_SAFE_INTEGER)).toBe(0)
            const retried = yield* relay.upload(
              slot.relay_id,
              slot.upload_token,
              Option.none(),
              Stream.make(data)
            )
            expect(retried.status).toBe("uploaded")
          }),
          {},
          store.storeCase
        )
      )
  )
})

/** The relay tables' columns, exactly: no task, assignment, agent, address, file or content column. */
const expectedColumns = {
  relay_slots: [
    "blob_key",
    "created_at",
    "download_count",
    "download_token_hash",
    "expires_at",
    "max_downloads",
    "relay_id",
    "size_bytes",
    "status",
    "upload_token_hash"
  ],
  relay_leases: ["kind", "lease_id", "lease_until", "relay_id"],
  relay_chunks: ["blob_key", "data", "seq"]
}

const forbidden = /task|assignment|agent|address|client|file|name|content|manifest|key_id|ip/

describe("relay tables", () => {
  it.effect("SQLite: relay_slots and relay_leases hold only the slot's own columns", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const tables = yield* sql<{
        name: string
      }>`SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'relay%' ORDER BY name`
      expect(tables.map((t) => t.name)).toEqual(["relay_leases", "relay_slots"])
      for (const table of ["relay_slots", "relay_leases"] as const) {
        const columns = yield* sql<{
          name: string
        }>`SELECT name FROM pragma_table_info(${table}) ORDER BY name`
        expect(columns.map((c) => c.name)).toEqual(expectedColumns[table])
        expect(columns.map((c) => c.name).filter((c) => forbidden.test(c))).toEqual([])
      }
    }).pipe(Effect.provide(StoreSqlLive.pipe(Layer.provideMerge(SqliteClientLive(":memory:")), Layer.orDie)))
  )
})

describe.skipIf(postgresSkipped)("relay tables (postgres)", () => {
  it.scoped(
    "Postgres (information_schema): relay_slots, relay_leases, relay_chunks hold only their own columns",
    () =>
      Effect.gen(function* () {
        const { schema, url } = yield* freshPostgresSchema
        yield* Effect.gen(function* () {
          const sql = yield* SqlClient.SqlClient
          const columns = yield* sql<{ table_name: string; column_name: string }>`
            SELECT table_name, column_name FROM information_schema.columns
            WHERE table_schema = ${schema} AND table_name LIKE 'relay%' ORDER BY table_name, column_name`
          const byTable: Record<string, Array<string>> = {}
          for (const c of columns) byTable[c.table_name] = [...(byTable[c.table_name] ?? []), c.column_name]
          expect(byTable).toEqual(expectedColumns)
          expect(columns.map((c) => c.column_name).filter((c) => forbidden.test(c))).toEqual([])
        }).pipe(
          Effect.provide(StoreSqlLive.pipe(Layer.provideMerge(PgClientLive(Redacted.make(url))), Layer.orDie))
        )
      })
  )
})
