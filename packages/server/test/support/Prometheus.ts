/**
 * A strict reader of the Prometheus text exposition format (0.0.4), for tests: it throws on
 * anything a Prometheus server would refuse (a malformed line, a bad name or escape, a family split
 * in two, a duplicate series, a sample before its family's TYPE line or of the wrong type, a
 * histogram whose buckets are not cumulative or whose `_count` is not its `+Inf` bucket).
 */

export type MetricType = "counter" | "gauge" | "histogram" | "summary" | "untyped"

export interface Sample {
  readonly name: string
  readonly labels: Readonly<Record<string, string>>
  readonly value: number
}

export interface Family {
  readonly name: string
  readonly type: MetricType
  readonly help: string
  readonly samples: ReadonlyArray<Sample>
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/
const TYPES: ReadonlyArray<MetricType> = ["counter", "gauge", "histogram", "summary", "untyped"]

const parseValue = (text: string, line: string): number => {
  if (text === "NaN") return Number.NaN
  if (text === "+Inf" || text === "Inf") return Number.POSITIVE_INFINITY
  if (text === "-Inf") return Number.NEGATIVE_INFINITY
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) throw new Error(`bad value ${text} in: ${line}`)
  return Number(text)
}

const parseSample = (line: string): Sample => {
  const nameMatch = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line)
  if (nameMatch === null) throw new Error(`bad sample line: ${line}`)
  const name = nameMatch[0]
  let i = name.length
  const labels: Record<string, string> = {}
  if (line[i] === "{") {
    i++
    for (;;) {
      if (line[i] === "}") {
        i++
        break
      }
      const labelMatch = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(line.slice(i))
      if (labelMatch === null) throw new Error(`bad label name in: ${line}`)
      const label = labelMatch[0]
      if (label.startsWith("__")) throw new Error(`reserved label name ${label} in: ${line}`)
      i += label.length
      if (line[i] !== "=" || line[i + 1] !== '"')
        throw new Error(`expected ="..." after ${label} in: ${line}`)
      i += 2
      let value = ""
      for (;;) {
        const c = line[i]
        if (c === undefined) throw new Error(`unterminated label value in: ${line}`)
        if (c === '"') break
        if (c === "\\") {
          const next = line[i + 1]
          if (next === "\\") value += "\\"
          else if (next === '"') value += '"'
          else if (next === "n") value += "\n"
          else throw new Error(`bad escape in label value in: ${line}`)
          i += 2
          continue
        }
        value += c
        i++
      }
      i++
      if (Object.hasOwn(labels, label)) throw new Error(`label ${label} given twice in: ${line}`)
      labels[label] = value
      if (line[i] === ",") i++
      else if (line[i] !== "}") throw new Error(`expected , or } in: ${line}`)
    }
  }
  const rest = line.slice(i)
  const parts = rest.trim().split(/[ \t]+/)
  if (!/^[ \t]/.test(rest) || parts.length < 1 || parts.length > 2 || parts[0] === "") {
    throw new Error(`expected a value (and an optional timestamp) in: ${line}`)
  }
  if (parts[1] !== undefined && !/^-?\d+$/.test(parts[1])) throw new Error(`bad timestamp in: ${line}`)
  return { name, labels, value: parseValue(parts[0]!, line) }
}

const unescapeHelp = (text: string, line: string) =>
  text.replace(/\\(.?)/g, (_, c: string) => {
    if (c === "\\") return "\\"
    if (c === "n") return "\n"
    throw new Error(`bad escape in HELP: ${line}`)
  })

/** The family a sample belongs to, given the families declared so far. */
const familyOf = (sampleName: string, declared: ReadonlyMap<string, MetricType>): string => {
  for (const suffix of ["_bucket", "_sum", "_count"]) {
    if (!sampleName.endsWith(suffix)) continue
    const base = sampleName.slice(0, -suffix.length)
    const type = declared.get(base)
    if (type === "histogram" || (type === "summary" && suffix !== "_bucket")) return base
  }
  return sampleName
}

const seriesKey = (sample: Sample) =>
  `${sample.name}{${Object.entries(sample.labels)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
    .join(",")}}`

