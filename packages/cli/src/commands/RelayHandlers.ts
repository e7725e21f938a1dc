import { Effect, Option, Ref } from "effect"
import type { LocalIoError } from "../Errors"
import { createSlot, deleteSlot, downloadSlot, uploadSlot } from "../RelayClient"
import { rootCommand } from "../Root"
import { loadSettings } from "../Settings"
import {
  fileBytes,
  preferLocalFailure,
  regularFileSize,
  sinkTo,
  transferFailed,
  withProgress,
  writeAtomically
} from "../Transfers"
import { printBody } from "./Common"
import type { RelayCreateArgs, RelayDeleteArgs, RelayDownloadArgs, RelayUploadArgs } from "./Relay"

/** The server of this invocation (flag > env > credentials file > default); no token is needed. */
export const relayServer = Effect.flatMap(rootCommand, loadSettings)

/** `{ttl_secs?, max_downloads?}` from the optional flags. */
export const slotOptions = (args: {
  readonly ttlSecs: Option.Option<number>
  readonly maxDownloads: Option.Option<number>
}) => ({
  ...Option.match(args.ttlSecs, { onNone: () => ({}), onSome: (ttl_secs) => ({ ttl_secs }) }),
  ...Option.match(args.maxDownloads, { onNone: () => ({}), onSome: (max_downloads) => ({ max_downloads }) })
})

export const relayCreate = (args: RelayCreateArgs) =>
  Effect.gen(function* () {
    const settings = yield* relayServer
    const { body } = yield* createSlot(settings.server, { size_bytes: args.sizeBytes, ...slotOptions(args) })
    yield* printBody(settings, body)
  })

export const relayUpload = (args: RelayUploadArgs) =>
  Effect.gen(function* () {
    const settings = yield* relayServer
    const size = yield* regularFileSize(args.file)
    const failure = yield* Ref.make(Option.none<LocalIoError>())
    const bytes = yield* fileBytes(args.file, size, failure)
    const { body } = yield* uploadSlot(
      settings.server,
      args.relayId,
      args.relayToken,
      bytes.pipe(withProgress("uploading", size)),
      size
    ).pipe(Effect.catchAll(preferLocalFailure(failure)))
    yield* printBody(settings, body)
  })

export const relayDownload = (args: RelayDownloadArgs) =>
  Effect.gen(function* () {
    const settings = yield* relayServer
    const download = yield* downloadSlot(settings.server, args.relayId, args.relayToken)
    const size = Option.getOrElse(download.size, () => 0)
    const written = yield* writeAtomically(args.out, (temp) =>
      sinkTo(temp, download.bytes.pipe(withProgress("downloading", size)))
    )
    yield* printBody(settings, JSON.stringify({ relay_id: args.relayId, out: args.out, size_bytes: written }))
  }).pipe(Effect.catchTag("RelayTransferError", (error) => Effect.fail(transferFailed(error))))

export const relayDelete = (args: RelayDeleteArgs) =>
  Effect.gen(function* () {
    const settings = yield* relayServer
    const { body } = yield* deleteSlot(settings.server, args.relayId, args.relayToken)
    yield* printBody(settings, body)
  })
