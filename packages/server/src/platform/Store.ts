import { Context, Effect, FiberRef, Layer } from "effect"

/**
 * The unit of atomicity shared by every repository of one store layer.
 *
 * `transaction` runs an effect so that all repository writes inside it commit together or not at
 * all; a nested `transaction` is a savepoint: its writes are undone on failure without failing the
 * outer one. Multi-step invariants (money + ledger + idempotency record, verdict + settlement,
 * timeout cleanup, task cancel) are always one transaction in the service that owns them.
 */
export interface StoreShape {
  /** `memory`, `sqlite` or `postgres`: reported by /health. */
  readonly kind: string
  readonly transaction: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  /** Store reachable and migrated (for /ready). */
  readonly ping: Effect.Effect<boolean>
}

export class Store extends Context.Tag("Store")<Store, StoreShape>() {
  /**
   * The memory store: one writer at a time (a semaphore), and an undo log per transaction level so a
   * failed transaction or savepoint restores exactly what it changed. Reads need no lock: every
   * repository read is synchronous, so it sees either all or none of a committed transaction... as long
   * as it runs outside a transaction; inside one it sees the transaction's own writes.
   */
  static readonly layerMemory = Layer.sync(Store, () => {
    const semaphore = Effect.unsafeMakeSemaphore(1)
    const transaction = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
      Effect.flatMap(FiberRef.get(currentUndoLog), (outer) => {
        const log: Array<() => void> = []
        const run = effect.pipe(
          Effect.locally(currentUndoLog, log),
          Effect.onExit((exit) =>
            Effect.sync(() => {
              if (exit._tag === "Success") {
                if (outer !== undefined) outer.push(...log)
              } else {
                for (let i = log.length - 1; i >= 0; i--) log[i]!()
              }
            })
          )
        )
        return outer === undefined ? semaphore.withPermits(1)(Effect.uninterruptible(run)) : run
      })
    return { kind: "memory", transaction, ping: Effect.succeed(true) }
  })
}

/** The undo log of the innermost memory transaction of this fiber, if any. */
export const currentUndoLog = FiberRef.unsafeMake<Array<() => void> | undefined>(undefined)

/**
 * Memory repositories record how to undo each write. Writes outside a transaction are allowed (they
 * are single synchronous steps) and cannot be undone.
 */
export const recordUndo = (undo: () => void): Effect.Effect<void> =>
  Effect.map(FiberRef.get(currentUndoLog), (log) => {
    if (log !== undefined) log.push(undo)
  })

/** `map.set(key, value)` with its undo recorded in the current memory transaction. */
export const setUndoable = <K, V>(map: Map<K, V>, key: K, value: V): Effect.Effect<void> =>
  Effect.suspend(() => {
    const had = map.has(key)
    const previous = map.get(key)
    map.set(key, value)
    return recordUndo(() => {
      if (had) map.set(key, previous as V)
      else map.delete(key)
    })
  })

/** `map.delete(key)` with its undo recorded in the current memory transaction. */
export const deleteUndoable = <K, V>(map: Map<K, V>, key: K): Effect.Effect<void> =>
  Effect.suspend(() => {
    if (!map.has(key)) return Effect.void
    const previous = map.get(key) as V
    map.delete(key)
    return recordUndo(() => {
      map.set(key, previous)
    })
  })
