import { Command, Options } from "@effect/cli"
import { Effect } from "effect"
import { UsageError } from "../Errors"
import { help } from "./Common"
import { maxDownloadsOption, ttlSecsOption } from "./Relay"

/**
 * Agent-to-agent handoff of a file through the relay, encrypted on the sender's machine in the
 * standard age format (X25519) and decrypted on the receiver's: the server only ever holds
 * ciphertext, and the envelope (slot, download token, key, hash) travels by the agents' own channel.
 * The handlers live in `HandoffHandlers.ts` (with `age-encryption`), imported when a handoff runs.
 */

const handlers = Effect.promise(() => import("./HandoffHandlers"))

export const sendConfig = {
  file: Options.text("file").pipe(
    Options.withDescription("The file to hand off (up to 50 MiB with the relay's default limit)")
  ),
  ttlSecs: ttlSecsOption,
  maxDownloads: maxDownloadsOption,
  recipient: Options.text("recipient").pipe(
    Options.withDescription(
      "Encrypt for the receiver's own age X25519 public key (age1…) instead of a fresh key; the envelope then carries no key and the receiver decrypts with --identity-file"
    ),
    Options.optional
  ),
  envelopeOut: Options.text("envelope-out").pipe(
    Options.withDescription(
      "Write the envelope to this file (mode 0600) instead of stdout; stdout then gets {envelope, relay_id, expires_at, plaintext_size}"
    ),
    Options.optional
  )
}
export type SendArgs = Command.Command.ParseConfig<typeof sendConfig>

export const send = Command.make("send", sendConfig, (args) =>
  Effect.flatMap(handlers, (h) => h.send(args))
).pipe(
  Command.withDescription(
    help(
      "Hand a file to another agent, encrypted, through the relay. Encrypts it on this machine (age, a fresh X25519 key per handoff unless --recipient), streams the ciphertext into a new relay slot (progress bar on a terminal for files over 1 MiB), and prints the envelope {v, server, relay_id, download_token, expires_at, cipher, identity, plaintext_sha256, plaintext_size}. Pass the envelope to the receiver by your own channel (it holds the key): it is never sent to the server. The server sees only ciphertext and its size.",
      [
        "agent-marketplace handoff send --file output.tar --envelope-out envelope.json",
        "agent-marketplace handoff send --file output.tar --recipient age1q9qcshrd23drkq736u2ycgnrq64wglptucy3cdafgdhng6f7qp2s5ym0dv --max-downloads 1"
      ]
    )
  )
)

export const receiveConfig = {
  envelope: Options.text("envelope").pipe(
    Options.withDescription("The envelope handoff send printed: a file, or - to read it from stdin")
  ),
  out: Options.text("out").pipe(
    Options.withDescription(
      "Where to write the file (mode 0600); it appears only once decryption authenticated and the SHA-256 and size match the envelope"
    )
  ),
  identityFile: Options.text("identity-file").pipe(
    Options.withDescription(
      "age identity file with your secret key (AGE-SECRET-KEY-1…), for envelopes sent with --recipient"
    ),
    Options.optional
  )
}
export type ReceiveArgs = Command.Command.ParseConfig<typeof receiveConfig>

export const receive = Command.make("receive", receiveConfig, (args) =>
  Effect.flatMap(handlers, (h) => h.receive(args))
).pipe(
  Command.withDescription(
    help(
      "Receive a handoff from its envelope, decrypted and checked. Downloads the ciphertext named by the envelope, decrypts it as a stream into a temporary file next to --out while computing its SHA-256, and renames it to --out only if decryption authenticated and the hash and size match the envelope. Otherwise nothing is left behind and the JSON error says why: relay-unavailable (exit 1; verdict artifact-unavailable), decrypt-failed (exit 5; verdict invalid-format), hash-mismatch (exit 5; verdict hash-mismatch). Exit 3 (network) is worth retrying while downloads remain.",
      [
        "agent-marketplace handoff receive --envelope envelope.json --out output.tar",
        "agent-marketplace handoff receive --envelope - --out output.tar --identity-file ~/.age/key.txt"
      ]
    )
  )
)

export const handoff = Command.make("handoff").pipe(
  Command.withHandler(() =>
    Effect.fail(new UsageError({ message: "missing subcommand: handoff send or handoff receive" }))
  ),
  Command.withSubcommands([send, receive]),
  Command.withDescription(
    help(
      "Encrypted agent-to-agent file handoff through the relay. `handoff send` encrypts and uploads a file and prints an envelope; the receiver runs `handoff receive` with that envelope. Run `agent-marketplace handoff send --help` or `agent-marketplace handoff receive --help` for their options.",
      [
        "agent-marketplace handoff send --file output.tar --envelope-out envelope.json",
        "agent-marketplace handoff receive --envelope envelope.json --out output.tar"
      ]
    )
  )
)
