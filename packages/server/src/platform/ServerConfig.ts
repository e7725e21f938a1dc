import { Config, ConfigError, Context, Effect, Either, Layer, Option, Redacted } from "effect"

export type StoreKind = "memory" | "sqlite" | "postgres"

/** Who may register a new agent id (`AGENT_MARKETPLACE_REGISTRATION`, see design/admin.md). */
export type RegistrationMode = "open" | "token" | "invite" | "approval"

/** The relay's limits (relay-and-handoff.md), one environment variable each. */
export interface RelayLimits {
  /**
   * Largest slot, in bytes (`AGENT_MARKETPLACE_RELAY_MAX_BLOB_BYTES`, 50 MiB + 64 KiB): the age
   * ciphertext of a 50 MiB file (age adds a header and 16 bytes per 64 KiB chunk, ≈ 13 KB for 50 MiB).
   */
  readonly maxBlobBytes: number
  /** TTL when the request names none (`AGENT_MARKETPLACE_RELAY_DEFAULT_TTL_SECS`, 1 h). */
  readonly defaultTtlSecs: number
  /** Largest TTL (`AGENT_MARKETPLACE_RELAY_MAX_TTL_SECS`, 24 h). */
  readonly maxTtlSecs: number
  /** Downloads when the request names none (`AGENT_MARKETPLACE_RELAY_DEFAULT_DOWNLOADS`, 3). */
  readonly defaultDownloads: number
  /** Most downloads per slot (`AGENT_MARKETPLACE_RELAY_MAX_DOWNLOADS`, 10). */
  readonly maxDownloads: number
  /** Bytes of all slots not yet expired (`AGENT_MARKETPLACE_RELAY_TOTAL_BYTES`, 1 GiB). */
  readonly totalBytes: number
  /** Bytes of one client address's slots not yet expired (`AGENT_MARKETPLACE_RELAY_ADDRESS_BYTES`, 256 MiB). */
  readonly addressBytes: number
  /** Slots one client address may create per minute (`AGENT_MARKETPLACE_RELAY_CREATES_PER_MINUTE`, 60). */
  readonly createsPerMinute: number
  /** Pause between relay sweeps (`AGENT_MARKETPLACE_RELAY_SWEEP_INTERVAL_MS`, 30 s). */
  readonly sweepIntervalMs: number
}

export const defaultRelayLimits: RelayLimits = {
  maxBlobBytes: 50 * 1024 * 1024 + 64 * 1024,
  defaultTtlSecs: 3600,
  maxTtlSecs: 24 * 3600,
  defaultDownloads: 3,
  maxDownloads: 10,
  totalBytes: 1024 * 1024 * 1024,
  addressBytes: 256 * 1024 * 1024,
  createsPerMinute: 60,
  sweepIntervalMs: 30_000
}

export interface ServerConfigShape {
  readonly host: string
  readonly port: number
  readonly store: StoreKind
  readonly databaseUrl: Option.Option<Redacted.Redacted>
  readonly dataDir: string
  readonly registrationToken: Option.Option<Redacted.Redacted>
  readonly adminToken: Option.Option<Redacted.Redacted>
  readonly registration: RegistrationMode
  readonly deposits: "open" | "admin"
  readonly idleTimeoutMs: number
  readonly busyTimeoutMs: number
  readonly sweepIntervalMs: number
  /**
   * Heartbeat write coalescing (`AGENT_MARKETPLACE_HEARTBEAT_COALESCE_MS`, 0–1000; default 1000 on
   * Postgres, 0 elsewhere): how long an alive agent's last-seen time may wait in this replica's
   * buffer before one batched write. The sweep adds it to every timeout. 0 writes every beat.
   */
  readonly heartbeatCoalesceMs: number
  readonly currency: string
  readonly trustProxy: boolean
  readonly idempotencyRetentionMs: number
  readonly maxJsonBodyBytes: number
  readonly accessLog: boolean
  /** `AGENT_MARKETPLACE_METRICS_TOKEN`: when set, `/metrics` wants it as a bearer token (design/metrics.md). */
  readonly metricsToken: Option.Option<Redacted.Redacted>
  readonly relay: RelayLimits
  readonly version: string
}

/** A positive integer variable. Validated before the default applies, so an error names the variable. */
const positiveInt = (name: string, fallback: number) =>
  Config.integer(name).pipe(
    Config.validate({ message: "must be a positive integer", validation: (n) => n > 0 }),
    Config.withDefault(fallback)
  )

