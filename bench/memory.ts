/**
 * Memory: resident set size of the operator process once its caches hold 1k, then 10k converged
 * instances (with the HelmRelease and HelmRepository the operator created for each), sampled from
 * /proc/<pid>/status; heap used from its own `nodejs_heap_size_used_bytes`.
 */
import { Duration, Effect } from "effect"
import {
  type BenchContext,
  convergedNamespace,
  describeError,
  waitSettled,
  withInProcessOperator
} from "./context.js"
import { WriteLog } from "./countingKubeApi.js"
import { convergence, createInstances, describeConvergence, gatedNamespace, isConverged, maxWait } from "./fixtures.js"
import {
  type OperatorProcess,
  readMemory,
  runtimeDependencies,
  spawnDependencyBaseline,
  spawnOperator
} from "./operatorProcess.js"
import { describeAuth, kubeconfigAuth, type OperatorAuth, operatorAuth } from "./inClusterAuth.js"
import { BenchError, passDone, pollUntil, probeGet, readProgress } from "./probe.js"
import { loadAverage, mib, now, printTable, progress, seconds, verdict } from "./report.js"

/** The targets of issue 9, by cache size (0: the idle operator). */
const targets: Readonly<Record<number, number>> = { 0: 110 * 1024 * 1024, 1000: 150 * 1024 * 1024, 10000: 350 * 1024 * 1024 }

const SAMPLES = 5
const AI = "applicationinstances.apps.vworkspace.io"
const HR = "helmreleases.helm.toolkit.fluxcd.io"
const REPO = "helmrepositories.source.toolkit.fluxcd.io"

interface MemoryRow {
  readonly label: string
  readonly size: number
  readonly cached: string
  readonly rss: ReadonlyArray<number>
  readonly peak: number
  readonly heap: ReadonlyArray<number>
  readonly load: string
  readonly note: string
}

const median = (xs: ReadonlyArray<number>): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)] ?? NaN
}

/** `SAMPLES` readings one second apart, once the process is idle. */
const sample = (op: OperatorProcess, size: number, note: string): Effect.Effect<MemoryRow, BenchError> =>
  Effect.gen(function* () {
    const rss: Array<number> = []
    const heap: Array<number> = []
    let peak = 0
    let cached = ""
    let errors = 0
    for (let i = 0; i < SAMPLES; i++) {
      if (i > 0) yield* Effect.sleep(Duration.seconds(1))
      yield* op.alive
      const m = yield* readMemory(op.pid)
      const p = yield* readProgress(op.metricsPort)
      rss.push(m.rssBytes)
      peak = m.peakRssBytes
      if (p.heapUsedBytes !== undefined) heap.push(p.heapUsedBytes)
      errors = p.reconcileErrors
      cached = `${p.cached[AI] ?? 0} AIs + ${p.cached[HR] ?? 0} HelmReleases + ${p.cached[REPO] ?? 0} HelmRepositories`
    }
    const withErrors = errors > 0 ? `${note}; ${errors} reconcile errors (not a healthy run)` : note
    return { label: String(size), size, cached, rss, peak, heap, load: loadAverage(), note: withErrors }
  })

/**
 * The floor under every figure: Node.js with some of the runtime dependencies imported, idle.
 * `deps` empty is bare Node; one dependency alone shows what it costs.
 */
const dependencyBaseline = (deps?: ReadonlyArray<string>): Effect.Effect<MemoryRow, BenchError> => Effect.scoped(
  Effect.gen(function* () {
    yield* progress(`memory: reference process importing ${deps === undefined ? "every runtime dependency" : deps.join(", ") || "nothing"}`)
    const base = yield* spawnDependencyBaseline(deps)
    const rss: Array<number> = []
    let peak = 0
    for (let i = 0; i < SAMPLES; i++) {
      if (i > 0) yield* Effect.sleep(Duration.seconds(1))
      const m = yield* readMemory(base.pid)
      rss.push(m.rssBytes)
      peak = m.peakRssBytes
    }
    return {
      label:
        deps === undefined ? "import floor: all runtime dependencies" : `import floor: ${deps.join(", ") || "bare node"}`,
      size: -1,
      cached: "nothing (no operator code runs)",
      rss,
      peak,
      heap: [base.heapUsedBytes],
      load: loadAverage(),
      note: `node with ${base.modules.join(", ")} imported`
    }
  })
)

