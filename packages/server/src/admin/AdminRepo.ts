import type { EntryId, TaskId } from "@agent-marketplace/domain/shared/Ids"
import type { TaskStatus } from "@agent-marketplace/domain/tasks/Task"
import { Context, type Effect, type Option } from "effect"
import type { EntryRow } from "../settlement/LedgerRepo"
import type { Cursor, TaskRow } from "../tasks/TaskRepo"

/**
 * The operator's read-only views over every agent's objects (the agent-facing repositories only list
 * what one agent may see). Both lists are in creation order (numeric id), paged like the others.
 */
export interface AdminRepoShape {
  readonly listTasks: (
    status: Option.Option<TaskStatus>,
    cursor: Cursor<TaskId>
  ) => Effect.Effect<ReadonlyArray<TaskRow>>
  readonly listEntries: (cursor: Cursor<EntryId>) => Effect.Effect<ReadonlyArray<EntryRow>>
}

export class AdminRepo extends Context.Tag("AdminRepo")<AdminRepo, AdminRepoShape>() {}
