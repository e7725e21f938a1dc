import { createServer, type Server } from "node:http"
import { HttpMiddleware } from "@effect/platform"
import { NodeRuntime } from "@effect/platform-node"
import { ConfigError, Effect, Layer, Logger, LogLevel, Option } from "effect"
import * as LaneHttpServer from "./http/LaneHttpServer"
import { ServerConfig, type ServerConfigShape } from "./platform/ServerConfig"
import { relayDir, StorePostgresLive, StoreSqliteLive, sqliteFile } from "./platform/StoreLayers"
import { AppLive, StoreMemoryLive, type StoreServices } from "./ServerLive"

/** In-flight requests get this long after SIGTERM before their connections are cut. */
const SHUTDOWN_GRACE_MS = 10_000

const storeLayer = (config: ServerConfigShape): Layer.Layer<StoreServices> => {
  switch (config.store) {
    case "memory":
      return StoreMemoryLive
    case "sqlite":
      return StoreSqliteLive(sqliteFile(config.dataDir), relayDir(config.dataDir))
    case "postgres":
      // ServerConfig refuses the postgres store without a URL.
      return StorePostgresLive(Option.getOrThrow(config.databaseUrl))
  }
}

const describeStore = (config: ServerConfigShape): string => {
  switch (config.store) {
    case "memory":
      return "using the memory store (state is lost on restart)"
    case "sqlite":
      return `using the sqlite store at ${sqliteFile(config.dataDir)} (relay blobs in ${relayDir(config.dataDir)})`
    case "postgres":
      return "using the postgres store"
  }
}

/**
 * A Node server that, once SIGTERM or SIGINT arrives, stops accepting at once (the runtime then
 * interrupts the app and `server.close()` waits for in-flight requests), and cuts the connections
 * still open after the grace period.
 */
const makeNodeServer = (): Server => {
  const server = createServer()
  const cutAfterGrace = () => {
    setTimeout(() => server.closeAllConnections(), SHUTDOWN_GRACE_MS).unref()
  }
  process.once("SIGTERM", cutAfterGrace)
  process.once("SIGINT", cutAfterGrace)
  return server
}

/**
 * The store is built first and released last: on shutdown the HTTP server drains its in-flight
 * requests while the database pool is still open, then the pool closes.
 */
const MainLive = Layer.unwrapScoped(
  Effect.gen(function* () {
    const config = yield* ServerConfig
    yield* Effect.logInfo(describeStore(config))
    const store = yield* Layer.build(storeLayer(config))
    yield* Effect.logInfo(`listening on http://${config.host}:${config.port}`)
    return AppLive(Layer.succeedContext(store)).pipe(
      Layer.provide(LaneHttpServer.layer(makeNodeServer, { host: config.host, port: config.port }))
    )
  })
).pipe(Layer.provide(ServerConfig.layer))

/**
 * JSON log lines on stdout for the whole program. `Logger.json` (= `withConsoleLog(jsonLogger)`):
 * `Logger.jsonLogger` alone only formats, so replacing the default logger with it silently drops
 * every log line.
 */
const LoggingLive = Layer.merge(Logger.json, Logger.minimumLogLevel(LogLevel.Info))

Layer.launch(MainLive).pipe(
  Effect.catchIf(ConfigError.isConfigError, (error) =>
    Effect.sync(() => {
      process.stderr.write(`platform-server: bad configuration: ${String(error)}\n`)
      process.exit(1)
    })
  ),
  Effect.catchAllDefect((defect) =>
    Effect.sync(() => {
      const message = defect instanceof Error ? defect.message : String(defect)
      process.stderr.write(`platform-server: stopped: ${message}\n`)
      process.exit(1)
    })
  ),
  Effect.provide(LoggingLive),
  Effect.withTracerEnabled(false),
  HttpMiddleware.withTracerDisabledWhenEffect(() => true),
  NodeRuntime.runMain({ disablePrettyLogger: true })
)
