/**
 * A small Prometheus registry and its text exposition format (version 0.0.4): counters, gauges
 * and histograms with labels. It replaces prom-client, which costs several MiB of idle memory for
 * the handful of series the operator has. Series are plain objects keyed by their label values;
 * nothing runs between scrapes except the increments themselves.
 */

export const contentType = "text/plain; version=0.0.4; charset=utf-8"

export type MetricType = "counter" | "gauge" | "histogram"

export type LabelValues<L extends string> = Readonly<Record<L, string>>

const metricName = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/
const labelName = /^[a-zA-Z_][a-zA-Z0-9_]*$/

/** A mistake in a series definition: a programming error, so it throws at startup. */
export class InvalidMetricDefinition extends Error {
  override readonly name = "InvalidMetricDefinition"
}

/** HELP text escapes backslash and line feed. */
export const escapeHelp = (text: string): string => text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")

/** Label values escape backslash, double quote and line feed. */
export const escapeLabelValue = (text: string): string =>
  text.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")

/** Go's formatting of special floats, as Prometheus parses them. */
export const formatValue = (value: number): string => {
  if (Number.isNaN(value)) return "NaN"
  if (value === Infinity) return "+Inf"
  if (value === -Infinity) return "-Inf"
  return String(value)
}

const labelText = (pairs: ReadonlyArray<readonly [string, string]>): string =>
  pairs.length === 0 ? "" : `{${pairs.map(([k, v]) => `${k}="${escapeLabelValue(v)}"`).join(",")}}`

interface Family {
  readonly name: string
  readonly help: string
  readonly type: MetricType
  /** The sample lines, without HELP and TYPE. */
  readonly samples: () => ReadonlyArray<string>
  /** Counter and gauge values by labels (histograms: none), for tests and probes. */
  readonly values: () => ReadonlyArray<Sample>
}

export interface Sample {
  readonly labels: Readonly<Record<string, string>>
  readonly value: number
}

const sampleOf = (labels: ReadonlyArray<readonly [string, string]>, value: number): Sample => ({
  labels: Object.fromEntries(labels),
  value
})

export interface Definition<L extends string> {
  readonly name: string
  readonly help: string
  readonly labelNames?: ReadonlyArray<L>
}

/** Series of one family by label values, in the order they were first seen. */
class SeriesMap<L extends string, S> {
  private readonly series = new Map<string, { readonly labels: ReadonlyArray<readonly [string, string]>; readonly state: S }>()
  constructor(
    private readonly labelNames: ReadonlyArray<L>,
    private readonly fresh: () => S
  ) {}
  get(labels: LabelValues<L> | undefined): S {
    const values = this.labelNames.map((n) => labels?.[n] ?? "")
    const key = JSON.stringify(values)
    const found = this.series.get(key)
    if (found !== undefined) return found.state
    const entry = { labels: this.labelNames.map((n, i) => [n, values[i] ?? ""] as const), state: this.fresh() }
    this.series.set(key, entry)
    return entry.state
  }
  entries() {
    return this.series.values()
  }
}

export interface Counter<L extends string> {
  readonly inc: (labels?: LabelValues<L>, by?: number) => void
}

export interface Gauge<L extends string> {
  readonly set: (labels: LabelValues<L> | undefined, value: number) => void
  readonly add: (labels: LabelValues<L> | undefined, delta: number) => void
}

export interface Histogram<L extends string> {
  readonly observe: (labels: LabelValues<L> | undefined, value: number) => void
}

interface HistogramState {
  readonly counts: Array<number>
  sum: number
  count: number
}

export class Registry {
  private readonly families = new Map<string, Family>()

  private add(family: Family, labelNames: ReadonlyArray<string>): void {
    if (!metricName.test(family.name)) throw new InvalidMetricDefinition(`invalid metric name ${JSON.stringify(family.name)}`)
    if (this.families.has(family.name)) throw new InvalidMetricDefinition(`metric ${family.name} is already registered`)
    for (const label of labelNames) {
      if (!labelName.test(label) || label.startsWith("__")) {
        throw new InvalidMetricDefinition(`invalid label name ${JSON.stringify(label)} of ${family.name}`)
      }
    }
    if (family.type === "counter" && !family.name.endsWith("_total")) {
      throw new InvalidMetricDefinition(`counter ${family.name} must end in _total`)
    }
    this.families.set(family.name, family)
  }

