import { FetchHttpClient } from "@effect/platform"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodePath from "@effect/platform-node/NodePath"
import * as NodeTerminal from "@effect/platform-node/NodeTerminal"
import { Layer } from "effect"
import { Credentials } from "./Credentials"
import { KeyGenerator } from "./KeyGenerator"
import { Output } from "./Output"
import { Progress } from "./Progress"
import { RelayHttp } from "./RelayHttp"
import { RetryPolicy } from "./RetryPolicy"

/** Node platform services `@effect/cli` and the credentials file need. */
export const PlatformLive = Layer.mergeAll(NodeFileSystem.layer, NodePath.layer, NodeTerminal.layer)

/**
 * Everything `runCli` needs, on Node with the global fetch (relay bytes: `node:http`). `stderr` is
 * the process's stderr, where relay transfers draw a progress bar when it is a terminal.
 */
export const CliLive = (stderr: NodeJS.WriteStream) =>
  Layer.mergeAll(
    Output.layer,
    KeyGenerator.layer,
    RetryPolicy.layer,
    FetchHttpClient.layer,
    Credentials.layer,
    Progress.layerTerminal(stderr),
    RelayHttp.layer
  ).pipe(Layer.provideMerge(PlatformLive))
