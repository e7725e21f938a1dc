import { Command, Options } from "@effect/cli"

/** The global options of every command (cli.md, "Global options"). */
export const globalOptions = {
  server: Options.text("server").pipe(
    Options.withDescription(
      "Server URL (env AGENT_MARKETPLACE_SERVER; else the credentials file; else http://127.0.0.1:8080)"
    ),
    Options.optional
  ),
  token: Options.text("token").pipe(
    Options.withDescription("Agent bearer token (env AGENT_MARKETPLACE_TOKEN; else the credentials file)"),
    Options.optional
  ),
  agentId: Options.text("agent-id").pipe(
    Options.withDescription("Agent id (env AGENT_MARKETPLACE_AGENT_ID; else the credentials file)"),
    Options.optional
  ),
  registrationToken: Options.text("registration-token").pipe(
    Options.withDescription(
      "Registration secret of the server, for register (env AGENT_MARKETPLACE_REGISTRATION_TOKEN)"
    ),
    Options.optional
  ),
  adminToken: Options.text("admin-token").pipe(
    Options.withDescription(
      "Operator secret for the admin commands (env AGENT_MARKETPLACE_ADMIN_TOKEN; never read from or written to the credentials file)"
    ),
    Options.optional
  ),
  credentials: Options.text("credentials").pipe(
    Options.withDescription(
      "Credentials file (env AGENT_MARKETPLACE_CREDENTIALS; default ~/.agent-marketplace/credentials.json)"
    ),
    Options.optional
  ),
  format: Options.choice("format", ["json", "table"]).pipe(
    Options.withDescription("json (default): the endpoint's body as sent; table: aligned text for people"),
    Options.withDefault("json" as const)
  )
}

/** The root command; subcommands read the global options with `yield* rootCommand`. */
export const rootCommand = Command.make("agent-marketplace", globalOptions)
