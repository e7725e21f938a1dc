import {
  type CreateRelayRequest,
  RateLimitedError,
  RelayAlreadyUploadedError,
  RelayId,
  type RelayMetadata,
  RelayNotFoundError,
  RelaySizeMismatchError,
  type RelaySlot,
  RelayStorageFullError
} from "@agent-marketplace/domain/relay/Relay"
import { InputInvalidError, PayloadTooLargeError } from "@agent-marketplace/domain/shared/Errors"
import { Chunk, Clock, Context, Effect, Exit, Layer, Option, Redacted, Stream } from "effect"
import { Metrics } from "../metrics/Metrics"
import { hexToBase64Url, keyedHashHex, SecureRandom, secretsEqual, sha256Hex } from "../platform/SecureRandom"
import { ServerConfig } from "../platform/ServerConfig"
import { Store } from "../platform/Store"
import { fixedTicks } from "../platform/Ticker"
import { iso } from "../platform/Wire"
import { BlobStore } from "./BlobStore"
import { finalStatuses, RelayRepo, type RelayRow, usableStatuses } from "./RelayRepo"

/** A transfer's lease runs this long past its last renewal… */
export const LEASE_MS = 60_000
/** …and is renewed this often while the transfer runs. */
export const LEASE_RENEW_MS = 20_000
/** Rows are removed this long after their slot stopped being usable. */
export const ROW_RETENTION_MS = 24 * 3600 * 1000
/** The rate limit's sliding window. */
const RATE_WINDOW_MS = 60_000

const relayIdPattern = /^relay_[A-Za-z0-9_-]{22}$/

/**
 * The one answer for an unknown id, a wrong token, an expired, consumed or deleted slot, and a GET
 * before the upload: the relay is no existence oracle.
 */
export const RELAY_NOT_FOUND = "relay slot not found"

export interface RelaySweepReport {
  /** Slots whose TTL ran out, marked `expired`. */
  readonly expired: number
  /** Slots whose upload's server stopped mid-upload, returned to `created`. */
  readonly uploadsReset: number
  /** Slots in a final status whose bytes were deleted. */
  readonly bytesDeleted: number
  /** Rows removed a day after their slot stopped being usable. */
  readonly rowsRemoved: number
  /** Blobs that no row refers to, deleted. */
  readonly orphansDeleted: number
}

export interface RelayDownload {
  readonly size_bytes: number
  readonly bytes: Stream.Stream<Uint8Array>
}

/**
 * The anonymous relay: slots, their one upload and their downloads, quotas and the sweep. A slot is
 * bound only to its tokens; nothing here ever reads or writes tasks, reviews or settlement.
 */
export class Relay extends Context.Tag("Relay")<
  Relay,
  {
    /** Counts a slot creation against the client address's rate limit (before its body is read). */
    readonly admit: (client: string) => Effect.Effect<void, RateLimitedError>
    readonly create: (
      request: CreateRelayRequest,
      client: string
    ) => Effect.Effect<RelaySlot, RelayStorageFullError | PayloadTooLargeError | InputInvalidError>
    /**
     * Stores the slot's bytes from `body` (exactly `size_bytes` of them). `declaredLength` is the
     * request's Content-Length, if any.
     */
    readonly upload: <E>(
      relayId: string,
      token: string | undefined,
      declaredLength: Option.Option<number>,
      body: Stream.Stream<Uint8Array, E>
    ) => Effect.Effect<
      RelayMetadata,
      RelayNotFoundError | RelayAlreadyUploadedError | RelaySizeMismatchError | E
    >
    /** Starts a download (counted now); the bytes stream when the response is written. */
    readonly download: (
      relayId: string,
      token: string | undefined
    ) => Effect.Effect<RelayDownload, RelayNotFoundError>
    /** Deletes a slot with its upload token or the admin token. */
    readonly remove: (
      relayId: string,
      relayToken: string | undefined,
      adminToken: string | undefined
    ) => Effect.Effect<RelayMetadata, RelayNotFoundError>
    readonly sweep: Effect.Effect<RelaySweepReport>
  }
>() {}

const toMetadata = (row: RelayRow): RelayMetadata => ({
  relay_id: RelayId.make(row.relay_id),
  status: row.status === "uploading" ? "created" : row.status,
  size_bytes: row.size_bytes,
  max_downloads: row.max_downloads,
  download_count: row.download_count,
  created_at: iso(row.created_at),
  expires_at: iso(row.expires_at)
})

/**
 * `body` passed on while it stays within `size` bytes. A body that ends short fails with
 * `mismatch()`; one that runs long stops being passed on, is read on (and dropped) for up to
 * `drainBytes` more bytes so the answer can still be written on the connection, then fails.
 */
