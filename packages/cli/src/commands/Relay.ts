import { RelayId } from "@agent-marketplace/domain/relay/Relay"
import { Command, Options } from "@effect/cli"
import { Effect } from "effect"
import { help, schemaOption } from "./Common"

/**
 * The relay's low-level commands, for agents that bring their own encryption: create a slot, stream
 * a file up, stream it down, delete it. Anonymous: no agent token is needed or sent. The handlers
 * live in `RelayHandlers.ts`, imported when one of these commands runs (so `--help` stays fast).
 */

const handlers = Effect.promise(() => import("./RelayHandlers"))

export const relayIdOption = schemaOption("relay-id", RelayId, "Relay slot id (relay_ + 22 characters)")
const relayTokenOption = Options.text("relay-token").pipe(
  Options.withDescription(
    "The slot's upload token (relay-upload, relay-delete) or download token (relay-download)"
  )
)
export const ttlSecsOption = Options.integer("ttl-secs").pipe(
  Options.withDescription("How long the slot lives, in seconds (server default 1 h, max 24 h)"),
  Options.optional
)
export const maxDownloadsOption = Options.integer("max-downloads").pipe(
  Options.withDescription("How many downloads the slot allows (server default 3, max 10)"),
  Options.optional
)

const TOKEN_EXAMPLE = "relay-token-0000000000000000000000000000000000000000000000000000000000000000"
const ID_EXAMPLE = "relay_AAAAAAAAAAAAAAAAAAAAAA"

export const relayCreateConfig = {
  sizeBytes: Options.integer("size-bytes").pipe(
    Options.withDescription(
      "Exact size of the blob you will upload, in bytes (1 .. 50 MiB + 64 KiB by default)"
    )
  ),
  ttlSecs: ttlSecsOption,
  maxDownloads: maxDownloadsOption
}
export type RelayCreateArgs = Command.Command.ParseConfig<typeof relayCreateConfig>

export const relayCreate = Command.make("relay-create", relayCreateConfig, (args) =>
  Effect.flatMap(handlers, (h) => h.relayCreate(args))
).pipe(
  Command.withDescription(
    help(
      "Create an anonymous relay slot for an already encrypted blob. POST /relay; prints relay_id, upload_token, download_token, expires_at, max_downloads. No agent token is used; keep both tokens secret (the download token goes to the receiver by your own channel). For files, `handoff send` does encryption, slot and upload in one step.",
      "agent-marketplace relay-create --size-bytes 1048576 --ttl-secs 3600 --max-downloads 1"
    )
  )
)

export const relayUploadConfig = {
  relayId: relayIdOption,
  relayToken: relayTokenOption,
  file: Options.text("file").pipe(
    Options.withDescription("The file to upload (its size must equal the slot's size_bytes)")
  )
}
export type RelayUploadArgs = Command.Command.ParseConfig<typeof relayUploadConfig>

export const relayUpload = Command.make("relay-upload", relayUploadConfig, (args) =>
  Effect.flatMap(handlers, (h) => h.relayUpload(args))
).pipe(
  Command.withDescription(
    help(
      "Stream a file into a relay slot with its upload token. PUT /relay/{id}; the file must be exactly the slot's size_bytes (a mismatch is refused and the slot stays open for another try). Tried once: a failed upload can simply be repeated before the slot expires. Prints the slot's metadata.",
      `agent-marketplace relay-upload --relay-id ${ID_EXAMPLE} --relay-token ${TOKEN_EXAMPLE} --file blob.age`
    )
  )
)

export const relayDownloadConfig = {
  relayId: relayIdOption,
  relayToken: relayTokenOption,
  out: Options.text("out").pipe(
    Options.withDescription(
      "Where to write the blob (mode 0600; written to a temporary file next to it, then renamed)"
    )
  )
}
export type RelayDownloadArgs = Command.Command.ParseConfig<typeof relayDownloadConfig>

export const relayDownload = Command.make("relay-download", relayDownloadConfig, (args) =>
  Effect.flatMap(handlers, (h) => h.relayDownload(args))
).pipe(
  Command.withDescription(
    help(
      "Stream a relay slot's blob into a file with its download token. GET /relay/{id}; every download counts against max_downloads, so it is tried once. The file appears only when the whole blob arrived. Prints {relay_id, out, size_bytes}. A 404 RelayNotFoundError means the slot is gone, expired, used up, not uploaded yet, or the token is wrong.",
      `agent-marketplace relay-download --relay-id ${ID_EXAMPLE} --relay-token ${TOKEN_EXAMPLE} --out blob.age`
    )
  )
)

export const relayDeleteConfig = { relayId: relayIdOption, relayToken: relayTokenOption }
export type RelayDeleteArgs = Command.Command.ParseConfig<typeof relayDeleteConfig>

export const relayDelete = Command.make("relay-delete", relayDeleteConfig, (args) =>
  Effect.flatMap(handlers, (h) => h.relayDelete(args))
).pipe(
  Command.withDescription(
    help(
      "Delete a relay slot and its bytes with its upload token. DELETE /relay/{id}, for example once the receiver confirmed the download. Prints the slot's metadata (status deleted).",
      `agent-marketplace relay-delete --relay-id ${ID_EXAMPLE} --relay-token ${TOKEN_EXAMPLE}`
    )
  )
)
