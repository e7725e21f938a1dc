import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { SqliteClientLive } from "../../src/platform/StoreLayers"

/** One pragma's value, as SQLite answers it (a one-column row). */
const pragma = (name: "journal_mode" | "synchronous" | "temp_store") =>
  Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe(`PRAGMA ${name}`)).pipe(
    Effect.map((rows) => Object.values(rows[0] ?? {})[0])
  )

describe("SQLite connection settings (platform/StoreLayers.ts)", () => {
  it.effect("a file database runs in WAL mode with synchronous = NORMAL and temporary data in memory", () =>
    Effect.acquireUseRelease(
      Effect.sync(() => mkdtempSync(join(tmpdir(), "am-sqlite-settings-"))),
      (dir) =>
        Effect.gen(function* () {
          expect(yield* pragma("journal_mode")).toBe("wal")
          // 1 = NORMAL (the default is 2 = FULL)
          expect(yield* pragma("synchronous")).toBe(1)
          // 2 = MEMORY (the default is 0 = DEFAULT, a temporary file)
          expect(yield* pragma("temp_store")).toBe(2)
        }).pipe(Effect.provide(SqliteClientLive(join(dir, "db", "marketplace.sqlite")))),
      (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
    )
  )
})
