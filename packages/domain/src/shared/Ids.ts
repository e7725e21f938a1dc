import { Schema } from "effect"

/** Agent ids are chosen by the agent: 1–128 chars of `[A-Za-z0-9._:-]`, stable across restarts. */
export const AgentId = Schema.String.pipe(
  Schema.pattern(/^[A-Za-z0-9._:-]{1,128}$/, {
    message: () => "agent id must be 1-128 characters of [A-Za-z0-9._:-]"
  }),
  Schema.brand("AgentId"),
  Schema.annotations({
    identifier: "AgentId",
    description: "agent-chosen id, 1-128 chars of [A-Za-z0-9._:-]"
  })
)
export type AgentId = typeof AgentId.Type

const serverId = <B extends string>(prefix: string, brand: B) =>
  Schema.String.pipe(
    Schema.pattern(new RegExp(`^${prefix}-[1-9][0-9]{0,15}$`), {
      message: () => `expected an id like ${prefix}-1`
    }),
    Schema.brand(brand),
    Schema.annotations({ identifier: brand, description: `server id ${prefix}-N` })
  )

export const TaskId = serverId("task", "TaskId")
export type TaskId = typeof TaskId.Type
export const SessionId = serverId("session", "SessionId")
export type SessionId = typeof SessionId.Type
export const AssignmentId = serverId("assignment", "AssignmentId")
export type AssignmentId = typeof AssignmentId.Type
export const ReviewId = serverId("review", "ReviewId")
export type ReviewId = typeof ReviewId.Type
export const HoldId = serverId("hold", "HoldId")
export type HoldId = typeof HoldId.Type
export const EntryId = serverId("entry", "EntryId")
export type EntryId = typeof EntryId.Type

/** The numeric part of a server id (`task-12` → 12); lists are ordered by it, never by string. */
export const idNumber = (id: string): number => Number(id.slice(id.lastIndexOf("-") + 1))

export const MAX_AMOUNT = Number.MAX_SAFE_INTEGER

/** Money: integer minor units, 1 ≤ amount ≤ 2^53−1. */
export const Amount = Schema.Int.pipe(
  Schema.between(1, MAX_AMOUNT, { message: () => "amount must be an integer between 1 and 2^53-1" }),
  Schema.annotations({ identifier: "Amount", description: "integer minor units, 1..2^53-1" })
)

/** A balance or total: a non-negative integer. */
export const Money = Schema.Int.pipe(Schema.nonNegative(), Schema.annotations({ identifier: "Money" }))

/** ISO-8601 UTC timestamp on the wire. */
export const Timestamp = Schema.String.pipe(
  Schema.annotations({ identifier: "Timestamp", format: "date-time" })
)

export const IdempotencyKey = Schema.String.pipe(
  Schema.pattern(/^[\x21-\x7e]{1,255}$/, {
    message: () => "Idempotency-Key must be 1-255 printable ASCII characters without spaces"
  }),
  Schema.annotations({ identifier: "IdempotencyKey" })
)

/** Strict decoding: unknown fields are an error, so content metadata can never slip in. */
export const strict = { parseOptions: { onExcessProperty: "error" } } as const

/** Query booleans: `true`/`false`/`1`/`0`. */
export const BooleanFromQuery = Schema.transform(Schema.Literal("true", "false", "1", "0"), Schema.Boolean, {
  strict: true,
  decode: (s) => s === "true" || s === "1",
  encode: (b) => (b ? "true" : "false")
})

export const Limit = Schema.NumberFromString.pipe(
  Schema.int(),
  Schema.between(1, 1000, { message: () => "limit must be an integer between 1 and 1000" })
)

export const Page = <A, I, R>(item: Schema.Schema<A, I, R>) =>
  Schema.Struct({ items: Schema.Array(item), next: Schema.NullOr(Schema.String) })

export const Items = <A, I, R>(item: Schema.Schema<A, I, R>) => Schema.Struct({ items: Schema.Array(item) })
