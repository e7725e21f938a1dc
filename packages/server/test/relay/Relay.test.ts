/**
 * The relay over HTTP on memory, SQLite (blobs as files) and Postgres (blobs as chunk rows): the
 * real server on an ephemeral port, raw requests as any client sends them, TestClock for time. Where
 * bytes must be gone, the blob backend is looked at past its interface (files, `relay_chunks` rows).
 */
import { randomBytes } from "node:crypto"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Option, Redacted } from "effect"
import { defaultRelayLimits, type RelayLimits, type ServerConfigShape } from "../../src/platform/ServerConfig"
import { iso } from "../../src/platform/Wire"
import { RELAY_NOT_FOUND } from "../../src/relay/Relay"
import { RelayRepo } from "../../src/relay/RelayRepo"
import { send } from "../support/Edge"
import { type ServerServices, START, serverUrl, withServer } from "../support/Harness"
import {
  advanceRelay,
  chunkedUpload,
  createSlot,
  download,
  newSlot,
  remove,
  type Slot,
  upload,
  uploadChunked
} from "../support/RelayHttp"
import { type RelayStore, relayStoreCases } from "../support/RelayStores"

const bytesOf = (n: number) => new Uint8Array(randomBytes(n))
const concat = (...parts: ReadonlyArray<Uint8Array>) => new Uint8Array(Buffer.concat(parts))
const HOUR = 3600 * 1000

/** The 404 as the server writes it (field order included). */
const NOT_FOUND_BODY = JSON.stringify({ message: RELAY_NOT_FOUND, _tag: "RelayNotFoundError" })

const relayConfig = (limits: Partial<RelayLimits>, rest: Partial<ServerConfigShape> = {}) => ({
  ...rest,
  relay: { ...defaultRelayLimits, ...limits }
})

const statusOf = (relayId: string) =>
  Effect.flatMap(RelayRepo, (repo) =>
    Effect.map(
      repo.get(relayId),
      Option.map((row) => ({
        status: row.status,
        downloads: row.download_count,
        bytes: row.blob_key !== null
      }))
    )
  )

/**
 * One turn of the event loop (no wall-clock wait): lets the server's I/O callbacks run between two
 * polls, which a loop of synchronous SQLite reads would otherwise starve.
 */
const turn = Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve)))

/** Polls the slot's row (a turn of the event loop apart) until `until` holds; at most 10 000 times. */
const slotUntil = (
  relayId: string,
  until: (s: { status: string; downloads: number; bytes: boolean }) => boolean
) =>
  Effect.zipRight(turn, statusOf(relayId)).pipe(
    Effect.repeat({ until: (s) => Option.isSome(s) && until(s.value), times: 10_000 }),
    Effect.map(Option.getOrThrow)
  )

/**
 * Waits until the slot holds no bytes. A download's bytes are released as it finishes on the server,
 * which can be just after the client has read the last byte.
 */
const released = (relayId: string) => slotUntil(relayId, (s) => !s.bytes)

