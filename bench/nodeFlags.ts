/**
 * Node.js flags (issue 9 item 4): for each set of `--flag-sets`, the operator process's idle RSS,
 * its RSS with 1k instances cached (memory's `freshProcess`) and its CPU per new AI (the converge
 * benchmark, `--count` instances), with those flags. One run per set; the figures decide the
 * chart's `nodeOptions`.
 */
import { Effect } from "effect"
import { type BenchContext, convergedNamespace, describeError } from "./context.js"
import { convergeBench } from "./converge.js"
import { Figures } from "./figures.js"
import { gatedNamespace } from "./fixtures.js"
import { freshProcess, median, type MemoryRow } from "./memory.js"
import { BenchError } from "./probe.js"
import { loadAverage, mib, printTable, progress } from "./report.js"

const CACHED = 1000

const rssOf = (r: MemoryRow): string => `${mib(median(r.rss))} (peak ${mib(r.peak)})`

export const nodeFlagsBench = (ctx: BenchContext): Effect.Effect<void, BenchError> =>
  Effect.scoped(
    Effect.gen(function* () {
      const cached = yield* convergedNamespace(ctx, CACHED)
      const empty = yield* gatedNamespace(ctx.target, ctx.scope, "bench-flags-idle")
      const rows: Array<ReadonlyArray<string>> = []
      for (const flags of ctx.options.flagSets) {
        const withFlags: BenchContext = { ...ctx, options: { ...ctx.options, nodeOptions: flags }, figures: new Figures() }
        yield* progress(`flags: ${flags === "" ? "(none)" : flags}`)
        const idle = yield* freshProcess(withFlags, empty, 0)
        const full = yield* freshProcess(withFlags, cached, CACHED)
        const converged = yield* Effect.either(convergeBench(withFlags))
        const cpu = withFlags.figures.get("cpuPerAi")
        const after = withFlags.figures.get("rssAfterConverge")
        rows.push([
          flags === "" ? "(none)" : `\`${flags}\``,
          rssOf(idle),
          rssOf(full),
          full.heap.length > 0 ? mib(median(full.heap)) : "n/a",
          converged._tag === "Left" ? `failed: ${converged.left.message.split("\n")[0] ?? ""}` : (cpu?.value ?? "n/a"),
          after?.measured === undefined ? "n/a" : mib(after.measured),
          loadAverage()
        ])
      }
      yield* printTable({
        title: "7. Node.js flags: RSS and CPU per new AI of the operator process",
        caption: [
          `Method: for each flag set, the operator process (\`node <flags> dist/src/cli/main.js run\`, auth as --auth) is started on an empty namespace (idle RSS) and on ${CACHED} converged instances (RSS once its first pass is done and it is idle; median of 5 samples 1 s apart, peak = VmHWM), then the converge benchmark runs with the same flags (${ctx.options.count} new instances; CPU = the child's utime + stime until converged; RSS 10 s after). One run per set, sets run one after another on the same cluster; CPU per AI varies from run to run by more than the flags change it unless the gap is large.`
        ],
        columns: ["Node flags", "idle RSS", `RSS, ${CACHED} cached`, `heap used, ${CACHED} cached`, "CPU per new AI", "RSS 10 s after converging", "load avg 1/5/15"],
        rows
      })
    })
  ).pipe(Effect.catchAllDefect((d) => Effect.fail(new BenchError({ message: `flags: ${describeError(d)}` }))))
