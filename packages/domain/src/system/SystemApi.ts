import { HttpApiEndpoint, HttpApiGroup, HttpApiSchema } from "@effect/platform"
import { Schema } from "effect"

export const Health = Schema.Struct({ ok: Schema.Boolean, version: Schema.String, store: Schema.String })

export class StoreUnavailableError extends Schema.TaggedError<StoreUnavailableError>()(
  "StoreUnavailableError",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 503 })
) {}

export class SystemApi extends HttpApiGroup.make("system")
  .add(HttpApiEndpoint.get("health", "/health").addSuccess(Health))
  .add(
    HttpApiEndpoint.get("ready", "/ready")
      .addSuccess(Schema.Struct({ ready: Schema.Boolean, store: Schema.String }))
      .addError(StoreUnavailableError)
  ) {}
