import type { SqlClient } from "@effect/sql"
import * as Migrator from "@effect/sql/Migrator"
import { Effect, Layer, Schedule } from "effect"
import sequences from "./0001_sequences"
import registry from "./0002_registry"
import idempotency from "./0003_idempotency"
import tasks from "./0004_tasks"
import reviews from "./0005_reviews"
import ledger from "./0006_ledger"
import relay from "./0007_relay"
import admin from "./0008_admin"
import identityKeys from "./0009_identity_keys"
import discoverLiveness from "./0010_discover_liveness"

/**
 * Every migration, imported statically (the server is one bundle; nothing is read from disk). Ids only
 * ever grow; a released migration is never edited, a change is a new module.
 */
export const migrations = {
  "0001_sequences": sequences,
  "0002_registry": registry,
  "0003_idempotency": idempotency,
  "0004_tasks": tasks,
  "0005_reviews": reviews,
  "0006_ledger": ledger,
  "0007_relay": relay,
  "0008_admin": admin,
  "0009_identity_keys": identityKeys,
  "0010_discover_liveness": discoverLiveness
} as const

/**
 * Runs the pending migrations at startup. On Postgres the migrator locks its table, so replicas
 * starting together apply each migration once (a replica that loses the race waits and then finds
 * them applied).
 */
export const runMigrations = Migrator.make({})({
  loader: Migrator.fromRecord(migrations),
  table: "schema_migrations"
})

export const MigrationsLive: Layer.Layer<never, never, SqlClient.SqlClient> = Layer.effectDiscard(
  runMigrations.pipe(
    // Two replicas creating the migrations table at the same instant can collide; the loser retries.
    Effect.retry(Schedule.recurs(3)),
    Effect.tap((applied) =>
      applied.length > 0
        ? Effect.logInfo(`applied migrations: ${applied.map(([id, name]) => `${id}_${name}`).join(", ")}`)
        : Effect.void
    ),
    Effect.orDie
  )
)
