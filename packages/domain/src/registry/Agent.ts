import { Schema } from "effect"
import { PublicKey } from "../identity/Signature"
import { AgentId, strict, Timestamp } from "../shared/Ids"

export const MEDIA_PROFILES = [
  "text.plain.utf8.v1",
  "text.markdown.utf8.v1",
  "application.json.v1",
  "application.vnd.agent.review-verdict-json.v1",
  "image.png.srgb.v1",
  "image.jpeg.srgb.v1",
  "video.mp4.h264-aac.v1",
  "audio.mpeg.mp3.v1"
] as const
export const MediaProfile = Schema.Literal(...MEDIA_PROFILES)

export const CapabilityName = Schema.String.pipe(
  Schema.pattern(/^[a-z0-9._-]{1,64}$/, {
    message: () => "capability name must be 1-64 characters of [a-z0-9._-]"
  }),
  Schema.annotations({ identifier: "CapabilityName" })
)

export const CapabilityContract = Schema.Struct({
  input_profiles: Schema.Array(MediaProfile),
  output_profiles: Schema.Array(MediaProfile)
}).annotations(strict)

export const Capability = Schema.Struct({
  name: CapabilityName,
  max_concurrency: Schema.Int.pipe(Schema.between(1, 1_000_000)),
  contract: Schema.optional(CapabilityContract)
}).annotations({ ...strict, identifier: "Capability" })
export type Capability = typeof Capability.Type

export const Lifecycle = Schema.Literal("pending", "registered", "suspended", "deregistered")
export type Lifecycle = typeof Lifecycle.Type

const MetadataKey = Schema.String.pipe(Schema.minLength(1), Schema.maxLength(128))
export const Metadata = Schema.Record({
  key: MetadataKey,
  value: Schema.String.pipe(Schema.maxLength(4096))
}).pipe(
  Schema.filter((m) => {
    const entries = Object.entries(m)
    if (entries.length > 32) return "metadata has more than 32 entries"
    const encoder = new TextEncoder()
    const size = entries.reduce((n, [k, v]) => n + encoder.encode(k).length + encoder.encode(v).length, 0)
    return size <= 4096 || "metadata is larger than 4 KiB"
  }),
  Schema.annotations({ identifier: "Metadata" })
)

export const AgentListing = Schema.Struct({
  agent_id: AgentId,
  name: Schema.NullOr(Schema.String),
  endpoint: Schema.NullOr(Schema.String),
  metadata: Schema.Record({ key: Schema.String, value: Schema.String }),
  capabilities: Schema.Array(Capability),
  lifecycle: Lifecycle,
  alive: Schema.Boolean,
  last_heartbeat_at: Schema.NullOr(Timestamp),
  current_load: Schema.Int,
  created_at: Timestamp,
  updated_at: Timestamp
}).annotations({ identifier: "AgentListing" })
export type AgentListing = typeof AgentListing.Type

export const DiscoverCandidate = Schema.Struct({
  agent_id: AgentId,
  name: Schema.NullOr(Schema.String),
  endpoint: Schema.NullOr(Schema.String),
  capability: Capability,
  current_load: Schema.Int,
  max_concurrency: Schema.Int,
  last_heartbeat_at: Schema.NullOr(Timestamp)
}).annotations({ identifier: "DiscoverCandidate" })
export type DiscoverCandidate = typeof DiscoverCandidate.Type

export const RegisterRequest = Schema.Struct({
  agent_id: AgentId,
  name: Schema.optional(Schema.String.pipe(Schema.maxLength(256))),
  endpoint: Schema.optional(Schema.String.pipe(Schema.maxLength(2048))),
  metadata: Schema.optional(Metadata),
  /** Binds this Ed25519 public key: the agent then signs its requests (identity spec). */
  public_key: Schema.optional(PublicKey),
  /** With a key: keep bearer tokens working too (default false: a key-bound agent has no token). */
  allow_bearer: Schema.optional(Schema.Boolean),
  invite_code: Schema.optional(Schema.String)
}).annotations({ ...strict, identifier: "RegisterRequest" })
export type RegisterRequest = typeof RegisterRequest.Type

export const RegisterOutcome = Schema.Literal("registered", "updated", "re_registered")

export const RegisterResponse = Schema.Struct({
  agent_id: AgentId,
  outcome: RegisterOutcome,
  lifecycle: Lifecycle,
  token: Schema.NullOr(Schema.String)
}).annotations({ identifier: "RegisterResponse" })
export type RegisterResponse = typeof RegisterResponse.Type

export const CapabilitiesRequest = Schema.Struct({
  capabilities: Schema.Array(Capability)
}).annotations({ ...strict, identifier: "CapabilitiesRequest" })

export const TokenResponse = Schema.Struct({ token: Schema.String })

/** `POST /agents/rotate-key`, signed by the current key. */
export const RotateKeyRequest = Schema.Struct({ public_key: PublicKey }).annotations({
  ...strict,
  identifier: "RotateKeyRequest"
})
export const DeregisterResponse = Schema.Struct({ deregistered: Schema.Boolean })
