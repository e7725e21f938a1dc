import { CliConfig, Command, HelpDoc, Usage } from "@effect/cli"
import type { Span } from "@effect/cli/HelpDoc/Span"

/**
 * Plain-text `--help`. `@effect/cli`'s own renderer lays text out with `@effect/printer` (slow for a
 * CLI that agents call often, and full of ANSI codes when piped); this one walks the same `HelpDoc`
 * that `@effect/cli` builds from the commands' options and descriptions, so help cannot drift from
 * the parser.
 */

const WIDTH = 100

const spanText = (span: Span): string => {
  switch (span._tag) {
    case "Text":
    case "URI":
      return span.value
    case "Sequence":
      return spanText(span.left) + spanText(span.right)
    case "Highlight":
    case "Strong":
    case "Weak":
      return spanText(span.value)
  }
}

const wrap = (text: string, indent: string, width = WIDTH): string => {
  const lines: Array<string> = []
  for (const raw of text.split("\n")) {
    // Pre-formatted lines (examples, indented) are kept as they are.
    if (raw.startsWith("  ") || raw.length + indent.length <= width) {
      lines.push(indent + raw)
      continue
    }
    let line = ""
    for (const word of raw.split(/\s+/)) {
      if (line.length > 0 && indent.length + line.length + 1 + word.length > width) {
        lines.push(indent + line)
        line = word
      } else {
        line = line.length === 0 ? word : `${line} ${word}`
      }
    }
    if (line.length > 0) lines.push(indent + line)
  }
  return lines.join("\n")
}

/** Paragraphs `@effect/cli` adds to every option that say nothing about our options. */
const GENERIC = [
  /^A user-defined piece of text\.$/,
  /^An integer\.$/,
  /^A floating point number\.$/,
  /^A true or false value\.$/,
  /^One of the following: /,
  /^A date without a time-zone/,
  /^This setting is optional\.$/
]

export const paragraphs = (doc: HelpDoc.HelpDoc): Array<string> => {
  switch (doc._tag) {
    case "Empty":
      return []
    case "Paragraph":
      return [spanText(doc.value)]
    case "Header":
      return [spanText(doc.value)]
    case "Sequence":
      return [...paragraphs(doc.left), ...paragraphs(doc.right)]
    case "Enumeration":
      return doc.elements.flatMap(paragraphs)
    case "DescriptionList":
      return doc.definitions.flatMap(([span, body]) => [spanText(span), ...paragraphs(body)])
  }
}

const renderOptions = (doc: HelpDoc.HelpDoc): string => {
  const entries: Array<string> = []
  const walk = (d: HelpDoc.HelpDoc): void => {
    if (d._tag === "Sequence") {
      walk(d.left)
      walk(d.right)
    } else if (d._tag === "DescriptionList") {
      for (const [span, body] of d.definitions) {
        const texts = paragraphs(body)
        const optional = texts.some((t) => t === "This setting is optional.")
        const described = texts.filter((t) => !GENERIC.some((re) => re.test(t)))
        const head = `  ${spanText(span)}${optional ? "  (optional)" : ""}`
        entries.push(described.length > 0 ? `${head}\n${wrap(described.join(" "), "      ")}` : head)
      }
    }
  }
  walk(doc)
  return entries.join("\n")
}

interface Sections {
  readonly description: Array<string>
  readonly options: HelpDoc.HelpDoc
}

const sequenceAll = (docs: ReadonlyArray<HelpDoc.HelpDoc>): HelpDoc.HelpDoc =>
  docs.reduce<HelpDoc.HelpDoc>((acc, d) => HelpDoc.sequence(acc, d), HelpDoc.empty)

/** Splits a command's `HelpDoc` into its DESCRIPTION paragraphs and its OPTIONS list. */
const sections = (doc: HelpDoc.HelpDoc): Sections => {
  const flat: Array<HelpDoc.HelpDoc> = []
  const flatten = (d: HelpDoc.HelpDoc): void => {
    if (d._tag === "Sequence") {
      flatten(d.left)
      flatten(d.right)
    } else if (d._tag !== "Empty") flat.push(d)
  }
  flatten(doc)
  const description: Array<string> = []
  const options: Array<HelpDoc.HelpDoc> = []
  let current = ""
  for (const block of flat) {
    if (block._tag === "Header") {
      current = spanText(block.value)
      continue
    }
    if (current === "DESCRIPTION") description.push(...paragraphs(block))
    if (current === "OPTIONS") options.push(block)
  }
  return { description, options: sequenceAll(options) }
}