const checkHistogram = (family: Family) => {
  const groups = new Map<string, { buckets: Array<[number, number]>; count?: number; sum?: number }>()
  for (const sample of family.samples) {
    const { le, ...rest } = sample.labels
    const key = JSON.stringify(Object.entries(rest).sort(([a], [b]) => (a < b ? -1 : 1)))
    const group = groups.get(key) ?? { buckets: [] }
    groups.set(key, group)
    if (sample.name === `${family.name}_bucket`) {
      if (le === undefined) throw new Error(`${family.name}_bucket without le`)
      group.buckets.push([parseValue(le, le), sample.value])
    } else if (sample.name === `${family.name}_count`) group.count = sample.value
    else if (sample.name === `${family.name}_sum`) group.sum = sample.value
    else throw new Error(`unexpected sample ${sample.name} in histogram ${family.name}`)
  }
  for (const [key, group] of groups) {
    const where = `${family.name} ${key}`
    if (group.count === undefined || group.sum === undefined) throw new Error(`${where}: no _count or _sum`)
    const last = group.buckets.at(-1)
    if (last === undefined || last[0] !== Number.POSITIVE_INFINITY)
      throw new Error(`${where}: no +Inf bucket`)
    for (let i = 1; i < group.buckets.length; i++) {
      if (!(group.buckets[i]![0] > group.buckets[i - 1]![0])) throw new Error(`${where}: le not increasing`)
      if (group.buckets[i]![1] < group.buckets[i - 1]![1]) throw new Error(`${where}: buckets not cumulative`)
    }
    if (last[1] !== group.count) throw new Error(`${where}: _count ${group.count} != +Inf bucket ${last[1]}`)
  }
}

/** Every family of the exposition, by name. */
export const parsePrometheus = (text: string): ReadonlyMap<string, Family> => {
  if (text.length > 0 && !text.endsWith("\n")) throw new Error("the exposition must end with a newline")
  const declared = new Map<string, MetricType>()
  const helps = new Map<string, string>()
  const samples = new Map<string, Array<Sample>>()
  const finished = new Set<string>()
  const series = new Set<string>()
  let current: string | undefined
  const enter = (family: string) => {
    if (family === current) return
    if (finished.has(family)) throw new Error(`family ${family} is split`)
    if (current !== undefined) finished.add(current)
    current = family
  }
  for (const line of text.split("\n").slice(0, -1)) {
    if (line.trim() === "") continue
    if (line.startsWith("#")) {
      const meta = /^#[ \t]+(HELP|TYPE)[ \t]+(\S+)(?:[ \t]+(.*))?$/.exec(line)
      if (meta === null) continue // a plain comment
      const [, kind, name, rest = ""] = meta
      if (!METRIC_NAME.test(name!)) throw new Error(`bad metric name in: ${line}`)
      enter(name!)
      if (kind === "HELP") {
        if (helps.has(name!)) throw new Error(`second HELP for ${name}`)
        helps.set(name!, unescapeHelp(rest, line))
      } else {
        if (declared.has(name!)) throw new Error(`second TYPE for ${name}`)
        if (samples.has(name!)) throw new Error(`TYPE after samples of ${name}`)
        if (!TYPES.includes(rest as MetricType)) throw new Error(`bad type in: ${line}`)
        declared.set(name!, rest as MetricType)
      }
      continue
    }
    const sample = parseSample(line)
    for (const label of Object.keys(sample.labels)) {
      if (!LABEL_NAME.test(label)) throw new Error(`bad label name ${label}`)
    }
    const family = familyOf(sample.name, declared)
    enter(family)
    const key = seriesKey(sample)
    if (series.has(key)) throw new Error(`duplicate series ${key}`)
    series.add(key)
    const list = samples.get(family) ?? []
    list.push(sample)
    samples.set(family, list)
  }
  const families = new Map<string, Family>()
  for (const name of new Set([...declared.keys(), ...helps.keys(), ...samples.keys()])) {
    const family: Family = {
      name,
      type: declared.get(name) ?? "untyped",
      help: helps.get(name) ?? "",
      samples: samples.get(name) ?? []
    }
    if (family.type === "histogram") checkHistogram(family)
    if (
      (family.type === "counter" || family.type === "gauge") &&
      family.samples.some((s) => s.name !== name)
    ) {
      throw new Error(`${name}: a ${family.type} with suffixed samples`)
    }
    families.set(name, family)
  }
  return families
}

/** The value of the one sample named `name` whose labels include `labels`; `undefined` when none. */
export const sampleValue = (
  families: ReadonlyMap<string, Family>,
  family: string,
  name: string,
  labels: Readonly<Record<string, string>> = {}
): number | undefined => {
  const matching = (families.get(family)?.samples ?? []).filter(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)
  )
  if (matching.length > 1)
    throw new Error(`${matching.length} samples of ${name} match ${JSON.stringify(labels)}`)
  return matching[0]?.value
}
