import { createServer } from "node:http"
import { NodeHttpServer, NodeRuntime } from "@effect/platform-node"
import { ConfigError, Effect, Layer, Logger, LogLevel } from "effect"
import { ServerConfig } from "./platform/ServerConfig"
import { AppLive, StoreMemoryLive } from "./ServerLive"

const MainLive = Layer.unwrapEffect(
  Effect.gen(function* () {
    const config = yield* ServerConfig
    if (config.store !== "memory") {
      yield* Effect.logWarning(
        `store "${config.store}" is not implemented yet; using the memory store (state is lost on restart)`
      )
    } else {
      yield* Effect.logInfo("using the memory store (state is lost on restart)")
    }
    yield* Effect.logInfo(`listening on http://${config.host}:${config.port}`)
    return AppLive(StoreMemoryLive).pipe(
      Layer.provide(NodeHttpServer.layer(createServer, { host: config.host, port: config.port }))
    )
  })
).pipe(
  Layer.provide(ServerConfig.layer),
  Layer.provide(Logger.replace(Logger.defaultLogger, Logger.jsonLogger)),
  Layer.provide(Logger.minimumLogLevel(LogLevel.Info))
)

Layer.launch(MainLive).pipe(
  Effect.catchIf(ConfigError.isConfigError, (error) =>
    Effect.sync(() => {
      process.stderr.write(`platform-server: bad configuration: ${String(error)}\n`)
      process.exit(1)
    })
  ),
  NodeRuntime.runMain({ disablePrettyLogger: true })
)
