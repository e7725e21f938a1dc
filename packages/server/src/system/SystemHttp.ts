import { MarketplaceApi } from "@agent-marketplace/domain/Api"
import { StoreUnavailableError } from "@agent-marketplace/domain/system/SystemApi"
import { HttpApiBuilder } from "@effect/platform"
import { Effect } from "effect"
import { ServerConfig } from "../platform/ServerConfig"
import { Store } from "../platform/Store"

export const SystemHttp = HttpApiBuilder.group(MarketplaceApi, "system", (handlers) =>
  Effect.gen(function* () {
    const store = yield* Store
    const config = yield* ServerConfig
    return handlers
      .handle("health", () => Effect.succeed({ ok: true, version: config.version, store: store.kind }))
      .handle("ready", () =>
        Effect.flatMap(store.ping, (ok) =>
          ok
            ? Effect.succeed({ ready: true, store: store.kind })
            : Effect.fail(new StoreUnavailableError({ message: `the ${store.kind} store is not reachable` }))
        )
      )
  })
)