/** A new operator process on `namespace`: wait for its first pass over `size` instances, then sample. */
const freshProcess = (
  ctx: BenchContext,
  namespace: string,
  size: number,
  auth?: OperatorAuth
): Effect.Effect<MemoryRow, BenchError> =>
  Effect.scoped(
    Effect.gen(function* () {
      const how = auth ?? (yield* operatorAuth(ctx))
      yield* progress(`memory: operator process (${describeAuth(how)}) on ${size} converged instances in ${namespace}`)
      const op = yield* spawnOperator(ctx, { namespace, auth: how })
      const ready = yield* pollUntil(
        "/readyz",
        Effect.zipRight(op.alive, Effect.map(probeGet(op.port, "/readyz"), (r) => (r.status === 200 ? r : undefined))),
        { interval: Duration.millis(50), timeout: Duration.minutes(3) }
      )
      const pass = yield* pollUntil("the first pass", Effect.zipRight(op.alive, passDone(op.metricsPort, size)), {
        interval: Duration.millis(200),
        timeout: maxWait
      })
      yield* waitSettled(op.metricsPort, size)
      return yield* sample(
        op,
        size,
        `${describeAuth(how)}; readyz ${seconds(ready.at - op.spawnedAt)} and first pass done ${seconds(pass.at - op.spawnedAt)} after spawn`
      )
    })
  )

const CHUNK = 1000

/**
 * Grows `namespace` from `from` towards `to` converged instances in chunks of CHUNK: the harness
 * creates each chunk (carrying the finalizer, as if the operator had added it), while the operator
 * runs in-process with its Event creates stubbed out, and converges it. Events are not cached, so
 * the state a later process caches is what the operator itself would have left. A chunk starts
 * only if the budget left covers it (judged by the previous chunk); returns the size reached.
 */
const grow = (
  ctx: BenchContext,
  namespace: string,
  from: number,
  to: number,
  budgetEnd: number
): Effect.Effect<number, BenchError> =>
  Effect.gen(function* () {
    const start = now()
    const log = new WriteLog()
    let reached = from
    yield* withInProcessOperator(
      ctx,
      { namespace, config: { maxConcurrentReconciles: ctx.options.createConcurrency }, log, stubEvents: true },
      (port) =>
        Effect.gen(function* () {
          let lastChunkMs = 0
          while (reached < to) {
            const left = budgetEnd - now()
            if (left < Math.max(30_000, lastChunkMs * 1.25)) break
            const next = Math.min(to, reached + CHUNK)
            const chunkStart = now()
            log.expectStatuses(next - from)
            yield* createInstances(ctx.api, namespace, reached, next, ctx.options.createConcurrency, { withFinalizer: true })
            yield* pollUntil(`statuses of instances up to ${next}`, Effect.sync(() => log.statusTargetReachedAt), {
              interval: Duration.millis(200),
              // A chunk that started in time may finish a little late rather than be thrown away.
              timeout: Duration.millis(Math.max(1000, budgetEnd - now()) + 60_000)
            })
            lastChunkMs = now() - chunkStart
            reached = next
            yield* progress(`memory: ${reached} instances converged (${seconds(lastChunkMs)} for the last ${CHUNK})`)
          }
          yield* waitSettled(port, reached, { timeout: Duration.minutes(2) })
        })
    )
    const c = yield* convergence(ctx.api, namespace)
    yield* progress(`memory: ${describeConvergence(c)} after ${seconds(now() - start)}`)
    if (!isConverged(c, reached)) {
      return yield* new BenchError({ message: `growth left ${namespace} unconverged: ${describeConvergence(c)}` })
    }
    return reached
  })

