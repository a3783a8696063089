/**
 * The figures of issue 9, gathered from the benchmarks that measure them (converge, throughput,
 * memory) and printed as one table at the end of the run, each next to its target.
 */
import { Effect } from "effect"
import { printTable } from "./report.js"

/** The rows of the table, in the order of the issue, with the benchmark that measures each. */
const figureRows = [
  ["idle", "RSS of the idle operator, 0 objects, in-cluster auth", "memory"],
  ["idleKubeconfig", "RSS of the idle operator, 0 objects, --kubeconfig", "memory"],
  ["cached1k", "RSS with 1k AIs + 1k HelmReleases + 1k HelmRepositories cached", "memory"],
  ["cached10k", "RSS with 10k + 10k + 10k cached", "memory"],
  ["rssAfterConverge", "RSS 10 s after the operator process converged 1,000 new AIs", "converge"],
  ["cpuPerAi", "operator CPU per new AI", "converge"],
  ["reconcilesPerAi", "reconciles per new AI", "converge"],
  ["ratio", "time for 1,000 new AIs vs a plain client issuing the minimal write set, same concurrency", "throughput"],
  ["firstPass10k", "first pass over 10,000 existing AIs after start", "memory"]
] as const

export type FigureKey = (typeof figureRows)[number][0]

export interface Figure {
  readonly value: string
  /** The target and the verdict, e.g. `≤ 110.0 MiB — met`; empty when the row has no target. */
  readonly target: string
  readonly load: string
  /** The figure as a number (ms, bytes, a ratio), for benchmarks that compare runs. */
  readonly measured?: number
}

/** What the benchmarks of one run measured, for the summary table. */
export class Figures {
  private readonly byKey = new Map<FigureKey, Figure>()
  private readonly floors: Array<{ readonly label: string; readonly figure: Figure }> = []

  record(key: FigureKey, figure: Figure): void {
    this.byKey.set(key, figure)
  }

  get(key: FigureKey): Figure | undefined {
    return this.byKey.get(key)
  }

  /** An import-floor row: Node.js with one runtime dependency (or none, or all) imported. */
  floor(label: string, figure: Figure): void {
    this.floors.push({ label, figure })
  }

  get isEmpty(): boolean {
    return this.byKey.size === 0 && this.floors.length === 0
  }

  /** The table; a figure its benchmark did not record says which benchmark measures it. */
  print(ran: ReadonlyArray<string>): Effect.Effect<void> {
    return printTable({
      title: "Issue 9: the runtime figures against their targets",
      caption: [
        "One row per target of issue 9, gathered from this run's converge, throughput and memory benchmarks (their own tables above say how each was measured). Nothing here is asserted.",
        "The import-floor rows are Node.js with one runtime dependency imported (or none, or all): where the floor under every operator figure goes."
      ],
      columns: ["figure", "value", "target", "load avg 1/5/15", "from"],
      rows: [
        ...figureRows.map(([key, label, bench]) => {
          const f = this.byKey.get(key)
          if (f !== undefined) return [label, f.value, f.target, f.load, bench]
          const why = ran.includes(bench) ? `not measured: the ${bench} benchmark stopped short (see its table)` : `not measured: run --only ${bench}`
          return [label, why, "MISSED (no figure)", "", bench]
        }),
        ...this.floors.map(({ label, figure }) => [label, figure.value, figure.target, figure.load, "memory"])
      ]
    })
  }
}
