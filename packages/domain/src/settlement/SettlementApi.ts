import { HttpApiEndpoint, HttpApiGroup } from "@effect/platform"
import { Schema } from "effect"
import { Authentication } from "../identity/Authentication"
import { IdempotencyHeaders } from "../shared/Headers"
import { EntryId, HoldId, Limit, Page, strict } from "../shared/Ids"
import {
  AmountRequest,
  Balance,
  Hold,
  HoldIdRequest,
  HoldRequest,
  HoldRole,
  HoldStatus,
  LedgerEntry,
  ReleaseReviewRequest
} from "./Settlement"

export const ListHoldsQuery = Schema.Struct({
  role: Schema.optional(HoldRole),
  status: Schema.optional(HoldStatus),
  limit: Schema.optional(Limit),
  after: Schema.optional(HoldId)
}).annotations(strict)

export const ListLedgerQuery = Schema.Struct({
  limit: Schema.optional(Limit),
  after: Schema.optional(EntryId)
}).annotations(strict)

export class SettlementApi extends HttpApiGroup.make("settlement")
  .add(
    HttpApiEndpoint.post("deposit", "/settlement/deposit")
      .setHeaders(IdempotencyHeaders)
      .setPayload(AmountRequest)
      .addSuccess(Balance)
  )
  .add(
    HttpApiEndpoint.post("withdraw", "/settlement/withdraw")
      .setHeaders(IdempotencyHeaders)
      .setPayload(AmountRequest)
      .addSuccess(Balance)
  )
  .add(
    HttpApiEndpoint.post("hold", "/settlement/hold")
      .setHeaders(IdempotencyHeaders)
      .setPayload(HoldRequest)
      .addSuccess(Hold, { status: 201 })
  )
  .add(
    HttpApiEndpoint.post("refund", "/settlement/refund")
      .setHeaders(IdempotencyHeaders)
      .setPayload(HoldIdRequest)
      .addSuccess(Hold)
  )
  .add(
    HttpApiEndpoint.post("releaseExecute", "/settlement/release-execute-after-reviews")
      .setHeaders(IdempotencyHeaders)
      .setPayload(HoldIdRequest)
      .addSuccess(Hold)
  )
  .add(
    HttpApiEndpoint.post("releaseReview", "/settlement/release-review-after-submission")
      .setHeaders(IdempotencyHeaders)
      .setPayload(ReleaseReviewRequest)
      .addSuccess(Hold)
  )
  .add(HttpApiEndpoint.get("balance", "/settlement/balance").addSuccess(Balance))
  .add(HttpApiEndpoint.get("holds", "/settlement/holds").setUrlParams(ListHoldsQuery).addSuccess(Page(Hold)))
  .add(
    HttpApiEndpoint.get("ledger", "/settlement/ledger")
      .setUrlParams(ListLedgerQuery)
      .addSuccess(Page(LedgerEntry))
  )
  .middleware(Authentication) {}
