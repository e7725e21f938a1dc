import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

/**
 * Tasks, their participants, sessions and assignments. One DDL for both dialects (`BIGINT` is an
 * integer column on SQLite too). `seq` is the numeric part of the id: lists are ordered and paged by it.
 */
export default Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`CREATE TABLE tasks (
    task_id TEXT PRIMARY KEY,
    seq BIGINT NOT NULL,
    publisher TEXT NOT NULL,
    status TEXT NOT NULL,
    active_participants TEXT NOT NULL,
    participant_history TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
  )`
  yield* sql`CREATE INDEX tasks_seq ON tasks (seq)`
  yield* sql`CREATE INDEX tasks_publisher_seq ON tasks (publisher, seq)`
  // The JSON participant arrays, one row per (task, role, agent), for the participant lookups.
  // role: 'history' (participant_history) or 'active' (active_participants).
  yield* sql`CREATE TABLE task_members (
    task_id TEXT NOT NULL,
    role TEXT NOT NULL,
    agent_id TEXT NOT NULL,
    task_seq BIGINT NOT NULL,
    PRIMARY KEY (task_id, role, agent_id)
  )`
  yield* sql`CREATE INDEX task_members_agent ON task_members (agent_id, role, task_seq)`
  yield* sql`CREATE TABLE sessions (
    session_id TEXT PRIMARY KEY,
    seq BIGINT NOT NULL,
    task_id TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
  )`
  yield* sql`CREATE INDEX sessions_task ON sessions (task_id, seq)`
  // Agents' load is computed from this table by the registry and liveness repositories.
  yield* sql`CREATE TABLE assignments (
    assignment_id TEXT PRIMARY KEY,
    seq BIGINT NOT NULL,
    task_id TEXT NOT NULL,
    session_id TEXT NOT NULL,
    agent_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    target_assignment_id TEXT NULL,
    deadline_at BIGINT NULL,
    status TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
  )`
  yield* sql`CREATE INDEX assignments_agent_status ON assignments (agent_id, status)`
  yield* sql`CREATE INDEX assignments_agent_seq ON assignments (agent_id, seq)`
  yield* sql`CREATE INDEX assignments_task ON assignments (task_id, seq)`
  yield* sql`CREATE INDEX assignments_target ON assignments (target_assignment_id, seq)`
  yield* sql`CREATE INDEX assignments_overdue ON assignments (status, deadline_at)`
})
