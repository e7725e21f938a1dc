import type { RelayStatus } from "@agent-marketplace/domain/relay/Relay"
import { Context, type Effect, type Option } from "effect"

/**
 * A slot's stored status: the public ones plus `uploading`, the short-lived claim of one upload in
 * progress (never on the wire).
 */
export type RelayRowStatus = RelayStatus | "uploading"

/** Statuses in which a slot can still be used (and counts against the quotas until it expires). */
export const usableStatuses: ReadonlyArray<RelayRowStatus> = ["created", "uploading", "uploaded"]
/** Statuses a slot never leaves: its bytes are deleted and, a day later, its row. */
export const finalStatuses: ReadonlyArray<RelayRowStatus> = ["consumed", "expired", "deleted"]

/**
 * One relay slot. Nothing else is ever stored about it: no agent, task, assignment, client address,
 * file name, content hash or key.
 */
export interface RelayRow {
  readonly relay_id: string
  /** SHA-256 (hex) of the upload token. */
  readonly upload_token_hash: string
  /** SHA-256 (hex) of the download token. */
  readonly download_token_hash: string
  readonly size_bytes: number
  readonly max_downloads: number
  readonly download_count: number
  readonly status: RelayRowStatus
  readonly created_at: number
  /**
   * When the slot stops being usable: its TTL, or the earlier instant at which it was consumed or
   * deleted. The row is removed a day after it.
   */
  readonly expires_at: number
  /**
   * Where the bytes live: their key in the store's `BlobStore` (one key per upload attempt), set when
   * an upload claims the slot and cleared once the bytes are deleted; null when there are none.
   */
  readonly blob_key: string | null
}

/**
 * A transfer in progress (an upload, or a download being streamed), renewed while it runs. Bytes are
 * never deleted under a live lease, so a download that has started is served to its end on every
 * replica; a lease whose server died simply lapses.
 */
export interface RelayLease {
  readonly lease_id: string
  readonly relay_id: string
  readonly kind: "upload" | "download"
  readonly lease_until: number
}

export interface RelayRepoShape {
  /** Inserts a new slot (ids are random; a duplicate is a defect). */
  readonly insert: (row: RelayRow) => Effect.Effect<void>
  readonly get: (relayId: string) => Effect.Effect<Option.Option<RelayRow>>
  /** The slot, locked until the end of the transaction (Postgres `FOR UPDATE`). */
  readonly lock: (relayId: string) => Effect.Effect<Option.Option<RelayRow>>
  /** Writes the mutable fields: `download_count`, `status`, `expires_at`, `blob_key`. */
  readonly update: (row: RelayRow) => Effect.Effect<void>
  /**
   * Serialises quota checks across replicas until the transaction ends (Postgres advisory lock), so
   * two concurrent creations cannot both take the last free bytes.
   */
  readonly lockQuota: Effect.Effect<void>
  /**
   * The sizes of the slots still usable and not yet expired at `now`, summed: all of them, or only
   * those among `relayIds`.
   */
  readonly activeBytes: (now: number, relayIds?: ReadonlyArray<string>) => Effect.Effect<number>
  /** Marks every usable slot whose `expires_at` has come `expired`; returns how many. */
  readonly expireDue: (now: number) => Effect.Effect<number>
  /** Slots `uploading` whose upload holds no live lease (its server stopped mid-upload). */
  readonly staleUploads: (now: number) => Effect.Effect<ReadonlyArray<RelayRow>>
  /** Slots in a final status that still have bytes and no live lease. */
  readonly bytesToDelete: (now: number) => Effect.Effect<ReadonlyArray<RelayRow>>
  /** Deletes the rows in a final status, without bytes, that stopped being usable at or before `before`. */
  readonly removeUnusableBefore: (before: number) => Effect.Effect<number>
  /** Every blob key a slot refers to. */
  readonly blobKeys: Effect.Effect<ReadonlySet<string>>
  readonly putLease: (lease: RelayLease) => Effect.Effect<void>
  /** Extends a lease; false when it is gone. */
  readonly renewLease: (leaseId: string, until: number) => Effect.Effect<boolean>
  readonly deleteLease: (leaseId: string) => Effect.Effect<void>
  /** Whether the lease exists and runs past `now`. */
  readonly leaseLive: (leaseId: string, now: number) => Effect.Effect<boolean>
  /** How many leases on the slot run past `now`. */
  readonly liveLeases: (relayId: string, now: number) => Effect.Effect<number>
  /** Deletes the leases that ran out at or before `now`; returns how many. */
  readonly deleteLapsedLeases: (now: number) => Effect.Effect<number>
}

export class RelayRepo extends Context.Tag("RelayRepo")<RelayRepo, RelayRepoShape>() {}
