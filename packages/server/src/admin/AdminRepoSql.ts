import { LedgerReason } from "@agent-marketplace/domain/settlement/Settlement"
import { AgentId, EntryId, HoldId, TaskId } from "@agent-marketplace/domain/shared/Ids"
import { TaskStatus } from "@agent-marketplace/domain/tasks/Task"
import { SqlClient } from "@effect/sql"
import { Effect, Layer, Option, Schema } from "effect"
import { decodeRows, SqlInt, SqlJson, seqPage } from "../platform/Sql"
import { AdminRepo } from "./AdminRepo"

const TaskRecord = Schema.Struct({
  task_id: TaskId,
  publisher: AgentId,
  status: TaskStatus,
  active_participants: SqlJson(Schema.Array(AgentId)),
  participant_history: SqlJson(Schema.Array(AgentId)),
  created_at: SqlInt,
  updated_at: SqlInt
})

const EntryRecord = Schema.Struct({
  entry_id: EntryId,
  debit_account: Schema.String,
  credit_account: Schema.String,
  amount: SqlInt,
  reason: LedgerReason,
  hold_id: Schema.NullOr(HoldId),
  at: SqlInt
})

/** The operator's views over the `tasks` and `entries` tables, keyset-paged by `seq`. */
export const AdminRepoSql: Layer.Layer<AdminRepo, never, SqlClient.SqlClient> = Layer.effect(
  AdminRepo,
  Effect.map(SqlClient.SqlClient, (sql) => ({
    listTasks: (status, cursor) =>
      Option.match(seqPage(sql, "seq", cursor), {
        onNone: () => Effect.succeed([]),
        onSome: (page) =>
          sql`SELECT task_id, publisher, status, active_participants, participant_history, created_at, updated_at
            FROM tasks
            WHERE ${page.after} ${Option.match(status, { onNone: () => sql.literal(""), onSome: (s) => sql`AND status = ${s}` })}
            ORDER BY seq ${page.limit}`.pipe(decodeRows(TaskRecord), Effect.orDie)
      }),
    listEntries: (cursor) =>
      Option.match(seqPage(sql, "seq", cursor), {
        onNone: () => Effect.succeed([]),
        onSome: (page) =>
          sql`SELECT entry_id, debit_account, credit_account, amount, reason, hold_id, at FROM entries
            WHERE ${page.after} ORDER BY seq ${page.limit}`.pipe(decodeRows(EntryRecord), Effect.orDie)
      })
  }))
)
