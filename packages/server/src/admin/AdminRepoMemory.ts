import { idNumber } from "@agent-marketplace/domain/shared/Ids"
import { Effect, Layer, Option } from "effect"
import { MemoryDb, pageAfter } from "../platform/MemoryDb"
import { AdminRepo } from "./AdminRepo"

export const AdminRepoMemory = Layer.effect(
  AdminRepo,
  Effect.map(MemoryDb, (tables) => ({
    listTasks: (status, cursor) =>
      Effect.sync(() => {
        const rows = [...tables.tasks.values()]
          .filter((t) => Option.isNone(status) || t.status === status.value)
          .sort((a, b) => idNumber(a.task_id) - idNumber(b.task_id))
        return pageAfter(rows, (t) => t.task_id, cursor.after, cursor.limit, idNumber)
      }),
    listEntries: (cursor) =>
      Effect.sync(() => pageAfter(tables.entries, (e) => e.entry_id, cursor.after, cursor.limit, idNumber))
  }))
)
