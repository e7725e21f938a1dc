import { describe, expect, it } from "vitest"
import { helpRequest, hoistGlobalOptions } from "../src/Argv"
import { hoistSpec } from "../src/Cli"

const hoist = (line: string) => hoistGlobalOptions(line.split(" "), hoistSpec)

describe("hoistGlobalOptions", () => {
  it("leaves global options written before the command where they are", () => {
    expect(hoist("--server http://s --registration-token t register --agent-id a --name n")).toEqual(
      "--server http://s --registration-token t register --agent-id a --name n".split(" ")
    )
  })

  it("moves global options written after the command in front of it, with their values", () => {
    expect(hoist("deposit --amount 5 --server http://s --token T --format table")).toEqual(
      "--server http://s --token T --format table deposit --amount 5".split(" ")
    )
  })

  it("moves the --name=value form as one token", () => {
    expect(hoist("balance --server=http://s --credentials=/tmp/c.json")).toEqual(
      "--server=http://s --credentials=/tmp/c.json balance".split(" ")
    )
  })

  it("keeps --agent-id with register (its own option) but hoists it for other commands", () => {
    expect(hoist("register --server http://s --agent-id a --name n")).toEqual(
      "--server http://s register --agent-id a --name n".split(" ")
    )
    expect(hoist("my-assignments --agent-id a --status assigned")).toEqual(
      "--agent-id a my-assignments --status assigned".split(" ")
    )
  })

  it("moves --idempotency-key written before the command after it", () => {
    expect(hoist("--idempotency-key k-1 --server http://s deposit --amount 5")).toEqual(
      "--server http://s deposit --amount 5 --idempotency-key k-1".split(" ")
    )
  })

  it("does not mistake a value for a command or an option", () => {
    // `--token` after `--criteria` is the criteria text here only because it is one token with spaces.
    const args = ["request-review", "--criteria", "--server is not an option here", "--server", "http://s"]
    expect(hoistGlobalOptions(args, hoistSpec)).toEqual([
      "--server",
      "http://s",
      "request-review",
      "--criteria",
      "--server is not an option here"
    ])
    expect(hoist("--server http://s --format table list-agents")).toEqual(
      "--server http://s --format table list-agents".split(" ")
    )
  })

  it("leaves everything after -- alone", () => {
    expect(hoist("balance -- --server x")).toEqual("balance -- --server x".split(" "))
  })

  it("leaves a command line without a command unchanged", () => {
    expect(hoist("--server http://s")).toEqual("--server http://s".split(" "))
    expect(hoistGlobalOptions([], hoistSpec)).toEqual([])
  })

  it("hoists global options out of a nested command (handoff send)", () => {
    expect(hoist("handoff send --file f --server http://s --format table")).toEqual(
      "--server http://s --format table handoff send --file f".split(" ")
    )
  })

  it("is idempotent", () => {
    const once = hoist("hold --amount 1 --server http://s --task-id task-1 --token T")
    expect(hoistGlobalOptions(once, hoistSpec)).toEqual(once)
  })
})

describe("helpRequest", () => {
  it("finds the command help is asked for, wherever the global options are", () => {
    expect(helpRequest("deposit --help".split(" "), hoistSpec)).toEqual({ command: "deposit" })
    expect(helpRequest("--server http://s hold -h".split(" "), hoistSpec)).toEqual({ command: "hold" })
    expect(helpRequest("--server http://s --help".split(" "), hoistSpec)).toEqual({ command: undefined })
    expect(helpRequest("deposit --amount 1".split(" "), hoistSpec)).toBeUndefined()
    expect(helpRequest("request-review -- --help".split(" "), hoistSpec)).toBeUndefined()
  })

  it("names a nested command with its parent, and the parent alone otherwise", () => {
    expect(helpRequest("handoff send --file f --help".split(" "), hoistSpec)).toEqual({
      command: "handoff send"
    })
    expect(helpRequest("--server http://s handoff receive -h".split(" "), hoistSpec)).toEqual({
      command: "handoff receive"
    })
    expect(helpRequest("handoff --help".split(" "), hoistSpec)).toEqual({ command: "handoff" })
    expect(helpRequest("handoff --server http://s --help".split(" "), hoistSpec)).toEqual({
      command: "handoff"
    })
  })
})