describe.each(relayStoreCases)("relay over HTTP ($name)", (storeCase) => {
  /** The server on a fresh store of this kind, the TestClock at START. */
  const withRelay = <A, E>(
    body: (store: RelayStore) => Effect.Effect<A, E, ServerServices>,
    overrides: Partial<ServerConfigShape> = {}
  ) => Effect.flatMap(storeCase.make, (store) => withServer(body(store), overrides, store.storeCase))

  it.scoped("a multi-MiB blob makes the round trip byte for byte; the last download consumes the slot", () =>
    withRelay((store) =>
      Effect.gen(function* () {
        const data = bytesOf(6 * 1024 * 1024 + 123)
        const slot = yield* newSlot({ size_bytes: data.length, max_downloads: 2 })
        expect(slot.relay_id).toMatch(/^relay_[A-Za-z0-9_-]{22}$/)
        expect(slot.upload_token).toMatch(/^relay-token-[0-9a-f]{64}$/)
        expect(slot.download_token).toMatch(/^relay-token-[0-9a-f]{64}$/)
        expect(slot.upload_token).not.toBe(slot.download_token)
        expect(slot).toEqual({
          relay_id: slot.relay_id,
          upload_token: slot.upload_token,
          download_token: slot.download_token,
          expires_at: iso(START + HOUR),
          max_downloads: 2
        })

        const put = yield* upload(slot.relay_id, slot.upload_token, data)
        expect(put.status).toBe(200)
        expect(put.json).toEqual({
          relay_id: slot.relay_id,
          status: "uploaded",
          size_bytes: data.length,
          max_downloads: 2,
          download_count: 0,
          created_at: iso(START),
          expires_at: iso(START + HOUR)
        })
        const stored = yield* store.physical
        expect(stored).toHaveLength(1)
        expect(stored[0]!.startsWith(`${slot.relay_id}.`)).toBe(true)
        if (storeCase.name === "postgres") {
          const stats = yield* store.chunkStats
          expect(stats.bytes).toBe(data.length)
          expect(stats.rows).toBeGreaterThanOrEqual(6)
        }

        for (const n of [1, 2]) {
          const got = yield* download(slot.relay_id, slot.download_token)
          expect({ n, status: got.status, type: got.contentType, length: got.contentLength }).toEqual({
            n,
            status: 200,
            type: "application/octet-stream",
            length: String(data.length)
          })
          expect(got.bytes.equals(Buffer.from(data))).toBe(true)
        }
        // The second download was the last: consumed, its bytes deleted as it finished.
        expect(yield* released(slot.relay_id)).toEqual({ status: "consumed", downloads: 2, bytes: false })
        expect(yield* store.physical).toEqual([])
        const third = yield* download(slot.relay_id, slot.download_token)
        expect({ status: third.status, body: third.text }).toEqual({ status: 404, body: NOT_FOUND_BODY })
      })
    )
  )

  it.scoped(
    "one identical 404 for unknown id, wrong token, expired, deleted, consumed and GET before upload",
    () =>
      withRelay(() =>
        Effect.gen(function* () {
          const data = bytesOf(100)
          const uploaded = (body: Record<string, unknown> = {}) =>
            Effect.tap(newSlot({ size_bytes: data.length, ...body }), (s) =>
              upload(s.relay_id, s.upload_token, data)
            )
          const expiredUploaded = yield* uploaded({ ttl_secs: 60 })
          const expiredCreated = yield* newSlot({ size_bytes: data.length, ttl_secs: 60 })
          yield* advanceRelay(61_000)
          const live = yield* uploaded()
          const deleted = yield* uploaded()
          expect((yield* remove(deleted.relay_id, { "relay-token": deleted.upload_token })).status).toBe(200)
          const consumed = yield* uploaded({ max_downloads: 1 })
          expect((yield* download(consumed.relay_id, consumed.download_token)).status).toBe(200)
          const notUploaded = yield* newSlot({ size_bytes: data.length })
          const unknown: Slot = { ...live, relay_id: `relay_${"Z".repeat(22)}` }

          const answers: Array<{ label: string; status: number; body: string }> = []
          const record = (label: string, res: { status: number; text: string }) =>
            answers.push({ label, status: res.status, body: res.text })
          const tryAll = (label: string, slot: Slot, tokens: { put: string; get: string; del: string }) =>
            Effect.gen(function* () {
              record(`${label}: PUT`, yield* upload(slot.relay_id, tokens.put, data))
              record(`${label}: GET`, yield* download(slot.relay_id, tokens.get))
              record(`${label}: DELETE`, yield* remove(slot.relay_id, { "relay-token": tokens.del }))
            })
          const right = (s: Slot) => ({ put: s.upload_token, get: s.download_token, del: s.upload_token })
          yield* tryAll("unknown id", unknown, right(live))
          yield* tryAll("wrong token", live, {
            put: live.download_token,
            get: live.upload_token,
            del: live.download_token
          })
          yield* tryAll("expired after upload", expiredUploaded, right(expiredUploaded))
          yield* tryAll("expired before upload", expiredCreated, right(expiredCreated))
          yield* tryAll("deleted", deleted, right(deleted))
          yield* tryAll("consumed", consumed, right(consumed))
          record("GET before upload", yield* download(notUploaded.relay_id, notUploaded.download_token))

          expect(answers.filter((a) => a.status !== 404 || a.body !== NOT_FOUND_BODY)).toEqual([])
          expect(new Set(answers.map((a) => a.body)).size).toBe(1)
          expect(answers).toHaveLength(19)
          // None of the refused calls changed the slots they named.
          expect(yield* statusOf(live.relay_id)).toEqual(
            Option.some({ status: "uploaded", downloads: 0, bytes: true })
          )
          expect(yield* statusOf(notUploaded.relay_id)).toEqual(
            Option.some({ status: "created", downloads: 0, bytes: false })
          )
          expect((yield* download(live.relay_id, live.download_token)).status).toBe(200)
        })
      )
  )

  it.scoped(
    "a body shorter or longer than size_bytes is a 400; nothing is kept; the slot stays uploadable",
    () =>
      withRelay((store) =>
        Effect.gen(function* () {
          const data = bytesOf(200_000)
          const slot = yield* newSlot({ size_bytes: data.length })
          const refused = [
            ["Content-Length short", yield* upload(slot.relay_id, slot.upload_token, data.subarray(0, -1))],
            [
              "Content-Length long",
              yield* upload(slot.relay_id, slot.upload_token, concat(data, Uint8Array.of(0)))
            ],
            [
              "chunked short",
              yield* uploadChunked(slot.relay_id, slot.upload_token, [
                data.subarray(0, 100_000),
                data.subarray(100_000, -5)
              ])
            ],
            [
              "chunked long",
              yield* uploadChunked(slot.relay_id, slot.upload_token, [data, data.subarray(0, 70_000)])
            ]
          ] as const
          for (const [label, res] of refused) {
            expect({ label, status: res.status, body: res.json }).toEqual({
              label,
              status: 400,
              body: {
                _tag: "RelaySizeMismatchError",
                message: expect.stringContaining(`${data.length}`),
                expected_bytes: data.length
              }
            })
            expect(yield* store.physical).toEqual([])
            expect(yield* statusOf(slot.relay_id)).toEqual(
              Option.some({ status: "created", downloads: 0, bytes: false })
            )
          }
          // A connection cut mid-upload: no answer to give; the server undoes the claim all the same.
          const cut = yield* chunkedUpload(slot.relay_id, slot.upload_token)
          yield* cut.send(data.subarray(0, 120_000))
          yield* slotUntil(slot.relay_id, (s) => s.status === "uploading")
          yield* cut.abort
          expect(yield* slotUntil(slot.relay_id, (s) => s.status === "created")).toEqual({
            status: "created",
            downloads: 0,
            bytes: false
          })
          expect(yield* store.physical).toEqual([])
          const ok = yield* uploadChunked(slot.relay_id, slot.upload_token, [
            data.subarray(0, 50_000),
            data.subarray(50_000)
          ])
          expect(ok.status).toBe(200)
          expect((yield* download(slot.relay_id, slot.download_token)).bytes.equals(Buffer.from(data))).toBe(
            true
          )
        })
      )
  )

  it.scoped("upload happens once: a second PUT is a 409; of two concurrent uploads exactly one wins", () =>
    withRelay(() =>
      Effect.gen(function* () {
        const first = bytesOf(300_000)
        const second = bytesOf(300_000)
        const slot = yield* newSlot({ size_bytes: first.length })
        expect((yield* upload(slot.relay_id, slot.upload_token, first)).status).toBe(200)
        const again = yield* upload(slot.relay_id, slot.upload_token, second)
        expect({ status: again.status, tag: again.json?._tag }).toEqual({
          status: 409,
          tag: "RelayAlreadyUploadedError"
        })

        // An upload in progress holds the slot: a second one is refused while it runs.
        const held = yield* newSlot({ size_bytes: first.length })
        const slow = yield* chunkedUpload(held.relay_id, held.upload_token)
        yield* slow.send(first.subarray(0, 100_000))
        yield* slotUntil(held.relay_id, (s) => s.status === "uploading")
        const during = yield* upload(held.relay_id, held.upload_token, second)
        expect({ status: during.status, tag: during.json?._tag }).toEqual({
          status: 409,
          tag: "RelayAlreadyUploadedError"
        })
        yield* slow.send(first.subarray(100_000))
        expect((yield* slow.end).status).toBe(200)
        expect((yield* download(held.relay_id, held.download_token)).bytes.equals(Buffer.from(first))).toBe(
          true
        )

        // Two at once.
        const raced = yield* newSlot({ size_bytes: first.length })
        const [a, b] = yield* Effect.all(
          [
            upload(raced.relay_id, raced.upload_token, first),
            upload(raced.relay_id, raced.upload_token, second)
          ],
          { concurrency: 2 }
        )
        expect([a.status, b.status].sort()).toEqual([200, 409])
        const winner = a.status === 200 ? first : second
        expect(
          (yield* download(raced.relay_id, raced.download_token)).bytes.equals(Buffer.from(winner))
        ).toBe(true)
      })
    )
  )

  it.scoped(
    "max_downloads: each download counts when it starts; the last consumes the slot and deletes its bytes",
    () =>
      withRelay((store) =>
        Effect.gen(function* () {
          const data = bytesOf(70_000)
          const slot = yield* newSlot({ size_bytes: data.length, max_downloads: 3 })
          yield* upload(slot.relay_id, slot.upload_token, data)
          for (const n of [1, 2, 3]) {
            const got = yield* download(slot.relay_id, slot.download_token)
            expect({ n, status: got.status, same: got.bytes.equals(Buffer.from(data)) }).toEqual({
              n,
              status: 200,
              same: true
            })
            expect(
              n < 3 ? Option.getOrThrow(yield* statusOf(slot.relay_id)) : yield* released(slot.relay_id)
            ).toEqual({ status: n < 3 ? "uploaded" : "consumed", downloads: n, bytes: n < 3 })
          }
          expect(yield* store.physical).toEqual([])
          const fourth = yield* download(slot.relay_id, slot.download_token)
          expect({ status: fourth.status, body: fourth.text }).toEqual({ status: 404, body: NOT_FOUND_BODY })
        })
      )
  )

  it.scoped("a download that started is served to its end when the slot is deleted meanwhile", () =>
    withRelay((store) =>
      Effect.gen(function* () {
        // Larger than what the socket buffers and the client hold unread: the server is still sending.
        const data = bytesOf(32 * 1024 * 1024)
        const slot = yield* newSlot({ size_bytes: data.length })
        yield* upload(slot.relay_id, slot.upload_token, data)
        const base = yield* serverUrl
        const res = yield* Effect.promise(() =>
          fetch(`${base}/relay/${slot.relay_id}`, { headers: { "relay-token": slot.download_token } })
        )
        const reader = res.body!.getReader()
        const pieces: Array<Uint8Array> = []
        const first = yield* Effect.promise(() => reader.read())
        pieces.push(first.value!)
        const repo = yield* RelayRepo
        expect(yield* repo.liveLeases(slot.relay_id, START)).toBe(1)
        const deleted = yield* remove(slot.relay_id, { "relay-token": slot.upload_token })
        expect(deleted.json).toMatchObject({ status: "deleted", download_count: 1, expires_at: iso(START) })
        // The bytes stay while the download runs…
        expect(yield* store.physical).toHaveLength(1)
        for (;;) {
          const next = yield* Effect.promise(() => reader.read())
          if (next.done) break
          pieces.push(next.value)
        }
        expect(Buffer.concat(pieces).equals(Buffer.from(data))).toBe(true)
        // …and are deleted once it has finished.
        expect(yield* released(slot.relay_id)).toEqual({ status: "deleted", downloads: 1, bytes: false })
        expect(yield* store.physical).toEqual([])
      })
    )
  )

  it.scoped(
    "TTL: a slot is unusable from expires_at on; the sweep marks it expired and deletes its bytes",
    () =>
      withRelay((store) =>
        Effect.gen(function* () {
          const data = bytesOf(10_000)
          const slot = yield* newSlot({ size_bytes: data.length, ttl_secs: 120 })
          expect(slot.expires_at).toBe(iso(START + 120_000))
          yield* upload(slot.relay_id, slot.upload_token, data)
          yield* advanceRelay(119_999)
          expect((yield* download(slot.relay_id, slot.download_token)).status).toBe(200)
          yield* advanceRelay(1)
          expect((yield* download(slot.relay_id, slot.download_token)).text).toBe(NOT_FOUND_BODY)
          // The sweep after the expiry (every 30 s).
          yield* advanceRelay(30_000)
          expect(yield* statusOf(slot.relay_id)).toEqual(
            Option.some({ status: "expired", downloads: 1, bytes: false })
          )
          expect(yield* store.physical).toEqual([])
        })
      )
  )

  it.scoped(
    "the sweep deletes the bytes of expired, consumed and deleted slots, and their rows a day later",
    () =>
      withRelay(
        (store) =>
          Effect.gen(function* () {
            const data = bytesOf(5000)
            const uploaded = (body: Record<string, unknown>) =>
              Effect.tap(newSlot({ size_bytes: data.length, ...body }), (s) =>
                upload(s.relay_id, s.upload_token, data)
              )
            const expired = yield* uploaded({ ttl_secs: 60 })
            const deleted = yield* uploaded({})
            const consumed = yield* uploaded({ max_downloads: 1 })
            const live = yield* uploaded({ ttl_secs: 86_400 })
            yield* remove(deleted.relay_id, { "relay-token": deleted.upload_token })
            yield* download(consumed.relay_id, consumed.download_token)
            yield* released(consumed.relay_id)
            expect(yield* store.physical).toHaveLength(2)
            // The first sweep (hourly here): the expired slot's bytes go; the live one keeps its own.
            yield* advanceRelay(HOUR, HOUR)
            expect(yield* statusOf(expired.relay_id)).toEqual(
              Option.some({ status: "expired", downloads: 0, bytes: false })
            )
            expect(yield* store.physical).toHaveLength(1)
            expect((yield* store.physical)[0]!.startsWith(live.relay_id)).toBe(true)
            // Deleted and consumed stopped being usable at START, the expired one at START + 60 s.
            yield* advanceRelay(23 * HOUR, HOUR)
            const rows = () =>
              Effect.all(
                [expired, deleted, consumed, live].map((s) => Effect.map(statusOf(s.relay_id), Option.isSome))
              )
            expect(yield* rows()).toEqual([true, false, false, true])
            yield* advanceRelay(HOUR, HOUR)
            expect(yield* rows()).toEqual([false, false, false, true])
            // The day-long slot expired at START + 24 h: its bytes are gone, its row stays another day.
            expect(yield* statusOf(live.relay_id)).toEqual(
              Option.some({ status: "expired", downloads: 0, bytes: false })
            )
            expect(yield* store.physical).toEqual([])
          }),
        // Hourly sweeps (the liveness sweep too, which has nothing to do here): 25 steps for 25 hours.
        relayConfig({ sweepIntervalMs: HOUR }, { sweepIntervalMs: HOUR })
      )
  )

  it.scoped(
    "quotas: total and per client address bytes of slots not yet expired (507); limits on create",
    () =>
      withRelay(
        () =>
          Effect.gen(function* () {
            const from = (address: string) => ({ "x-forwarded-for": address })
            const A = from("203.0.113.1")
            const B = from("203.0.113.2, 10.0.0.1")
            const C = from("203.0.113.3")
            const full = (res: { status: number; json: any }) =>
              expect({ status: res.status, tag: res.json?._tag }).toEqual({
                status: 507,
                tag: "RelayStorageFullError"
              })
            const a1 = yield* newSlot({ size_bytes: 5000 }, A)
            full(yield* createSlot({ size_bytes: 1001 }, A))
            yield* newSlot({ size_bytes: 1000 }, A)
            full(yield* createSlot({ size_bytes: 4001 }, B))
            yield* newSlot({ size_bytes: 4000 }, B)
            full(yield* createSlot({ size_bytes: 1 }, C))
            // Deleting a slot frees its bytes at once, for its address and in total.
            expect((yield* remove(a1.relay_id, { "relay-token": a1.upload_token })).status).toBe(200)
            yield* newSlot({ size_bytes: 5000 }, C)
            full(yield* createSlot({ size_bytes: 1 }, C))
            // Expired slots count no more.
            yield* advanceRelay(HOUR)
            yield* newSlot({ size_bytes: 6000 }, A)
            full(yield* createSlot({ size_bytes: 1 }, A))

            const tooLarge = yield* createSlot({ size_bytes: defaultRelayLimits.maxBlobBytes + 1 })
            expect({ status: tooLarge.status, body: tooLarge.json }).toEqual({
              status: 413,
              body: {
                _tag: "PayloadTooLargeError",
                message: expect.any(String),
                limit_bytes: defaultRelayLimits.maxBlobBytes
              }
            })
            for (const body of [
              { size_bytes: 1, ttl_secs: 86_401 },
              { size_bytes: 1, max_downloads: 11 }
            ]) {
              const res = yield* createSlot(body, C)
              expect({ status: res.status, tag: res.json?._tag }).toEqual({
                status: 400,
                tag: "InputInvalidError"
              })
            }
          }),
        relayConfig(
          { totalBytes: 10_000, addressBytes: 6_000, maxBlobBytes: defaultRelayLimits.maxBlobBytes },
          { trustProxy: true }
        )
      )
  )

  it.scoped("slot creation is rate limited per client address, before the body is read (429)", () =>
    withRelay(
      () =>
        Effect.gen(function* () {
          const A = { "x-forwarded-for": "198.51.100.7" }
          const B = { "x-forwarded-for": "198.51.100.8" }
          for (let i = 0; i < 3; i++) yield* newSlot({ size_bytes: 10 }, A)
          const base = yield* serverUrl
          const limited = yield* Effect.promise(async () => {
            const res = await fetch(`${base}/relay`, {
              method: "POST",
              headers: { "content-type": "application/json", ...A },
              body: JSON.stringify({ size_bytes: 10 })
            })
            return { status: res.status, retryAfter: res.headers.get("retry-after"), body: await res.json() }
          })
          expect(limited).toEqual({
            status: 429,
            retryAfter: "60",
            body: { _tag: "RateLimitedError", message: expect.any(String), retry_after_secs: 60 }
          })
          // Checked before the body: a malformed one is not even looked at.
          const malformed = yield* send("/relay", {
            method: "POST",
            headers: { "content-type": "application/json", ...A },
            body: "{not json"
          })
          expect(malformed.status).toBe(429)
          expect((yield* createSlot({ size_bytes: 10 }, B)).status).toBe(201)
          yield* advanceRelay(30_000)
          expect((yield* createSlot({ size_bytes: 10 }, A)).json?.retry_after_secs).toBe(30)
          yield* advanceRelay(30_000)
          expect((yield* createSlot({ size_bytes: 10 }, A)).status).toBe(201)
        }),
      relayConfig({ createsPerMinute: 3 }, { trustProxy: true })
    )
  )

  it.scoped("DELETE with the upload token or the admin token; the bytes go at once", () =>
    withRelay(
      (store) =>
        Effect.gen(function* () {
          const data = bytesOf(2000)
          const uploaded = () =>
            Effect.tap(newSlot({ size_bytes: data.length }), (s) => upload(s.relay_id, s.upload_token, data))
          const byOwner = yield* uploaded()
          const byAdmin = yield* uploaded()
          const notUploaded = yield* newSlot({ size_bytes: data.length })
          expect(yield* store.physical).toHaveLength(2)

          const owner = yield* remove(byOwner.relay_id, { "relay-token": byOwner.upload_token })
          expect({ status: owner.status, body: owner.json }).toEqual({
            status: 200,
            body: {
              relay_id: byOwner.relay_id,
              status: "deleted",
              size_bytes: data.length,
              max_downloads: 3,
              download_count: 0,
              created_at: iso(START),
              expires_at: iso(START)
            }
          })
          expect(yield* store.physical).toHaveLength(1)
          const wrong: Array<Record<string, string>> = [
            { "relay-token": byAdmin.download_token },
            { "admin-token": "not-the-secret" }
          ]
          for (const headers of wrong) {
            expect((yield* remove(byAdmin.relay_id, headers)).text).toBe(NOT_FOUND_BODY)
          }
          const admin = yield* remove(byAdmin.relay_id, { "admin-token": "admin-secret" })
          expect({ status: admin.status, slot: admin.json?.status }).toEqual({ status: 200, slot: "deleted" })
          expect(yield* store.physical).toEqual([])
          expect(
            (yield* remove(notUploaded.relay_id, { "relay-token": notUploaded.upload_token })).status
          ).toBe(200)
          for (const s of [byOwner, byAdmin, notUploaded]) {
            expect((yield* download(s.relay_id, s.download_token)).text).toBe(NOT_FOUND_BODY)
            expect((yield* remove(s.relay_id, { "relay-token": s.upload_token })).text).toBe(NOT_FOUND_BODY)
          }
        }),
      { adminToken: Option.some(Redacted.make("admin-secret")) }
    )
  )
})
