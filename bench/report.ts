/** Markdown tables on stdout, progress on stderr, and the small formatting helpers both need. */
import * as os from "node:os"
import { performance } from "node:perf_hooks"
import { Effect } from "effect"

/** Milliseconds on a monotonic clock: the only clock the benchmarks time with. */
export const now = (): number => performance.now()

export const loadAverage = (): string =>
  os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(" / ")

export const seconds = (ms: number): string => `${(ms / 1000).toFixed(2)} s`
export const mib = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MiB`
export const ratio = (r: number): string => `${r.toFixed(2)}×`

const started = now()

/** A progress line on stderr, so stdout carries only the tables. */
export const progress = (message: string): Effect.Effect<void> =>
  Effect.sync(() => console.error(`[bench +${((now() - started) / 1000).toFixed(1)}s] ${message}`))

export interface Table {
  readonly title: string
  /** How the figures were obtained; printed under the title. */
  readonly caption: ReadonlyArray<string>
  readonly columns: ReadonlyArray<string>
  readonly rows: ReadonlyArray<ReadonlyArray<string>>
  readonly notes?: ReadonlyArray<string>
}

const cell = (s: string): string => s.replace(/\|/g, "\\|").replace(/\n/g, " ")

export const renderTable = (t: Table): string =>
  [
    `### ${t.title}`,
    "",
    ...t.caption.map((c) => `${c}`),
    "",
    `| ${t.columns.map(cell).join(" | ")} |`,
    `| ${t.columns.map(() => "---").join(" | ")} |`,
    ...t.rows.map((r) => `| ${r.map(cell).join(" | ")} |`),
    ...(t.notes && t.notes.length > 0 ? ["", ...t.notes] : []),
    ""
  ].join("\n")

export const printTable = (t: Table): Effect.Effect<void> => Effect.sync(() => console.log(renderTable(t)))

/** Whether a figure meets its target, as a word a reader can grep for. */
export const verdict = (ok: boolean): string => (ok ? "met" : "MISSED")
