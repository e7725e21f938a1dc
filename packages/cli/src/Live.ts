import { FetchHttpClient } from "@effect/platform"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodePath from "@effect/platform-node/NodePath"
import * as NodeTerminal from "@effect/platform-node/NodeTerminal"
import { Layer } from "effect"
import { Credentials } from "./Credentials"
import { KeyGenerator } from "./KeyGenerator"
import { Output } from "./Output"
import { RetryPolicy } from "./RetryPolicy"

/** Node platform services `@effect/cli` and the credentials file need. */
export const PlatformLive = Layer.mergeAll(NodeFileSystem.layer, NodePath.layer, NodeTerminal.layer)

/** Everything `runCli` needs, on Node with the global fetch. */
export const CliLive = Layer.mergeAll(
  Output.layer,
  KeyGenerator.layer,
  RetryPolicy.layer,
  FetchHttpClient.layer,
  Credentials.layer
).pipe(Layer.provideMerge(PlatformLive))
