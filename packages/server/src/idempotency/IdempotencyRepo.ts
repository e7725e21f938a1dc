import type { AgentId } from "@agent-marketplace/domain/shared/Ids"
import { Context, type Effect, type Option } from "effect"

export interface IdempotencyRow {
  readonly caller: AgentId
  readonly key: string
  readonly fingerprint: string
  readonly status: number
  readonly body: string
  readonly created_at: number
}

export interface IdempotencyRepoShape {
  /**
   * Serialises transactions on one (caller, key) until commit (SQL: a transaction-scoped advisory
   * lock), so two replicas receiving the same key at once apply it once: the second sees the record.
   */
  readonly lock: (caller: AgentId, key: string) => Effect.Effect<void>
  readonly get: (caller: AgentId, key: string) => Effect.Effect<Option.Option<IdempotencyRow>>
  /** Inserts a record; false when (caller, key) already exists (the unique key decides). */
  readonly insert: (row: IdempotencyRow) => Effect.Effect<boolean>
  /** Deletes records created before `before`; returns how many. */
  readonly deleteBefore: (before: number) => Effect.Effect<number>
}

export class IdempotencyRepo extends Context.Tag("IdempotencyRepo")<
  IdempotencyRepo,
  IdempotencyRepoShape
>() {}
