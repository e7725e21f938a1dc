import { homedir } from "node:os"
import { Config, Effect, Option } from "effect"
import { Credentials, type CredentialsFile } from "./Credentials"
import { CredentialsMissingError } from "./Errors"
import type { OutputFormat } from "./Format"
import type { KeyMaterial } from "./Signing"

export const DEFAULT_SERVER = "http://127.0.0.1:8080"

/** The global options as parsed from the command line (all optional). */
export interface GlobalFlags {
  readonly server: Option.Option<string>
  readonly token: Option.Option<string>
  readonly agentId: Option.Option<string>
  readonly registrationToken: Option.Option<string>
  readonly adminToken: Option.Option<string>
  readonly credentials: Option.Option<string>
  readonly format: OutputFormat
}

/** The `AGENT_MARKETPLACE_*` environment (empty values count as unset). */
export interface EnvSettings {
  readonly server: Option.Option<string>
  readonly token: Option.Option<string>
  readonly agentId: Option.Option<string>
  readonly registrationToken: Option.Option<string>
  readonly adminToken: Option.Option<string>
  readonly credentials: Option.Option<string>
  readonly home: Option.Option<string>
}

export type Source = "flag" | "env" | "credentials" | "default"

/** Everything a command needs to talk to the server, with where each value came from. */
export interface Settings {
  readonly server: string
  readonly serverSource: Source
  readonly token: Option.Option<string>
  readonly tokenSource: Option.Option<Source>
  readonly agentId: Option.Option<string>
  readonly agentIdSource: Option.Option<Source>
  /**
   * A key-bound agent's key from the credentials file (same server, same agent id, no token given
   * by flag or environment): its requests are signed instead of carrying a token.
   */
  readonly signingKey: Option.Option<{ readonly agentId: string; readonly key: KeyMaterial }>
  readonly registrationToken: Option.Option<string>
  /** The operator secret of the admin commands: flag > env, never the credentials file. */
  readonly adminToken: Option.Option<string>
  readonly credentialsPath: string
  readonly credentialsPathIsDefault: boolean
  /** The credentials file's content, when it exists (and was needed). */
  readonly credentials: Option.Option<CredentialsFile>
  /** True when the credentials file is for another server, so its token and id were not used. */
  readonly credentialsIgnored: boolean
  readonly format: OutputFormat
}

const nonEmpty = (name: string) =>
  Config.option(Config.string(name)).pipe(Effect.map(Option.filter((value) => value.trim().length > 0)))

/** Reads the environment through Effect's `ConfigProvider` (tests pass `ConfigProvider.fromMap`). */
export const readEnv: Effect.Effect<EnvSettings> = Effect.all({
  server: nonEmpty("AGENT_MARKETPLACE_SERVER"),
  token: nonEmpty("AGENT_MARKETPLACE_TOKEN"),
  agentId: nonEmpty("AGENT_MARKETPLACE_AGENT_ID"),
  registrationToken: nonEmpty("AGENT_MARKETPLACE_REGISTRATION_TOKEN"),
  adminToken: nonEmpty("AGENT_MARKETPLACE_ADMIN_TOKEN"),
  credentials: nonEmpty("AGENT_MARKETPLACE_CREDENTIALS"),
  home: nonEmpty("HOME")
}).pipe(Effect.orDie)

/** `~/.agent-marketplace/credentials.json` */
export const defaultCredentialsPath = (home: Option.Option<string>): string =>
  `${Option.getOrElse(home, () => homedir()).replace(/\/+$/, "")}/.agent-marketplace/credentials.json`

/** Servers are compared without trailing slashes. */
export const normalizeServer = (url: string): string => url.trim().replace(/\/+$/, "")

const pick = (
  flag: Option.Option<string>,
  env: Option.Option<string>,
  file: Option.Option<string>
): [Option.Option<string>, Option.Option<Source>] =>
  Option.isSome(flag)
    ? [flag, Option.some("flag")]
    : Option.isSome(env)
      ? [env, Option.some("env")]
      : Option.isSome(file)
        ? [file, Option.some("credentials")]
        : [Option.none(), Option.none()]

/**
 * Precedence, for each of server, token and agent id: flag > environment > credentials file, and for
 * the server finally `http://127.0.0.1:8080`. The credentials file's token and agent id are only used
 * when the file belongs to the server being called, so a token is never sent to another server.
 */