const relayLimits = Effect.gen(function* () {
  const d = defaultRelayLimits
  const limits: RelayLimits = {
    maxBlobBytes: yield* positiveInt("AGENT_MARKETPLACE_RELAY_MAX_BLOB_BYTES", d.maxBlobBytes),
    defaultTtlSecs: yield* positiveInt("AGENT_MARKETPLACE_RELAY_DEFAULT_TTL_SECS", d.defaultTtlSecs),
    maxTtlSecs: yield* positiveInt("AGENT_MARKETPLACE_RELAY_MAX_TTL_SECS", d.maxTtlSecs),
    defaultDownloads: yield* positiveInt("AGENT_MARKETPLACE_RELAY_DEFAULT_DOWNLOADS", d.defaultDownloads),
    maxDownloads: yield* positiveInt("AGENT_MARKETPLACE_RELAY_MAX_DOWNLOADS", d.maxDownloads),
    totalBytes: yield* positiveInt("AGENT_MARKETPLACE_RELAY_TOTAL_BYTES", d.totalBytes),
    addressBytes: yield* positiveInt("AGENT_MARKETPLACE_RELAY_ADDRESS_BYTES", d.addressBytes),
    createsPerMinute: yield* positiveInt("AGENT_MARKETPLACE_RELAY_CREATES_PER_MINUTE", d.createsPerMinute),
    sweepIntervalMs: yield* positiveInt("AGENT_MARKETPLACE_RELAY_SWEEP_INTERVAL_MS", d.sweepIntervalMs)
  }
  if (limits.defaultTtlSecs > limits.maxTtlSecs) {
    return yield* Effect.fail(
      ConfigError.InvalidData(
        ["AGENT_MARKETPLACE_RELAY_DEFAULT_TTL_SECS"],
        `must not exceed AGENT_MARKETPLACE_RELAY_MAX_TTL_SECS (${limits.maxTtlSecs})`
      )
    )
  }
  if (limits.defaultDownloads > limits.maxDownloads) {
    return yield* Effect.fail(
      ConfigError.InvalidData(
        ["AGENT_MARKETPLACE_RELAY_DEFAULT_DOWNLOADS"],
        `must not exceed AGENT_MARKETPLACE_RELAY_MAX_DOWNLOADS (${limits.maxDownloads})`
      )
    )
  }
  return limits
})

/** `host:port`, `[v6]:port`; the port 0 picks a free one. */
export const parseAddress = (value: string): Either.Either<{ host: string; port: number }, string> => {
  const match = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(value.trim())
  if (!match) return Either.left(`"${value}" is not host:port`)
  const port = Number(match[3])
  if (port > 65535) return Either.left(`port ${port} is out of range`)
  return Either.right({ host: (match[1] ?? match[2])!, port })
}

const address = Effect.gen(function* () {
  const addr = yield* Config.option(Config.string("AGENT_MARKETPLACE_ADDR"))
  if (Option.isSome(addr)) {
    const parsed = parseAddress(addr.value)
    if (Either.isLeft(parsed)) {
      return yield* Effect.fail(ConfigError.InvalidData(["AGENT_MARKETPLACE_ADDR"], parsed.left))
    }
    return parsed.right
  }
  const port = yield* Config.option(
    Config.integer("PORT").pipe(
      Config.validate({ message: "must be a port number 0-65535", validation: (n) => n >= 0 && n <= 65535 })
    )
  )
  return Option.isSome(port) ? { host: "0.0.0.0", port: port.value } : { host: "127.0.0.1", port: 8080 }
})

/**
 * `AGENT_MARKETPLACE_REGISTRATION`: `token` when a registration token is set, else `open`. A mode whose
 * secret is missing (token without a registration token; invite or approval without an admin token,
 * so nobody could ever issue an invite or approve) is a configuration error.
 */
const registrationMode = (
  registrationToken: Option.Option<Redacted.Redacted>,
  adminToken: Option.Option<Redacted.Redacted>
) =>
  Effect.gen(function* () {
    const name = "AGENT_MARKETPLACE_REGISTRATION"
    const mode: RegistrationMode = yield* Config.literal(
      "open",
      "token",
      "invite",
      "approval"
    )(name).pipe(Config.withDefault(Option.isSome(registrationToken) ? "token" : "open"))
    if (mode === "token" && Option.isNone(registrationToken)) {
      return yield* Effect.fail(
        ConfigError.InvalidData([name], "token needs AGENT_MARKETPLACE_REGISTRATION_TOKEN to be set")
      )
    }
    if ((mode === "invite" || mode === "approval") && Option.isNone(adminToken)) {
      return yield* Effect.fail(
        ConfigError.InvalidData([name], `${mode} needs AGENT_MARKETPLACE_ADMIN_TOKEN to be set`)
      )
    }
    return mode
  })

