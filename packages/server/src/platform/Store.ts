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
   * The memory store: one writer at a time, and an undo log per transaction level so a failed
   * transaction or savepoint restores exactly what it changed. Reads need no lock: every
   * repository read is synchronous, so it sees either all or none of a committed transaction... as long
   * as it runs outside a transaction; inside one it sees the transaction's own writes.
   *
   * The writer lock is a flag: a memory transaction is synchronous, so it is nearly always free, and
   * taking it is one check (Effect's `Semaphore.withPermits` cost ~30 runtime operations, and the
   * scoped `locally` of the undo log ~30 more, most of a memory heartbeat; design/performance.md).
   * A transaction that finds it held waits, interruptibly, for the next release and tries again;
   * every waiter is woken and one wins, so an interrupted waiter never holds the lock.
   */
  static readonly layerMemory = Layer.sync(Store, () => {
    let held = false
    const waiters = new Set<() => void>()
    const released = Effect.async<void>((resume) => {
      const wake = () => resume(Effect.void)
      waiters.add(wake)
      return Effect.sync(() => {
        waiters.delete(wake)
      })
    })
    const release = () => {
      held = false
      const woken = Array.from(waiters)
      waiters.clear()
      for (const wake of woken) wake()
    }

    const transaction = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
      Effect.flatMap(FiberRef.get(currentUndoLog), (outer) => {
        const log: Array<() => void> = []
        // The undo log is set and restored on this fiber inside the uninterruptible top-level
        // transaction (a savepoint only runs inside one), and the lock is released when it ends.
        const run = Effect.zipRight(
          FiberRef.set(currentUndoLog, log),
          Effect.onExit(effect, (exit) =>
            Effect.zipRight(
              FiberRef.set(currentUndoLog, outer),
              Effect.sync(() => {
                try {
                  if (exit._tag === "Success") {
                    if (outer !== undefined) outer.push(...log)
                  } else {
                    for (let i = log.length - 1; i >= 0; i--) log[i]!()
                  }
                } finally {
                  // Released even if an undo step throws (that is a defect of the transaction).
                  if (outer === undefined) release()
                }
              })
            )
          )
        )
        if (outer !== undefined) return run
        // Alone and uninterruptible; waiting for the lock stays interruptible.
        return Effect.uninterruptibleMask((restore) => {
          const attempt: Effect.Effect<A, E, R> = Effect.suspend(() => {
            if (held) return Effect.zipRight(restore(released), attempt)
            held = true
            return run
          })
          return attempt
        })
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