export const resolveSettings = (
  flags: GlobalFlags,
  env: EnvSettings,
  file: Option.Option<CredentialsFile>,
  credentialsPath: string,
  credentialsPathIsDefault: boolean
): Settings => {
  const fileServer = Option.map(file, (f) => f.server)
  const [server, serverSource] = pick(flags.server, env.server, fileServer)
  const resolvedServer = normalizeServer(Option.getOrElse(server, () => DEFAULT_SERVER))
  const fileMatches = Option.exists(file, (f) => normalizeServer(f.server) === resolvedServer)
  const usable = fileMatches ? file : Option.none<CredentialsFile>()
  const [token, tokenSource] = pick(
    flags.token,
    env.token,
    Option.flatMap(usable, (f) => Option.fromNullable(f.token))
  )
  const [agentId, agentIdSource] = pick(
    flags.agentId,
    env.agentId,
    Option.map(usable, (f) => f.agent_id)
  )
  // The file's key signs only for the file's own agent, and only when no token was given explicitly.
  const signingKey =
    Option.isSome(tokenSource) && tokenSource.value !== "credentials"
      ? Option.none()
      : Option.flatMap(usable, (f) =>
          f.public_key !== undefined && f.private_key !== undefined && Option.contains(agentId, f.agent_id)
            ? Option.some({
                agentId: f.agent_id,
                key: { public_key: f.public_key, private_key: f.private_key }
              })
            : Option.none()
        )
  return {
    server: resolvedServer,
    serverSource: Option.getOrElse(serverSource, () => "default" as const),
    token,
    tokenSource,
    signingKey,
    agentId,
    agentIdSource,
    registrationToken: Option.orElse(flags.registrationToken, () => env.registrationToken),
    adminToken: Option.orElse(flags.adminToken, () => env.adminToken),
    credentialsPath,
    credentialsPathIsDefault,
    credentials: file,
    credentialsIgnored: Option.isSome(file) && !fileMatches,
    format: flags.format
  }
}

/** Resolves the settings of one invocation; reads the credentials file only when a value is missing. */
export const loadSettings = (flags: GlobalFlags) =>
  Effect.gen(function* () {
    const env = yield* readEnv
    const explicitPath = Option.orElse(flags.credentials, () => env.credentials)
    const credentialsPath = Option.getOrElse(explicitPath, () => defaultCredentialsPath(env.home))
    const complete =
      (Option.isSome(flags.server) || Option.isSome(env.server)) &&
      (Option.isSome(flags.token) || Option.isSome(env.token)) &&
      (Option.isSome(flags.agentId) || Option.isSome(env.agentId))
    const credentials = yield* Credentials
    const file = complete ? Option.none<CredentialsFile>() : yield* credentials.read(credentialsPath)
    return resolveSettings(flags, env, file, credentialsPath, Option.isNone(explicitPath))
  })

/** How an authenticated request proves its agent: a bearer token or a signature by its key. */
export type Credential =
  | { readonly _tag: "bearer"; readonly token: string }
  | { readonly _tag: "key"; readonly agentId: string; readonly key: KeyMaterial }

/**
 * The credential of an authenticated command: a token given by flag or environment; else the
 * credentials file's key (key-bound agents sign every request); else its token; else an error that
 * says where it was looked for.
 */
export const requireCredential = (settings: Settings): Effect.Effect<Credential, CredentialsMissingError> =>
  Option.isSome(settings.signingKey)
    ? Effect.succeed({ _tag: "key", ...settings.signingKey.value })
    : Effect.map(requireToken(settings), (token) => ({ _tag: "bearer", token }))

/** The token, or an error that says where it was looked for. */
export const requireToken = (settings: Settings) =>
  Option.match(settings.token, {
    onSome: Effect.succeed,
    onNone: () =>
      Effect.fail(
        new CredentialsMissingError({
          path: settings.credentialsPath,
          message: settings.credentialsIgnored
            ? `no token for ${settings.server}: the credentials file ${settings.credentialsPath} belongs to another server; pass --token, set AGENT_MARKETPLACE_TOKEN, or register`
            : `no token: pass --token, set AGENT_MARKETPLACE_TOKEN, or run register (no credentials in ${settings.credentialsPath})`
        })
      )
  })
