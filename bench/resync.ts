/**
 * Writes during resync: the operator over converged instances with a short resync period, every
 * write request counted by a counting KubeApi Layer. Level-based reconciles of unchanged objects
 * should write nothing.
 */
import { Duration, Effect } from "effect"
import { type BenchContext, convergedNamespace, describeError, waitSettled, withInProcessOperator } from "./context.js"
import { describeWrites, sumWrites, WriteLog, writesBetween } from "./countingKubeApi.js"
import { cpuSnapshot, describeCpu } from "./cpu.js"
import { BenchError } from "./probe.js"
import { loadAverage, now, printTable, progress, seconds, verdict } from "./report.js"

export const resyncBench = (ctx: BenchContext): Effect.Effect<void, BenchError> =>
  Effect.scoped(
    Effect.gen(function* () {
      const n = ctx.options.count
      const period = ctx.options.resyncSeconds
      const passes = ctx.options.resyncPasses
      const namespace = yield* convergedNamespace(ctx, n)
      yield* progress(`resync: operator on ${n} converged instances in ${namespace}, resync every ${period} s, ${passes} passes`)
      const log = new WriteLog()
      const startCpu = cpuSnapshot(ctx.clusterPids, ctx.clockTicks)
      const start = now()
      const result = yield* withInProcessOperator(
        ctx,
        { namespace, config: { resyncPeriod: Duration.seconds(period) }, log },
        (port) =>
          Effect.gen(function* () {
            const startup = yield* waitSettled(port, n, { interval: Duration.millis(250) })
            const startupWrites = log.snapshot()
            const startupLoad = loadAverage()
            const startupCpu = cpuSnapshot(ctx.clusterPids, ctx.clockTicks)
            // Each resync enqueues every instance once; wait for `passes` of them to be worked off.
            const target = startup.value.reconciles + n * passes
            const done = yield* waitSettled(port, target, {
              interval: Duration.millis(500),
              timeout: Duration.seconds(period * (passes + 2) + 120)
            })
            return {
              startupMs: startup.at - start,
              startupReconciles: startup.value.reconciles,
              startupWrites,
              startupLoad,
              windowMs: done.at - startup.at,
              windowReconciles: done.value.reconciles - startup.value.reconciles,
              windowWrites: writesBetween(startupWrites, log.snapshot()),
              errors: done.value.reconcileErrors,
              load: loadAverage(),
              startupCpu: describeCpu(startCpu, startupCpu),
              windowCpu: describeCpu(startupCpu, cpuSnapshot(ctx.clusterPids, ctx.clockTicks))
            }
          })
      )
      const observedPasses = Math.floor(result.windowReconciles / n)
      const startupCount = sumWrites(result.startupWrites)
      const windowCount = sumWrites(result.windowWrites)
      yield* printTable({
        title: `2. Writes during resync of ${n} unchanged instances`,
        caption: [
          `Method: the operator runs in-process on a namespace whose ${n} managed instances it has already converged (HelmRelease, HelmRepository and status in place), with \`resyncPeriod\` = ${period} s, so each pass stands in for one 10-minute resync.`,
          `Its KubeApi is a counting Layer around the live client: every create, apply, applyStatus, patch and delete request is counted when sent. A pass is ${n} reconciles (\`controller_runtime_reconcile_total\` from its /metrics); the window ends once ${passes} passes are worked off and the queue is drained.`
        ],
        columns: ["phase", "duration", "reconciles", "passes", "writes issued", "breakdown", "target", "CPU used meanwhile", "load avg 1/5/15"],
        rows: [
          [
            "start-up pass (restart over converged instances)",
            seconds(result.startupMs),
            String(result.startupReconciles),
            "1",
            String(startupCount),
            describeWrites(result.startupWrites),
            `0 — ${verdict(startupCount === 0)}`,
            result.startupCpu,
            result.startupLoad
          ],
          [
            `resync window (period ${period} s)`,
            seconds(result.windowMs),
            String(result.windowReconciles),
            String(observedPasses),
            String(windowCount),
            describeWrites(result.windowWrites),
            `0 — ${verdict(windowCount === 0)}`,
            result.windowCpu,
            result.load
          ]
        ],
        notes: [`Reconcile errors over the whole run: ${result.errors}.`]
      })
    })
  ).pipe(Effect.catchAllDefect((d) => Effect.fail(new BenchError({ message: `resync: ${describeError(d)}` }))))
