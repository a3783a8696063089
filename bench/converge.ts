/**
 * The operator process converging N new instances, measured from outside as the container runs
 * it (`node dist/src/cli/main.js run`): its CPU time per instance, reconciles per instance, and
 * its RSS 10 s after the last instance converged.
 */
import { Duration, Effect } from "effect"
import { type BenchContext, describeError, waitSettled } from "./context.js"
import { procCpuMs } from "./cpu.js"
import { convergence, createInstances, describeConvergence, gatedNamespace, isConverged, maxWait } from "./fixtures.js"
import { describeAuth, operatorAuth } from "./inClusterAuth.js"
import { readMemory, spawnOperator } from "./operatorProcess.js"
import { BenchError, passDone, pollUntil, probeGet } from "./probe.js"
import { loadAverage, mib, now, printTable, progress, seconds, verdict } from "./report.js"

const CPU_TARGET_MS = 5
const RECONCILE_TARGET = 1.2
const RSS_TARGET = 180 * 1024 * 1024
const AFTER = Duration.seconds(10)

export const convergeBench = (ctx: BenchContext): Effect.Effect<void, BenchError> =>
  Effect.scoped(
    Effect.gen(function* () {
      const n = ctx.options.count
      const ticks = ctx.clockTicks
      if (ticks === undefined) return yield* new BenchError({ message: "converge: no clock ticks (getconf CLK_TCK) to read CPU time" })
      const auth = yield* operatorAuth(ctx)
      const namespace = yield* gatedNamespace(ctx.target, ctx.scope, "bench-new")
      yield* progress(`converge: operator process (${describeAuth(auth)}) on the empty ${namespace}`)
      const op = yield* spawnOperator(ctx, { namespace, auth })
      yield* pollUntil(
        "/readyz",
        Effect.zipRight(op.alive, Effect.map(probeGet(op.port, "/readyz"), (r) => (r.status === 200 ? r : undefined))),
        { interval: Duration.millis(50), timeout: Duration.minutes(3) }
      )
      const cpu = () => procCpuMs(op.pid, ticks) ?? NaN
      const cpuBefore = cpu()
      const rssBefore = yield* readMemory(op.pid)
      const start = now()
      yield* progress(`converge: creating ${n} new instances in ${namespace}`)
      yield* createInstances(ctx.api, namespace, 0, n, ctx.options.createConcurrency)
      // Cheap first (the operator's own metrics), then the API server's word.
      const converged = yield* pollUntil(
        `${n} instances converged`,
        Effect.gen(function* () {
          yield* op.alive
          if ((yield* passDone(op.metricsPort, n)) === undefined) return undefined
          const c = yield* convergence(ctx.api, namespace)
          return isConverged(c, n) ? c : undefined
        }),
        { interval: Duration.seconds(1), timeout: maxWait }
      )
      const cpuMs = cpu() - cpuBefore
      const load = loadAverage()
      const settled = yield* waitSettled(op.metricsPort, n)
      yield* Effect.sleep(Duration.millis(Math.max(0, converged.at + Duration.toMillis(AFTER) - now())))
      yield* op.alive
      const after = yield* readMemory(op.pid)
      const rssLoad = loadAverage()
      const perAi = cpuMs / n
      const reconcilesPerAi = settled.value.reconciles / n
      const cpuRow = {
        value: `${perAi.toFixed(1)} ms (${seconds(cpuMs)} for ${n})`,
        target: `≤ ${CPU_TARGET_MS} ms — ${verdict(perAi <= CPU_TARGET_MS)}`,
        load,
        measured: perAi
      }
      const reconcilesRow = {
        value: `${reconcilesPerAi.toFixed(2)} (${settled.value.reconciles}, ${settled.value.reconcileErrors} errors)`,
        target: `≤ ${RECONCILE_TARGET} — ${verdict(reconcilesPerAi <= RECONCILE_TARGET)}`,
        load
      }
      const rssRow = {
        value: `${mib(after.rssBytes)} (ready and idle before: ${mib(rssBefore.rssBytes)}; peak ${mib(after.peakRssBytes)})`,
        target: `≤ ${mib(RSS_TARGET)} — ${verdict(after.rssBytes <= RSS_TARGET)}`,
        load: rssLoad,
        measured: after.rssBytes
      }
      ctx.figures.record("cpuPerAi", cpuRow)
      ctx.figures.record("reconcilesPerAi", reconcilesRow)
      ctx.figures.record("rssAfterConverge", rssRow)
      yield* printTable({
        title: `6. Operator process converging ${n} new instances`,
        caption: [
          `Method: \`node dist/src/cli/main.js run --watch-namespace <ns>\`${ctx.options.nodeOptions === "" ? "" : ` with Node flags \`${ctx.options.nodeOptions}\``} as a child process, auth ${describeAuth(auth)}, started on an empty gated namespace and ready (/readyz 200).`,
          `Then the harness creates ${n} managed helm-source instances (concurrency ${ctx.options.createConcurrency}); the operator makes its whole write set for each (finalizer, HelmRepository, HelmRelease, status, Events).`,
          "CPU is the child's utime + stime (/proc/<pid>/stat) from the first create until the API server shows every instance converged. RSS is VmRSS 10 s after that moment."
        ],
        columns: ["figure", "value", "target", "load avg 1/5/15"],
        rows: [
          ["operator CPU per new AI", cpuRow.value, cpuRow.target, load],
          ["reconciles per new AI", reconcilesRow.value, reconcilesRow.target, load],
          [`RSS 10 s after converging ${n} new AIs`, rssRow.value, rssRow.target, rssLoad],
          ["time from first create to converged", seconds(converged.at - start), "", load]
        ],
        notes: [describeConvergence(converged.value)]
      })
    })
  ).pipe(Effect.catchAllDefect((d) => Effect.fail(new BenchError({ message: `converge: ${describeError(d)}` }))))
