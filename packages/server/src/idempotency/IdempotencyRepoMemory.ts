import { Effect, Layer, Option } from "effect"
import { MemoryDb } from "../platform/MemoryDb"
import { deleteUndoable, setUndoable } from "../platform/Store"
import { IdempotencyRepo } from "./IdempotencyRepo"

const keyOf = (caller: string, key: string) => `${caller}\u0000${key}`

export const IdempotencyRepoMemory = Layer.effect(
  IdempotencyRepo,
  Effect.gen(function* () {
    const tables = yield* MemoryDb
    return {
      lock: () => Effect.void,
      get: (caller, key) =>
        Effect.sync(() => Option.fromNullable(tables.idempotency.get(keyOf(caller, key)))),
      insert: (row) =>
        Effect.suspend(() => {
          const k = keyOf(row.caller, row.key)
          if (tables.idempotency.has(k)) return Effect.succeed(false)
          return Effect.as(setUndoable(tables.idempotency, k, row), true)
        }),
      deleteBefore: (before) =>
        Effect.gen(function* () {
          let n = 0
          for (const [k, row] of tables.idempotency) {
            if (row.created_at < before) {
              yield* deleteUndoable(tables.idempotency, k)
              n++
            }
          }
          return n
        })
    }
  })
)
