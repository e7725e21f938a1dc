import { PassThrough } from "node:stream"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { Progress } from "../src/Progress"

/** A writable that claims to be a terminal and records what is written to it. */
const fakeTerminal = (isTTY: boolean) => {
  const stream = new PassThrough() as unknown as NodeJS.WriteStream & { output: string }
  let output = ""
  ;(stream as unknown as PassThrough).on("data", (chunk: Buffer) => {
    output += chunk.toString("utf8")
  })
  Object.assign(stream, { isTTY, columns: 120 })
  Object.defineProperty(stream, "output", { get: () => output })
  return stream
}

const transfer = (layer: ReturnType<typeof Progress.layerTerminal>) =>
  Effect.runPromise(
    Effect.scoped(
      Effect.gen(function* () {
        const progress = yield* Progress
        const bar = yield* progress.bar("uploading", 4 * 1024 * 1024)
        for (let i = 0; i < 4; i++) bar.advance(1024 * 1024)
      })
    ).pipe(Effect.provide(layer))
  )

describe("Progress.layerTerminal", () => {
  it("draws a cli-progress bar on a terminal and completes it when the transfer ends", async () => {
    const terminal = fakeTerminal(true)
    await transfer(Progress.layerTerminal(terminal))
    expect(terminal.output).toContain("agent-marketplace: uploading [")
    expect(terminal.output).toContain("100% | 4.0/4.0 MiB")
  })

  it("draws nothing when stderr is not a terminal (agents reading stderr see only notes and JSON)", async () => {
    const pipe = fakeTerminal(false)
    await transfer(Progress.layerTerminal(pipe))
    expect(pipe.output).toBe("")
  })
})