export const exactly = <E, E2>(
  body: Stream.Stream<Uint8Array, E>,
  size: number,
  drainBytes: number,
  mismatch: () => E2
): Stream.Stream<Uint8Array, E | E2> =>
  Stream.suspend(() => {
    let seen = 0
    return body.pipe(
      Stream.mapChunksEffect((chunk) => {
        for (const piece of chunk) seen += piece.length
        if (seen <= size) return Effect.succeed(chunk)
        if (seen > size + drainBytes) return Effect.fail(mismatch())
        // Over the size: nothing more is passed on; the failure at the end discards what was.
        return Effect.succeed(Chunk.empty<Uint8Array>())
      }),
      Stream.concat(Stream.suspend(() => (seen === size ? Stream.empty : Stream.fail(mismatch()))))
    )
  })

export const RelayLive = Layer.effect(
  Relay,
  Effect.gen(function* () {
    const repo = yield* RelayRepo
    const blobs = yield* BlobStore
    const store = yield* Store
    const random = yield* SecureRandom
    const config = yield* ServerConfig
    const limits = config.relay

    // Per client address, in this process only (see design/relay.md): the keyed hash of the address
    // (the key is random per process and never leaves it) → recent creations, and → its slots not
    // yet expired. Nothing about client addresses is written to the store or to logs.
    const addressSecret = yield* random.hex(32)
    const addressKey = (client: string) => keyedHashHex(addressSecret, client)
    const creations = new Map<string, Array<number>>()
    const slotsOf = new Map<string, Array<{ readonly relayId: string; readonly expiresAt: number }>>()
    const liveSlotsOf = (who: string, now: number) => {
      const live = (slotsOf.get(who) ?? []).filter((s) => s.expiresAt > now)
      if (live.length === 0) slotsOf.delete(who)
      else slotsOf.set(who, live)
      return live
    }
    const creating = yield* Effect.makeSemaphore(1)

    const notFound = () => new RelayNotFoundError({ message: RELAY_NOT_FOUND })
    const tokenMatches = (hash: string, token: string | undefined) =>
      token !== undefined && token.length <= 256 && secretsEqual(hash, sha256Hex(token))
    const adminMatches = (token: string | undefined) =>
      token !== undefined &&
      token.length <= 256 &&
      Option.isSome(config.adminToken) &&
      secretsEqual(Redacted.value(config.adminToken.value), token)

    /** The slot, when the id is well formed, it exists and `accept` holds; else none (→ the one 404). */
    const find = (relayId: string, accept: (row: RelayRow) => boolean) =>
      relayIdPattern.test(relayId)
        ? Effect.map(repo.get(relayId), Option.filter(accept))
        : Effect.succeed(Option.none<RelayRow>())

    const isUsable = (row: RelayRow, now: number) =>
      usableStatuses.includes(row.status) && row.expires_at > now

    /** Upload happens once, from `created`: 409 once claimed or uploaded, the 404 when unusable. */
    const checkUploadable = (row: RelayRow, now: number) =>
      !isUsable(row, now)
        ? Effect.fail(notFound())
        : row.status !== "created"
          ? Effect.fail(
              new RelayAlreadyUploadedError({
                message: "this relay slot already has its bytes (or an upload to it is in progress)"
              })
            )
          : Effect.void

    const isDownloadable = (row: RelayRow, now: number) =>
      row.status === "uploaded" &&
      row.expires_at > now &&
      row.blob_key !== null &&
      row.download_count < row.max_downloads

    const mismatch = (size: number) => () =>
      new RelaySizeMismatchError({
        message: `the body must be exactly size_bytes = ${size} bytes long; nothing was kept, the slot can be uploaded again`,
        expected_bytes: size
      })

    /** Renews the lease while `effect` runs. */
    const renewLease = (leaseId: string) =>
      Effect.sleep(LEASE_RENEW_MS).pipe(
        Effect.zipRight(Clock.currentTimeMillis),
        Effect.flatMap((now) => store.transaction(repo.renewLease(leaseId, now + LEASE_MS))),
        Effect.repeat({ while: (renewed) => renewed }),
        Effect.catchAllCause((cause) => Effect.logWarning("relay lease renewal failed", cause))
      )
    const leased = <A, E, R>(leaseId: string, effect: Effect.Effect<A, E, R>) =>
      Effect.scoped(Effect.zipRight(Effect.forkScoped(renewLease(leaseId)), effect))

    /**
     * Deletes the bytes of a slot in a final status when no transfer holds a lease on it; true when
     * bytes were deleted. The bytes go first, then the row's reference: a crash in between leaves a
     * reference to nothing, which the next sweep clears.
     */
    const releaseBytes = (relayId: string) =>
      Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        const key = yield* store.transaction(
          Effect.gen(function* () {
            const row = yield* repo.lock(relayId)
            if (Option.isNone(row) || row.value.blob_key === null) return Option.none<string>()
            if (!finalStatuses.includes(row.value.status)) return Option.none<string>()
            if ((yield* repo.liveLeases(relayId, now)) > 0) return Option.none<string>()
            return Option.some(row.value.blob_key)
          })
        )
        if (Option.isNone(key)) return false
        yield* blobs.remove(key.value)
        yield* forgetBlob(relayId, key.value)
        return true
      })

    /** Clears the row's reference to `key` (its bytes are gone); an upload still claiming it is undone. */
    const forgetBlob = (relayId: string, key: string, leaseId?: string) =>
      store.transaction(
        Effect.gen(function* () {
          const row = yield* repo.lock(relayId)
          if (Option.isSome(row) && row.value.blob_key === key) {
            yield* repo.update({
              ...row.value,
              status: row.value.status === "uploading" ? "created" : row.value.status,
              blob_key: null
            })
          }
          if (leaseId !== undefined) yield* repo.deleteLease(leaseId)
        })
      )

    const finishDownload = (relayId: string, leaseId: string) =>
      store.transaction(repo.deleteLease(leaseId)).pipe(
        Effect.zipRight(releaseBytes(relayId)),
        Effect.catchAllCause((cause) => Effect.logError("relay download cleanup failed", cause))
      )

    const upload = <E>(
      relayId: string,
      token: string | undefined,
      declaredLength: Option.Option<number>,
      body: Stream.Stream<Uint8Array, E>
    ) =>
      Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        const found = yield* find(relayId, (row) => tokenMatches(row.upload_token_hash, token))
        if (Option.isNone(found)) return yield* notFound()
        const slot = found.value
        yield* checkUploadable(slot, now)
        if (Option.isSome(declaredLength) && declaredLength.value !== slot.size_bytes) {
          return yield* mismatch(slot.size_bytes)()
        }
        // Claim the slot: of two concurrent uploads, one sees `created` under the row lock.
        const key = `${slot.relay_id}.${yield* random.hex(8)}`
        const leaseId = yield* random.hex(16)
        yield* store.transaction(
          Effect.gen(function* () {
            const current = yield* repo.lock(slot.relay_id)
            if (Option.isNone(current)) return yield* notFound()
            yield* checkUploadable(current.value, now)
            yield* repo.update({ ...current.value, status: "uploading", blob_key: key })
            yield* repo.putLease({
              lease_id: leaseId,
              relay_id: slot.relay_id,
              kind: "upload",
              lease_until: now + LEASE_MS
            })
          })
        )
        return yield* Effect.uninterruptibleMask((restore) =>
          Effect.gen(function* () {
            const written = yield* Effect.exit(
              restore(
                leased(
                  leaseId,
                  blobs.write(
                    key,
                    exactly(body, slot.size_bytes, limits.maxBlobBytes, mismatch(slot.size_bytes))
                  )
                )
              )
            )
            if (Exit.isFailure(written)) {
              // Nothing is kept; the slot is `created` again, so the uploader may retry.
              yield* blobs.remove(key)
              yield* forgetBlob(slot.relay_id, key, leaseId)
              return yield* Effect.failCause(written.cause)
            }
            const done = yield* store.transaction(
              Effect.gen(function* () {
                const at = yield* Clock.currentTimeMillis
                const current = yield* repo.lock(slot.relay_id)
                // Still our claim (not deleted, expired or reset meanwhile) and not past its TTL.
                if (
                  Option.isNone(current) ||
                  current.value.status !== "uploading" ||
                  current.value.blob_key !== key ||
                  current.value.expires_at <= at
                ) {
                  return Option.none<RelayRow>()
                }
                const uploaded: RelayRow = { ...current.value, status: "uploaded" }
                yield* repo.update(uploaded)
                yield* repo.deleteLease(leaseId)
                return Option.some(uploaded)
              })
            )
            if (Option.isNone(done)) {
              yield* blobs.remove(key)
              yield* forgetBlob(slot.relay_id, key, leaseId)
              return yield* notFound()
            }
            return toMetadata(done.value)
          })
        )
      }).pipe(Effect.withSpan("Relay.upload"))

    return {
      admit: (client) =>
        Effect.gen(function* () {
          const now = yield* Clock.currentTimeMillis
          const who = addressKey(client)
          const recent = (creations.get(who) ?? []).filter((at) => at > now - RATE_WINDOW_MS)
          if (recent.length >= limits.createsPerMinute) {
            creations.set(who, recent)
            return yield* new RateLimitedError({
              message: `too many relay slots created from this address: at most ${limits.createsPerMinute} per minute`,
              retry_after_secs: Math.max(1, Math.ceil((recent[0]! + RATE_WINDOW_MS - now) / 1000))
            })
          }
          recent.push(now)
          creations.set(who, recent)
        }),

      create: Effect.fn("Relay.create")(function* (request: CreateRelayRequest, client: string) {
        const size = request.size_bytes
        if (size > limits.maxBlobBytes) {
          return yield* new PayloadTooLargeError({
            message: `size_bytes is larger than the relay's limit of ${limits.maxBlobBytes} bytes`,
            limit_bytes: limits.maxBlobBytes
          })
        }
        const ttlSecs = request.ttl_secs ?? limits.defaultTtlSecs
        if (ttlSecs > limits.maxTtlSecs) {
          return yield* new InputInvalidError({ message: `ttl_secs must be at most ${limits.maxTtlSecs}` })
        }
        const maxDownloads = request.max_downloads ?? limits.defaultDownloads
        if (maxDownloads > limits.maxDownloads) {
          return yield* new InputInvalidError({
            message: `max_downloads must be at most ${limits.maxDownloads}`
          })
        }
        const who = addressKey(client)
        return yield* creating.withPermits(1)(
          Effect.gen(function* () {
            const now = yield* Clock.currentTimeMillis
            const mine = liveSlotsOf(who, now)
            const used = yield* repo.activeBytes(
              now,
              mine.map((s) => s.relayId)
            )
            if (used + size > limits.addressBytes) {
              return yield* new RelayStorageFullError({
                message:
                  "the relay storage quota of this client address is full; retry once its slots are downloaded, deleted or expired"
              })
            }
            const uploadToken = `relay-token-${yield* random.hex(32)}`
            const downloadToken = `relay-token-${yield* random.hex(32)}`
            const row: RelayRow = {
              relay_id: `relay_${hexToBase64Url(yield* random.hex(16))}`,
              upload_token_hash: sha256Hex(uploadToken),
              download_token_hash: sha256Hex(downloadToken),
              size_bytes: size,
              max_downloads: maxDownloads,
              download_count: 0,
              status: "created",
              created_at: now,
              expires_at: now + ttlSecs * 1000,
              blob_key: null
            }
            yield* store.transaction(
              Effect.gen(function* () {
                yield* repo.lockQuota
                if ((yield* repo.activeBytes(now)) + size > limits.totalBytes) {
                  return yield* new RelayStorageFullError({
                    message: "the relay storage is full; retry later"
                  })
                }
                yield* repo.insert(row)
              })
            )
            slotsOf.set(who, [...mine, { relayId: row.relay_id, expiresAt: row.expires_at }])
            return {
              relay_id: RelayId.make(row.relay_id),
              upload_token: uploadToken,
              download_token: downloadToken,
              expires_at: iso(row.expires_at),
              max_downloads: row.max_downloads
            }
          })
        )
      }),

      upload,

      download: Effect.fn("Relay.download")(function* (relayId: string, token: string | undefined) {
        const now = yield* Clock.currentTimeMillis
        const found = yield* find(relayId, (row) => tokenMatches(row.download_token_hash, token))
        if (Option.isNone(found)) return yield* notFound()
        const leaseId = yield* random.hex(16)
        const started = yield* store.transaction(
          Effect.gen(function* () {
            const current = yield* repo.lock(found.value.relay_id)
            if (Option.isNone(current) || !isDownloadable(current.value, now)) return yield* notFound()
            const count = current.value.download_count + 1
            const consumed = count >= current.value.max_downloads
            const row: RelayRow = {
              ...current.value,
              download_count: count,
              status: consumed ? "consumed" : "uploaded",
              expires_at: consumed ? Math.min(current.value.expires_at, now) : current.value.expires_at
            }
            yield* repo.update(row)
            yield* repo.putLease({
              lease_id: leaseId,
              relay_id: row.relay_id,
              kind: "download",
              lease_until: now + LEASE_MS
            })
            return row
          })
        )
        const bytes = Stream.unwrapScoped(
          Effect.as(Effect.forkScoped(renewLease(leaseId)), blobs.read(started.blob_key!))
        ).pipe(
          (stream) =>
            exactly(stream, started.size_bytes, 0, () => "stored relay blob has the wrong size").pipe(
              Stream.orDie
            ),
          Stream.ensuring(finishDownload(started.relay_id, leaseId))
        )
        return { size_bytes: started.size_bytes, bytes }
      }),

      remove: Effect.fn("Relay.remove")(function* (
        relayId: string,
        relayToken: string | undefined,
        adminToken: string | undefined
      ) {
        const now = yield* Clock.currentTimeMillis
        const admin = adminMatches(adminToken)
        const found = yield* find(relayId, (row) => admin || tokenMatches(row.upload_token_hash, relayToken))
        if (Option.isNone(found)) return yield* notFound()
        const deleted = yield* store.transaction(
          Effect.gen(function* () {
            const current = yield* repo.lock(found.value.relay_id)
            if (Option.isNone(current) || !isUsable(current.value, now)) return yield* notFound()
            const row: RelayRow = {
              ...current.value,
              status: "deleted",
              expires_at: Math.min(current.value.expires_at, now)
            }
            yield* repo.update(row)
            return row
          })
        )
        // Bytes go now, or when the last download still streaming them ends.
        yield* releaseBytes(deleted.relay_id)
        return toMetadata(deleted)
      }),

      sweep: Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        const expired = yield* store.transaction(repo.expireDue(now))
        let uploadsReset = 0
        for (const stale of yield* repo.staleUploads(now)) {
          const key = yield* store.transaction(
            Effect.gen(function* () {
              const row = yield* repo.lock(stale.relay_id)
              if (Option.isNone(row) || row.value.status !== "uploading" || row.value.blob_key === null) {
                return Option.none<string>()
              }
              if ((yield* repo.liveLeases(stale.relay_id, now)) > 0) return Option.none<string>()
              yield* repo.update({ ...row.value, status: "created", blob_key: null })
              return Option.some(row.value.blob_key)
            })
          )
          if (Option.isSome(key)) {
            yield* blobs.remove(key.value)
            uploadsReset++
          }
        }
        let bytesDeleted = 0
        for (const row of yield* repo.bytesToDelete(now)) {
          if (yield* releaseBytes(row.relay_id)) bytesDeleted++
        }
        const rowsRemoved = yield* store.transaction(repo.removeUnusableBefore(now - ROW_RETENTION_MS))
        yield* store.transaction(repo.deleteLapsedLeases(now))
        // Blobs no row refers to (a transfer whose server stopped between two steps). The keys are
        // listed before the references are read: a blob listed is older than its claim, so a blob
        // still claimed is always among the references.
        const present = yield* blobs.keys
        const referenced = yield* repo.blobKeys
        let orphansDeleted = 0
        for (const key of present) {
          if (!referenced.has(key)) {
            yield* blobs.remove(key)
            orphansDeleted++
          }
        }
        for (const who of [...slotsOf.keys()]) liveSlotsOf(who, now)
        for (const [who, times] of [...creations]) {
          const recent = times.filter((at) => at > now - RATE_WINDOW_MS)
          if (recent.length === 0) creations.delete(who)
          else creations.set(who, recent)
        }
        const report: RelaySweepReport = { expired, uploadsReset, bytesDeleted, rowsRemoved, orphansDeleted }
        if (Object.values(report).some((n) => n > 0)) {
          // Counts only: never ids, tokens, rows or bytes.
          yield* Effect.logInfo("relay sweep").pipe(
            Effect.annotateLogs({
              expired,
              uploads_reset: uploadsReset,
              bytes_deleted: bytesDeleted,
              rows_removed: rowsRemoved,
              orphans_deleted: orphansDeleted
            })
          )
        }
        return report
      }).pipe(Effect.withSpan("Relay.sweep"))
    }
  })
)

/**
 * The relay's background sweep: runs `Relay.sweep` every `AGENT_MARKETPLACE_RELAY_SWEEP_INTERVAL_MS`
 * for the life of the server.
 */
export class RelaySweeper extends Context.Tag("RelaySweeper")<
  RelaySweeper,
  {
    /** Completes once every relay sweep due at the current instant has finished (for TestClock tests). */
    readonly idle: Effect.Effect<void>
  }
>() {}

export const RelaySweeperLive = Layer.scoped(
  RelaySweeper,
  Effect.gen(function* () {
    const relay = yield* Relay
    const metrics = yield* Metrics
    const config = yield* ServerConfig
    return yield* fixedTicks(
      relay.sweep.pipe(
        metrics.timeSweep("relay"),
        Effect.catchAllCause((cause) => Effect.logError("relay sweep failed", cause))
      ),
      config.relay.sweepIntervalMs
    )
  })
)
