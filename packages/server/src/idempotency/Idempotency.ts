import { createHash } from "node:crypto"
import {
  IdempotencyInProgressError,
  IdempotencyKeyReusedError
} from "@agent-marketplace/domain/idempotency/IdempotencyErrors"
import { BalanceInsufficientError } from "@agent-marketplace/domain/settlement/Settlement"
import { DomainError } from "@agent-marketplace/domain/shared/Errors"
import type { AgentId } from "@agent-marketplace/domain/shared/Ids"
import { Clock, Context, Effect, Either, Layer, Option, Schema } from "effect"
import { Store } from "../platform/Store"
import { IdempotencyRepo } from "./IdempotencyRepo"

/** A response as stored and replayed: status and the exact JSON bytes. */
export interface StoredResponse {
  readonly status: number
  readonly body: string
}

const StoredError = Schema.Union(DomainError, BalanceInsufficientError)
type StoredError = typeof StoredError.Type
const encodeError = Schema.encodeSync(StoredError)

const statusOf: Record<StoredError["_tag"], number> = {
  InputInvalidError: 400,
  PermissionDeniedError: 403,
  ObjectNotFoundError: 404,
  StateConflictError: 409,
  BalanceInsufficientError: 409
}

/** Sorted-key JSON, so two requests that mean the same thing have the same fingerprint. */
const canonical = (value: unknown): string =>
  JSON.stringify(value, (_k, v) =>
    v !== null && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(
          Object.keys(v)
            .sort()
            .map((k) => [k, v[k]])
        )
      : v
  )

export const fingerprint = (method: string, path: string, body: unknown): string =>
  createHash("sha256")
    .update(`${method} ${path}\n${canonical(body ?? null)}`)
    .digest("hex")

export interface IdempotentRequest<A, I> {
  readonly caller: AgentId
  readonly key: string
  readonly method: string
  readonly path: string
  /** The request body as decoded (canonical material for the fingerprint). */
  readonly body: unknown
  readonly success: Schema.Schema<A, I>
  readonly status: number
}

export type MutationError = StoredError | IdempotencyKeyReusedError | IdempotencyInProgressError

export interface IdempotencyShape {
  /**
   * One mutation, exactly once per (caller, key), as one store transaction:
   * 1. `authorize` (object lookup and permission, an identity relation) runs first, on replays too;
   *    its rejections are answered, never stored;
   * 2. a stored record for (caller, key) is replayed (same fingerprint) or refused with 422;
   * 3. otherwise `apply(authorized)` runs in a savepoint and its response — success or business
   *    rejection — is stored in the same transaction. A defect stores nothing.
   * A second request with the same key while the first is running in this process gets 409.
   */
  readonly mutate: <X, A, I, R1, R2>(
    request: IdempotentRequest<A, I>,
    authorize: Effect.Effect<X, StoredError, R1>,
    apply: (authorized: X) => Effect.Effect<A, StoredError, R2>
  ) => Effect.Effect<StoredResponse, MutationError, R1 | R2>
  /** Deletes records older than the retention; returns how many. */
  readonly collect: Effect.Effect<number>
}

export class Idempotency extends Context.Tag("Idempotency")<Idempotency, IdempotencyShape>() {
  static readonly layer = (retentionMs: number) =>
    Layer.effect(
      Idempotency,
      Effect.gen(function* () {
        const repo = yield* IdempotencyRepo
        const store = yield* Store
        /** Keys whose first request is running in this process (other replicas: `repo.lock`). */
        const inFlight = new Set<string>()

        const mutate = <X, A, I, R1, R2>(
          request: IdempotentRequest<A, I>,
          authorize: Effect.Effect<X, StoredError, R1>,
          apply: (authorized: X) => Effect.Effect<A, StoredError, R2>
        ): Effect.Effect<StoredResponse, MutationError, R1 | R2> => {
          const print = fingerprint(request.method, request.path, request.body)
          const flightKey = `${request.caller}\u0000${request.key}`
          const once = Effect.gen(function* () {
            const authorized = yield* authorize
            yield* repo.lock(request.caller, request.key)
            const existing = yield* repo.get(request.caller, request.key)
            if (Option.isSome(existing)) {
              if (existing.value.fingerprint !== print) {
                return yield* new IdempotencyKeyReusedError({
                  message: `Idempotency-Key ${request.key} was already used with a different request`
                })
              }
              return { status: existing.value.status, body: existing.value.body }
            }
            const outcome = yield* Effect.either(store.transaction(apply(authorized)))
            const response: StoredResponse = Either.match(outcome, {
              onRight: (a) => ({
                status: request.status,
                body: JSON.stringify(Schema.encodeSync(request.success)(a))
              }),
              onLeft: (e) => ({ status: statusOf[e._tag], body: JSON.stringify(encodeError(e)) })
            })
            const inserted = yield* repo.insert({
              caller: request.caller,
              key: request.key,
              fingerprint: print,
              status: response.status,
              body: response.body,
              created_at: yield* Clock.currentTimeMillis
            })
            if (!inserted) return yield* Effect.die(new Error("idempotency record written concurrently"))
            return response
          })
          return Effect.suspend((): Effect.Effect<StoredResponse, MutationError, R1 | R2> => {
            if (inFlight.has(flightKey)) {
              return Effect.fail(
                new IdempotencyInProgressError({
                  message: `a request with Idempotency-Key ${request.key} is still running; retry shortly`
                })
              )
            }
            inFlight.add(flightKey)
            return Effect.ensuring(
              store.transaction(once),
              Effect.sync(() => inFlight.delete(flightKey))
            )
          })
        }

        return {
          mutate,
          collect: Effect.flatMap(Clock.currentTimeMillis, (now) => repo.deleteBefore(now - retentionMs))
        }
      })
    )
}
