import { Schema } from "effect"
import { IdempotencyKey } from "./Ids"

/** Headers of every mutation that creates objects or moves money. */
export const IdempotencyHeaders = Schema.Struct({ "idempotency-key": IdempotencyKey })
