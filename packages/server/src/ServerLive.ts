import { MarketplaceApi } from "@agent-marketplace/domain/Api"
import { HttpApiBuilder, HttpApiSwagger, type HttpApp } from "@effect/platform"
import { Effect, Layer } from "effect"
import { AdminLive } from "./admin/Admin"
import { AdminAuthenticationLive } from "./admin/AdminAuthenticationLive"
import { AdminHttp } from "./admin/AdminHttp"
import { AdminRepoMemory } from "./admin/AdminRepoMemory"
import { AdmissionLive } from "./admin/Admission"
import { InviteRepoMemory } from "./admin/InviteRepoMemory"
import { HeartbeatLive, SweeperLive } from "./heartbeat/Heartbeat"
import { LivenessRepoMemory } from "./heartbeat/LivenessRepoMemory"
import { accessLog } from "./http/AccessLog"
import { FastLaneLive, LaneHandlers } from "./http/FastLane"
import { requestGuard } from "./http/RequestGuard"
import { Idempotency } from "./idempotency/Idempotency"
import { IdempotencyRepoMemory } from "./idempotency/IdempotencyRepoMemory"
import { AuthenticationLive } from "./identity/AuthenticationLive"
import { IdentityLive } from "./identity/Identity"
import { NonceRepoMemory } from "./identity/NonceRepoMemory"
import { SignaturesLive } from "./identity/Signatures"
import { TokenRepoMemory } from "./identity/TokenRepoMemory"
import { Metrics } from "./metrics/Metrics"
import { MetricsRouteLive, requestMetrics } from "./metrics/MetricsHttp"
import { MetricsRepoMemory } from "./metrics/MetricsRepoMemory"
import { MemoryDb } from "./platform/MemoryDb"
import { SecureRandom } from "./platform/SecureRandom"
import { ServerConfig } from "./platform/ServerConfig"
import { Store } from "./platform/Store"
import { AgentRepoMemory } from "./registry/AgentRepoMemory"
import { AgentsHttp } from "./registry/AgentsHttp"
import { RegistryLive } from "./registry/Registry"
import { BlobStoreMemory } from "./relay/BlobStoreMemory"
import { RelayLive, RelaySweeperLive } from "./relay/Relay"
import { RelayHttp, RelayRateLimitLive } from "./relay/RelayHttp"
import { RelayRepoMemory } from "./relay/RelayRepoMemory"
import { ReviewRepoMemory } from "./reviews/ReviewRepoMemory"
import { ReviewsLive } from "./reviews/Reviews"
import { ReviewsHttp } from "./reviews/ReviewsHttp"
import { LedgerRepoMemory } from "./settlement/LedgerRepoMemory"
import { SettlementLive } from "./settlement/Settlement"
import { SettlementHttp } from "./settlement/SettlementHttp"
import { SystemHttp } from "./system/SystemHttp"
import { TaskRepoMemory } from "./tasks/TaskRepoMemory"
import { TasksLive } from "./tasks/Tasks"
import { AssignmentsHttp, SessionsHttp, TasksHttp } from "./tasks/TasksHttp"

/** Every repository on the memory store (fresh tables per build), relay blobs in RAM. */
export const StoreMemoryLive = Layer.mergeAll(
  Store.layerMemory,
  AgentRepoMemory,
  TokenRepoMemory,
  NonceRepoMemory,
  // Its `touch` takes the store's transaction (the same `Store.layerMemory`, built once per build).
  LivenessRepoMemory.pipe(Layer.provide(Store.layerMemory)),
  TaskRepoMemory,
  ReviewRepoMemory,
  LedgerRepoMemory,
  IdempotencyRepoMemory,
  RelayRepoMemory,
  BlobStoreMemory,
  InviteRepoMemory,
  AdminRepoMemory,
  MetricsRepoMemory
).pipe(Layer.provide(MemoryDb.layer))

const IdempotencyLive = Layer.unwrapEffect(
  Effect.map(ServerConfig, (config) => Idempotency.layer(config.idempotencyRetentionMs))
)

/** The domain services over whatever store layer is provided (the relay depends on none of the others). */
export const ServicesLive = Layer.mergeAll(
  RegistryLive,
  HeartbeatLive,
  ReviewsLive,
  RelayLive,
  AdminLive
).pipe(
  Layer.provideMerge(AdmissionLive),
  Layer.provideMerge(TasksLive),
  Layer.provideMerge(SettlementLive),
  Layer.provideMerge(IdentityLive),
  Layer.provideMerge(SignaturesLive),
  Layer.provideMerge(IdempotencyLive)
)

/** The HttpApi implementation: every group's handlers plus authentication. */
export const ApiLive = HttpApiBuilder.api(MarketplaceApi).pipe(
  Layer.provide([
    AgentsHttp,
    TasksHttp,
    SessionsHttp,
    AssignmentsHttp,
    ReviewsHttp,
    SettlementHttp,
    SystemHttp,
    RelayHttp,
    AdminHttp
  ]),
  Layer.provide([AuthenticationLive, RelayRateLimitLive]),
  Layer.provide(AdminAuthenticationLive)
)

/** Serving: the JSON API, `/openapi.json`, `/docs`, `/metrics`, and the request guard at the edge. */
export const HttpLive = Layer.unwrapEffect(
  Effect.map(ServerConfig, (config) =>
    HttpApiBuilder.serve().pipe(
      // The access log and the request metrics wrap the guard, so they see the final status of every
      // request, rejections included.
      Layer.provide(
        HttpApiBuilder.middleware(
          Effect.map(
            Effect.zip(
              accessLog({ enabled: config.accessLog, trustProxy: config.trustProxy }),
              requestMetrics
            ),
            ([log, metered]) =>
              (app: HttpApp.Default) =>
                log(
                  metered(
                    requestGuard({
                      maxJsonBodyBytes: config.maxJsonBodyBytes,
                      maxRelayBlobBytes: config.relay.maxBlobBytes
                    })(app)
                  )
                )
          )
        )
      ),
      // The fast lane serves the agent endpoints in front of this app (http/FastLane.ts); it is also
      // an output, so tests can count what it served.
      Layer.provideMerge(FastLaneLive),
      Layer.provide(HttpApiSwagger.layer({ path: "/docs" })),
      Layer.provide(MetricsRouteLive),
      Layer.provide(HttpApiBuilder.middlewareOpenApi({ path: "/openapi.json" }))
    )
  )
)

/**
 * The whole application over a store layer, without the HTTP server itself (the entry module adds
 * `LaneHttpServer.layer`; tests add `LaneHttpServer.layerTest`, or `NodeHttpServer.layerTest` for
 * the app alone).
 */
export const AppLive = <E, R>(store: Layer.Layer<StoreServices, E, R>) =>
  HttpLive.pipe(
    Layer.provide(ApiLive),
    Layer.provideMerge(LaneHandlers.layer),
    Layer.provideMerge(SweeperLive),
    Layer.provideMerge(RelaySweeperLive),
    Layer.provideMerge(ServicesLive),
    Layer.provideMerge(store),
    Layer.provideMerge(Metrics.layer),
    Layer.provideMerge(SecureRandom.layer)
  )

export type StoreServices = Layer.Layer.Success<typeof StoreMemoryLive>
