import { Schema } from "effect"
import { Hold } from "../settlement/Settlement"
import { Assignment } from "./Task"

/** An assignment that left `assigned`, with the hold refunded in the same atomic step, if any. */
export const AssignmentChange = Schema.Struct({
  assignment: Assignment,
  refunded_hold: Schema.NullOr(Hold)
}).annotations({ identifier: "AssignmentChange" })
export type AssignmentChange = typeof AssignmentChange.Type
