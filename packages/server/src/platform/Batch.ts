import { Effect, Exit, Option, Runtime } from "effect"

/**
 * Point reads by key that arrive in one turn of the event loop, answered by one query: the first
 * read of a turn schedules a flush with `setImmediate` (it runs after that turn's I/O callbacks,
 * so every request read in the turn has asked by then); the flush runs `lookup` over the distinct
 * keys, at most `maxKeys` per query, and answers every waiter from the rows. Not a cache: each
 * read is answered by a query sent after it was asked, so whatever was committed before it asked
 * (a revoked token, a new heartbeat) is seen. A failed query fails every read of its batch.
 */
export const makeBatchedLookup = <K, V>(
  lookup: (keys: ReadonlyArray<K>) => Effect.Effect<ReadonlyMap<K, V>>,
  options: { readonly maxKeys: number }
): Effect.Effect<(key: K) => Effect.Effect<Option.Option<V>>> =>
  Effect.map(Effect.runtime<never>(), (runtime) => {
    const run = Runtime.runCallback(runtime)
    let waiting = new Map<K, Array<(answer: Effect.Effect<Option.Option<V>>) => void>>()
    let scheduled = false

    const send = (
      keys: ReadonlyArray<K>,
      waiters: Map<K, Array<(answer: Effect.Effect<Option.Option<V>>) => void>>
    ) =>
      run(lookup(keys), {
        onExit: (exit) => {
          for (const key of keys) {
            const answer = Exit.isSuccess(exit)
              ? Effect.succeed(Option.fromNullable(exit.value.get(key)))
              : Effect.failCause(exit.cause)
            for (const resume of waiters.get(key)!) resume(answer)
          }
        }
      })

    const flush = () => {
      scheduled = false
      const batch = waiting
      waiting = new Map()
      const keys = Array.from(batch.keys())
      for (let at = 0; at < keys.length; at += options.maxKeys)
        send(keys.slice(at, at + options.maxKeys), batch)
    }

    return (key: K) =>
      Effect.async<Option.Option<V>>((resume) => {
        const waiters = waiting.get(key)
        if (waiters === undefined) waiting.set(key, [resume])
        else waiters.push(resume)
        if (!scheduled) {
          scheduled = true
          setImmediate(flush)
        }
      })
  })