export const memoryBench = (ctx: BenchContext): Effect.Effect<void, BenchError> =>
  Effect.scoped(
    Effect.gen(function* () {
      const sizes = ctx.options.sizes
      const first = sizes[0] ?? 1000
      const namespace = yield* convergedNamespace(ctx, first)
      const floors = yield* Effect.forEach([[], ...runtimeDependencies().map((d) => [d]), undefined], (deps) =>
        dependencyBaseline(deps)
      )
      const empty = yield* gatedNamespace(ctx.target, ctx.scope, "bench-idle")
      const idle = yield* freshProcess(ctx, empty, 0)
      const idleKubeconfig = yield* freshProcess(ctx, empty, 0, kubeconfigAuth)
      const rows: Array<MemoryRow> = [
        ...floors,
        { ...idle, label: "idle operator, 0 objects" },
        { ...idleKubeconfig, label: "idle operator, 0 objects, --kubeconfig" },
        yield* freshProcess(ctx, namespace, first)
      ]
      const notes: Array<string> = []
      let reached = first
      for (const size of sizes.slice(1)) {
        // Leave time for the fresh process on the grown namespace and the end of the run.
        const budgetEnd = ctx.deadline - 60_000
        if (budgetEnd - now() < 30_000) {
          notes.push(`Not grown to ${size}: the run's ${ctx.options.maxMinutes}-minute budget (--max-minutes) was used up.`)
          break
        }
        yield* progress(`memory: growing ${namespace} from ${reached} to ${size} (budget ${seconds(budgetEnd - now())})`)
        const outcome = yield* Effect.either(grow(ctx, namespace, reached, size, budgetEnd))
        if (outcome._tag === "Left") {
          notes.push(`Growing to ${size} failed, so it was not measured: ${outcome.left.message}`)
          break
        }
        const grown = outcome.right
        if (grown > reached) {
          reached = grown
          ctx.converged = { namespace, count: reached }
          rows.push(yield* freshProcess(ctx, namespace, reached))
        }
        if (grown < size) {
          notes.push(
            `Only ${grown} of ${size} instances could be created and converged within the run's ${ctx.options.maxMinutes}-minute budget (--max-minutes) on this machine; the ${size} figure was not measured.`
          )
          break
        }
      }

      yield* printTable({
        title: "3. Operator process memory with 1k and 10k instances cached",
        caption: [
          "Method: the operator runs as its own process (`node dist/src/cli/main.js run --watch-namespace <ns>`, compiled with tsconfig.build.json; no --expose-gc, so no forced GC), so the harness's memory is not counted. A new process is started for each size.",
          `Its caches hold the instances plus the HelmRelease and HelmRepository the operator created for each (the namespace is fully converged), and the one Namespace. After its first pass, once idle (queue drained, reconcile count steady), RSS (VmRSS, /proc/<pid>/status) and heap used (its \`nodejs_heap_size_used_bytes\`) are sampled ${SAMPLES} times 1 s apart; peak is VmHWM over the process's life (the initial lists included).`,
          "The import-floor rows are Node.js with nothing, one runtime dependency alone, or all of them imported (each in its own process): where the floor under every other row goes. The idle row is the operator process on an empty namespace.",
          "The operator processes authenticate as in a Pod (a ServiceAccount token and the CA in /var/run/secrets/kubernetes.io/serviceaccount inside a private mount namespace, KUBERNETES_SERVICE_HOST/PORT; no @kubernetes/client-node) unless `--auth kubeconfig`; the idle row is measured both ways (the note says which).",
          `Growing to the larger sizes (in chunks of ${CHUNK}, while the budget lasts): the harness creates the extra instances carrying the finalizer, and the operator converges them in-process with its Event creates stubbed out (four writes per instance instead of nine; Events are not cached, so what the measured process caches is what the operator would have left).`
        ],
        columns: ["instances", "cached", "RSS median (min–max)", "peak RSS", "heap used median", "target", "load avg 1/5/15", "note"],
        rows: rows.map((r) => {
          const target = targets[r.size]
          const rss = median(r.rss)
          return [
            r.label,
            r.cached,
            `${mib(rss)} (${mib(Math.min(...r.rss))}–${mib(Math.max(...r.rss))})`,
            mib(r.peak),
            r.heap.length > 0 ? mib(median(r.heap)) : "n/a",
            target === undefined ? "" : `≤ ${mib(target)} — ${verdict(rss <= target)}`,
            r.load,
            r.note
          ]
        }),
        notes
      })
    })
  ).pipe(Effect.catchAllDefect((d) => Effect.fail(new BenchError({ message: `memory: ${describeError(d)}` }))))