export const serverConfig = Effect.gen(function* () {
  const { host, port } = yield* address
  const databaseUrl = yield* Config.option(
    Config.redacted("AGENT_MARKETPLACE_DATABASE_URL").pipe(
      Config.orElse(() => Config.redacted("DATABASE_URL"))
    )
  )
  const store = yield* Config.literal(
    "memory",
    "sqlite",
    "postgres"
  )("AGENT_MARKETPLACE_STORE").pipe(Config.withDefault(Option.isSome(databaseUrl) ? "postgres" : "sqlite"))
  if (store === "postgres" && Option.isNone(databaseUrl)) {
    return yield* Effect.fail(
      ConfigError.MissingData(["AGENT_MARKETPLACE_DATABASE_URL"], "the postgres store needs a database URL")
    )
  }
  const idleTimeoutMs = yield* positiveInt("AGENT_MARKETPLACE_HEARTBEAT_IDLE_TIMEOUT_MS", 45_000)
  const busyTimeoutMs = yield* positiveInt("AGENT_MARKETPLACE_HEARTBEAT_BUSY_TIMEOUT_MS", 15_000)
  const sweepIntervalMs = yield* positiveInt("AGENT_MARKETPLACE_SWEEP_INTERVAL_MS", 5_000)
  const heartbeatCoalesceMs = yield* Config.integer("AGENT_MARKETPLACE_HEARTBEAT_COALESCE_MS").pipe(
    Config.withDefault(store === "postgres" ? 1000 : 0),
    Config.validate({
      message: "must be an integer from 0 to 1000 (milliseconds)",
      validation: (n) => n >= 0 && n <= 1000
    })
  )
  const registrationToken = yield* Config.option(
    Config.redacted("AGENT_MARKETPLACE_REGISTRATION_TOKEN")
  ).pipe(Effect.map(Option.filter((t) => Redacted.value(t).length > 0)))
  const adminToken = yield* Config.option(Config.redacted("AGENT_MARKETPLACE_ADMIN_TOKEN")).pipe(
    Effect.map(Option.filter((t) => Redacted.value(t).length > 0))
  )
  return {
    host,
    port,
    store,
    databaseUrl,
    dataDir: yield* Config.string("AGENT_MARKETPLACE_DATA_DIR").pipe(
      Config.withDefault("./.agent-marketplace")
    ),
    registrationToken,
    adminToken,
    registration: yield* registrationMode(registrationToken, adminToken),
    deposits: yield* Config.literal(
      "open",
      "admin"
    )("AGENT_MARKETPLACE_DEPOSITS").pipe(Config.withDefault("open")),
    idleTimeoutMs,
    busyTimeoutMs,
    sweepIntervalMs,
    heartbeatCoalesceMs,
    currency: yield* Config.string("AGENT_MARKETPLACE_CURRENCY").pipe(
      Config.withDefault("credits"),
      Config.validate({
        message: "must be 1-32 characters",
        validation: (s) => s.length >= 1 && s.length <= 32
      })
    ),
    trustProxy: yield* Config.boolean("AGENT_MARKETPLACE_TRUST_PROXY").pipe(Config.withDefault(false)),
    idempotencyRetentionMs: yield* positiveInt(
      "AGENT_MARKETPLACE_IDEMPOTENCY_RETENTION_MS",
      24 * 3600 * 1000
    ),
    maxJsonBodyBytes: yield* positiveInt("AGENT_MARKETPLACE_MAX_JSON_BODY_BYTES", 64 * 1024),
    accessLog: yield* Config.boolean("AGENT_MARKETPLACE_ACCESS_LOG").pipe(Config.withDefault(false)),
    metricsToken: yield* Config.option(Config.redacted("AGENT_MARKETPLACE_METRICS_TOKEN")).pipe(
      Effect.map(Option.filter((t) => Redacted.value(t).length > 0))
    ),
    relay: yield* relayLimits,
    version: "0.1.0"
  } satisfies ServerConfigShape
})

export class ServerConfig extends Context.Tag("ServerConfig")<ServerConfig, ServerConfigShape>() {
  /** Read from the environment (Effect `Config`); a bad value fails with a ConfigError naming the variable. */
  static readonly layer = Layer.effect(ServerConfig, serverConfig)

  /** Defaults for tests, with overrides (the registration mode defaults as in `layer`). */
  static readonly layerTest = (overrides: Partial<ServerConfigShape> = {}) =>
    Layer.succeed(ServerConfig, {
      registration: Option.isSome(overrides.registrationToken ?? Option.none()) ? "token" : "open",
      host: "127.0.0.1",
      port: 0,
      store: "memory",
      databaseUrl: Option.none(),
      dataDir: "./.agent-marketplace",
      registrationToken: Option.none(),
      adminToken: Option.none(),
      deposits: "open",
      idleTimeoutMs: 45_000,
      busyTimeoutMs: 15_000,
      sweepIntervalMs: 5_000,
      heartbeatCoalesceMs: 0,
      currency: "credits",
      trustProxy: false,
      idempotencyRetentionMs: 24 * 3600 * 1000,
      maxJsonBodyBytes: 64 * 1024,
      accessLog: false,
      metricsToken: Option.none(),
      relay: defaultRelayLimits,
      version: "0.1.0",
      ...overrides
    })
}
