/** `--format table`: aligned text for people. JSON (the default) is the body exactly as received. */
export type OutputFormat = "json" | "table"

const cell = (value: unknown): string => {
  if (value === null || value === undefined) return "-"
  if (typeof value === "string") return value
  if (typeof value === "number" || typeof value === "boolean") return String(value)
  if (Array.isArray(value) && value.every((v) => typeof v === "string" || typeof v === "number")) {
    return value.length === 0 ? "-" : value.join(",")
  }
  return JSON.stringify(value)
}

const align = (rows: ReadonlyArray<ReadonlyArray<string>>): string => {
  const widths: Array<number> = []
  for (const row of rows) {
    row.forEach((c, i) => {
      widths[i] = Math.max(widths[i] ?? 0, c.length)
    })
  }
  return rows
    .map((row) =>
      row
        .map((c, i) => (i === row.length - 1 ? c : c.padEnd(widths[i]!)))
        .join("  ")
        .trimEnd()
    )
    .join("\n")
}

const objectTable = (obj: Record<string, unknown>): string =>
  align(Object.entries(obj).map(([key, value]) => [key, cell(value)]))

const listTable = (items: ReadonlyArray<unknown>): string => {
  if (items.length === 0) return "(no items)"
  const columns: Array<string> = []
  for (const item of items) {
    if (typeof item === "object" && item !== null) {
      for (const key of Object.keys(item)) if (!columns.includes(key)) columns.push(key)
    }
  }
  if (columns.length === 0) return align(items.map((item) => [cell(item)]))
  const rows = items.map((item) => columns.map((c) => cell((item as Record<string, unknown>)[c])))
  return align([columns.map((c) => c.toUpperCase()), ...rows])
}

/** Renders a success body (already parsed JSON) as a table. */
export const renderTable = (body: unknown): string => {
  if (Array.isArray(body)) return listTable(body)
  if (typeof body === "object" && body !== null) {
    const record = body as Record<string, unknown>
    if (Array.isArray(record.items)) {
      const table = listTable(record.items)
      return typeof record.next === "string" ? `${table}\n(next page: --after ${record.next})` : table
    }
    return objectTable(record)
  }
  return cell(body)
}

/** The text a command prints on stdout for a success body. */
export const renderBody = (bodyText: string, format: OutputFormat): string => {
  const trimmed = bodyText.replace(/\s+$/, "")
  if (format === "json") return trimmed
  try {
    return renderTable(JSON.parse(trimmed))
  } catch {
    return trimmed
  }
}