  counter<L extends string = never>(definition: Definition<L>): Counter<L> {
    const labelNames = definition.labelNames ?? []
    const series = new SeriesMap<L, { value: number }>(labelNames, () => ({ value: 0 }))
    this.add(
      {
        ...definition,
        type: "counter",
        samples: () => Array.from(series.entries(), (s) => `${definition.name}${labelText(s.labels)} ${formatValue(s.state.value)}`),
        values: () => Array.from(series.entries(), (s) => sampleOf(s.labels, s.state.value))
      },
      labelNames
    )
    return {
      inc: (labels, by = 1) => {
        // Counters only go up; a negative increment is a bug at the call site, ignored here.
        if (by > 0) series.get(labels).value += by
      }
    }
  }

  gauge<L extends string = never>(definition: Definition<L>): Gauge<L> {
    const labelNames = definition.labelNames ?? []
    const series = new SeriesMap<L, { value: number }>(labelNames, () => ({ value: 0 }))
    this.add(
      {
        ...definition,
        type: "gauge",
        samples: () => Array.from(series.entries(), (s) => `${definition.name}${labelText(s.labels)} ${formatValue(s.state.value)}`),
        values: () => Array.from(series.entries(), (s) => sampleOf(s.labels, s.state.value))
      },
      labelNames
    )
    return {
      set: (labels, value) => {
        series.get(labels).value = value
      },
      add: (labels, delta) => {
        series.get(labels).value += delta
      }
    }
  }

  /** A gauge read at scrape time (process memory, an age): `read` returns the samples. */
  gaugeFunction<L extends string = never>(
    definition: Definition<L>,
    read: () => ReadonlyArray<{ readonly labels?: LabelValues<L>; readonly value: number }>
  ): void {
    const labelNames = definition.labelNames ?? []
    const values = () => read().map((s) => sampleOf(labelNames.map((n) => [n, s.labels?.[n] ?? ""] as const), s.value))
    this.add(
      {
        ...definition,
        type: "gauge",
        samples: () =>
          values().map((s) => `${definition.name}${labelText(Object.entries(s.labels))} ${formatValue(s.value)}`),
        values
      },
      labelNames
    )
  }

  /** A counter read at scrape time (CPU seconds): `read` returns its current total. */
  counterFunction(definition: Definition<never>, read: () => number): void {
    this.add(
      {
        ...definition,
        type: "counter",
        samples: () => [`${definition.name} ${formatValue(read())}`],
        values: () => [{ labels: {}, value: read() }]
      },
      []
    )
  }

  histogram<L extends string = never>(definition: Definition<L> & { readonly buckets: ReadonlyArray<number> }): Histogram<L> {
    const labelNames = definition.labelNames ?? []
    if ((labelNames as ReadonlyArray<string>).includes("le")) {
      throw new InvalidMetricDefinition(`histogram ${definition.name} may not have a label "le"`)
    }
    const bounds = [...new Set(definition.buckets)].filter((b) => Number.isFinite(b)).sort((a, b) => a - b)
    const series = new SeriesMap<L, HistogramState>(labelNames, () => ({ counts: bounds.map(() => 0), sum: 0, count: 0 }))
    const samples = () =>
      Array.from(series.entries(), (s) => {
        const lines = bounds.map(
          (bound, i) => `${definition.name}_bucket${labelText([...s.labels, ["le", formatValue(bound)]])} ${s.state.counts[i]}`
        )
        lines.push(`${definition.name}_bucket${labelText([...s.labels, ["le", "+Inf"]])} ${s.state.count}`)
        lines.push(`${definition.name}_sum${labelText(s.labels)} ${formatValue(s.state.sum)}`)
        lines.push(`${definition.name}_count${labelText(s.labels)} ${s.state.count}`)
        return lines
      }).flat()
    this.add({ ...definition, type: "histogram", samples, values: () => [] }, labelNames)
    return {
      observe: (labels, value) => {
        if (Number.isNaN(value)) return
        const state = series.get(labels)
        // Buckets are cumulative: every bucket whose bound is at least the value counts it.
        for (let i = bounds.length - 1; i >= 0 && value <= bounds[i]!; i--) state.counts[i]!++
        state.sum += value
        state.count++
      }
    }
  }

  /** The current samples of a counter or gauge family (none when it is not registered). */
  values(name: string): ReadonlyArray<Sample> {
    return this.families.get(name)?.values() ?? []
  }

  /** The text exposition: HELP and TYPE for every family, then its samples. */
  render(): string {
    const out: Array<string> = []
    for (const family of this.families.values()) {
      out.push(`# HELP ${family.name} ${escapeHelp(family.help)}`, `# TYPE ${family.name} ${family.type}`, ...family.samples())
    }
    return out.length === 0 ? "" : out.join("\n") + "\n"
  }
}