type AnyCommand = Command.Command<any, any, any, any>

const usageLine = (command: AnyCommand): string =>
  paragraphs(Usage.getHelp(Command.getUsage(command))).join(" ")

const config = CliConfig.make({ showBuiltIns: false })

/** The first sentence of a command's description (for the root command list). */
export const summaryOf = (command: AnyCommand): string => {
  const first = sections(Command.getHelp(command, config)).description[0] ?? ""
  const match = /^(.*?\.)(\s|$)/.exec(first)
  return match ? match[1]! : first
}

/** A command's name as typed (`send` for `handoff send`). */
export const nameOf = (command: AnyCommand): string => [...Command.getNames(command)][0]!

/** `agent-marketplace <command> --help` (also `handoff send --help`: `parent` is then `handoff`). */
export const commandHelp = (
  program: string,
  command: AnyCommand,
  globalOptions: string,
  nesting: {
    /** The parent's name, for a subcommand. */
    readonly parent?: string
    /** The subcommands, for a command that has them. */
    readonly children?: ReadonlyArray<AnyCommand>
  } = {}
): string => {
  const { description, options } = sections(Command.getHelp(command, config))
  const name = nesting.parent === undefined ? usageLine(command) : `${nesting.parent} ${usageLine(command)}`
  const children = nesting.children ?? []
  const usage = children.length === 0 ? name : `${name} <${children.map(nameOf).join("|")}> [options]`
  const parts = [
    `Usage: ${program} [global options] ${usage}`,
    description.map((p) => wrap(p, "")).join("\n\n")
  ]
  if (children.length > 0) {
    parts.push(`Commands:\n${commandList(children.map((c) => [`${name} ${nameOf(c)}`, c] as const))}`)
  }
  const rendered = renderOptions(options)
  if (rendered.length > 0) parts.push(`Options:\n${rendered}`)
  parts.push(`Global options (before or after the command name): ${globalOptions}`)
  return parts.join("\n\n")
}

/** `  name  summary` lines, aligned, summaries wrapped with a hanging indent. */
const commandList = (entries: ReadonlyArray<readonly [string, AnyCommand]>): string => {
  const width = Math.max(...entries.map(([name]) => name.length)) + 2
  const hanging = " ".repeat(width + 2)
  return entries
    .map(([name, command]) => {
      const lines = wrap(summaryOf(command), hanging).split("\n")
      return `  ${name.padEnd(width)}${lines.join("\n").slice(hanging.length)}`
    })
    .join("\n")
}

/** `agent-marketplace --help`: `entries` are the commands as typed (`handoff send`) in order. */
export const rootHelp = (
  program: string,
  version: string,
  root: AnyCommand,
  entries: ReadonlyArray<readonly [string, AnyCommand]>,
  globalOptions: string
): string => {
  const { description } = sections(Command.getHelp(root, config))
  return [
    `${program} ${version}`,
    description.map((p) => wrap(p, "")).join("\n\n"),
    `Usage: ${program} [global options] <command> [options]`,
    `Global options (before or after the command name):\n${globalOptions}`,
    `Commands:\n${commandList(entries)}`,
    `Run \`${program} <command> --help\` for a command's options and an example. Also: --version.`
  ].join("\n\n")
}

/** The OPTIONS list of the root command (the global options). */
export const globalOptionsHelp = (root: AnyCommand): string =>
  renderOptions(sections(Command.getHelp(root, config)).options)

/** The global options in one line, for a command's help. */
export const globalOptionsLine = (root: AnyCommand): string =>
  `${paragraphs(Usage.getHelp(Command.getUsage(root)))
    .join(" ")
    .replace(/^\S+\s*/, "")} (see the root --help)`
