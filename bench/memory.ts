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
import { describeWrites, sumWrites, WriteLog } from "./countingKubeApi.js"
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
import { FIRST_PASS_TARGET_SECONDS } from "./startup.js"
import { plainClient } from "./throughput.js"

/** The targets of issue 9, by cache size (0: the idle operator). */
const targets: Readonly<Record<number, number>> = { 0: 110 * 1024 * 1024, 1000: 150 * 1024 * 1024, 10000: 350 * 1024 * 1024 }

const SAMPLES = 5
const AI = "applicationinstances.apps.vworkspace.io"
const HR = "helmreleases.helm.toolkit.fluxcd.io"
const REPO = "helmrepositories.source.toolkit.fluxcd.io"

export interface MemoryRow {
  readonly label: string
  readonly size: number
  readonly cached: string
  readonly rss: ReadonlyArray<number>
  readonly peak: number
  readonly heap: ReadonlyArray<number>
  /** The young generation reserved, per sample (operator processes only). */
  readonly newSpace: ReadonlyArray<number>
  readonly load: string
  readonly note: string
  /** From spawn to the end of the first pass, for an operator process. */
  readonly passMs?: number
}

export const median = (xs: ReadonlyArray<number>): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)] ?? NaN
}

/** `SAMPLES` readings one second apart, once the process is idle. */
const sample = (op: OperatorProcess, size: number, note: string): Effect.Effect<MemoryRow, BenchError> =>
  Effect.gen(function* () {
    const rss: Array<number> = []
    const heap: Array<number> = []
    const newSpace: Array<number> = []
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
      if (p.newSpaceBytes !== undefined) newSpace.push(p.newSpaceBytes)
      errors = p.reconcileErrors
      cached = `${p.cached[AI] ?? 0} AIs + ${p.cached[HR] ?? 0} HelmReleases + ${p.cached[REPO] ?? 0} HelmRepositories`
    }
    const withErrors = errors > 0 ? `${note}; ${errors} reconcile errors (not a healthy run)` : note
    return { label: String(size), size, cached, rss, peak, heap, newSpace, load: loadAverage(), note: withErrors }
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
      newSpace: [],
      load: loadAverage(),
      note: `node with ${base.modules.join(", ")} imported`
    }
  })
)

/** A new operator process on `namespace`: wait for its first pass over `size` instances, then sample. */
export const freshProcess = (
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
      const row = yield* sample(
        op,
        size,
        `${describeAuth(how)}; readyz ${seconds(ready.at - op.spawnedAt)} and first pass done ${seconds(pass.at - op.spawnedAt)} after spawn`
      )
      return { ...row, passMs: pass.at - op.spawnedAt }
    })
  )

const CHUNK = 1000

/**
 * Grows `namespace` from `from` towards `to` converged instances in chunks of CHUNK, as a plain
 * client with `--seed-concurrency` lanes: each chunk is created carrying the finalizer (as if the
 * operator had added it), then the HelmRepository, HelmRelease and status the operator would write
 * are applied (throughput's `plainClient`, no Events: they are not cached). A chunk starts only if
 * the budget left covers it (judged by the previous chunk). Then the operator runs in-process over
 * the namespace (Event creates stubbed out) until it settles, so the state a later process caches
 * is the operator's own; its writes there are counted, and few means the seeding matched it.
 * Returns the size reached and what the growth cost.
 */
const grow = (
  ctx: BenchContext,
  namespace: string,
  from: number,
  to: number,
  budgetEnd: number
): Effect.Effect<{ readonly reached: number; readonly note: string }, BenchError> =>
  Effect.gen(function* () {
    const start = now()
    const lanes = ctx.options.seedConcurrency
    let reached = from
    let lastChunkMs = 0
    while (reached < to) {
      const left = budgetEnd - now()
      if (left < Math.max(30_000, lastChunkMs * 1.25)) break
      const next = Math.min(to, reached + CHUNK)
      const chunkStart = now()
      const created = yield* createInstances(ctx.api, namespace, reached, next, lanes, { withFinalizer: true })
      yield* plainClient(ctx.api, created, lanes, undefined)
      lastChunkMs = now() - chunkStart
      reached = next
      yield* progress(`memory: ${reached} instances seeded (${seconds(lastChunkMs)} for the last ${CHUNK}, ${lanes} lanes)`)
    }
    const seededMs = now() - start
    const log = new WriteLog()
    const settleStart = now()
    yield* withInProcessOperator(
      ctx,
      { namespace, config: { maxConcurrentReconciles: lanes }, log, stubEvents: true },
      (port) => waitSettled(port, reached, { timeout: maxWait })
    )
    const writes = sumWrites(log.snapshot())
    const c = yield* convergence(ctx.api, namespace)
    yield* progress(`memory: ${describeConvergence(c)} after ${seconds(now() - start)}`)
    if (!isConverged(c, reached)) {
      return yield* new BenchError({ message: `growth left ${namespace} unconverged: ${describeConvergence(c)}` })
    }
    return {
      reached,
      note: `Seeding ${reached - from} instances (${4 * (reached - from)} writes, ${lanes} lanes) took ${seconds(seededMs)}; the in-process operator's pass over all ${reached} then took ${seconds(now() - settleStart)} and wrote ${writes} times (${describeWrites(log.snapshot()) || "nothing"}).`
    }
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
        const grown = outcome.right.reached
        notes.push(outcome.right.note)
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

      const rssCells = (r: MemoryRow) => {
        const target = targets[r.size]
        const rss = median(r.rss)
        return {
          value: `${mib(rss)} (${mib(Math.min(...r.rss))}–${mib(Math.max(...r.rss))})`,
          target: target === undefined ? "" : `≤ ${mib(target)} — ${verdict(rss <= target)}`
        }
      }
      const [idleRow, idleKubeconfigRow] = [rows[floors.length], rows[floors.length + 1]]
      for (const r of floors) ctx.figures.floor(r.label, { ...rssCells(r), load: r.load })
      if (idleRow !== undefined) ctx.figures.record("idle", { ...rssCells(idleRow), load: idleRow.load })
      if (idleKubeconfigRow !== undefined) ctx.figures.record("idleKubeconfig", { ...rssCells(idleKubeconfigRow), load: idleKubeconfigRow.load })
      for (const r of rows.slice(floors.length + 2)) {
        if (r.size === 1000) ctx.figures.record("cached1k", { ...rssCells(r), load: r.load })
        if (r.size === 10000) {
          ctx.figures.record("cached10k", { ...rssCells(r), load: r.load })
          const passMs = r.passMs ?? NaN
          ctx.figures.record("firstPass10k", {
            value: `${seconds(passMs)} from spawn (${r.cached})`,
            target: `< ${FIRST_PASS_TARGET_SECONDS} s — ${verdict(passMs < FIRST_PASS_TARGET_SECONDS * 1000)}`,
            load: r.load
          })
        }
      }

      yield* printTable({
        title: "3. Operator process memory with 1k and 10k instances cached",
        caption: [
          "Method: the operator runs as its own process (`node dist/src/cli/main.js run --watch-namespace <ns>`, built with `npm run build`; no --expose-gc, so no forced GC), so the harness's memory is not counted. A new process is started for each size.",
          `Its caches hold the instances plus the HelmRelease and HelmRepository the operator created for each (the namespace is fully converged), and the one Namespace. After its first pass, once idle (queue drained, reconcile count steady), RSS (VmRSS, /proc/<pid>/status) and heap used and the young generation reserved (its \`nodejs_heap_size_used_bytes\` and \`nodejs_heap_space_size_total_bytes{space="new"}\`) are sampled ${SAMPLES} times 1 s apart; peak is VmHWM over the process's life (the initial lists included).`,
          "The import-floor rows are Node.js with nothing, one runtime dependency alone, or all of them imported (each in its own process): where the floor under every other row goes. The idle row is the operator process on an empty namespace.",
          "The operator processes authenticate as in a Pod (a ServiceAccount token and the CA in /var/run/secrets/kubernetes.io/serviceaccount inside a private mount namespace, KUBERNETES_SERVICE_HOST/PORT; no @kubernetes/client-node) unless `--auth kubeconfig`; the idle row is measured both ways (the note says which).",
          `Growing to the larger sizes (in chunks of ${CHUNK}, while the budget lasts): a plain client with ${ctx.options.seedConcurrency} lanes creates the extra instances carrying the finalizer and applies the HelmRepository, HelmRelease and status the operator would write (four writes per instance; no Events, which are not cached). The operator then runs in-process over the namespace (Event creates stubbed out) until it settles, so what the measured process caches is the operator's own state; the notes say how long that took and what it wrote.`
        ],
        columns: ["instances", "cached", "RSS median (min–max)", "peak RSS", "heap used median", "young generation reserved", "target", "load avg 1/5/15", "note"],
        rows: rows.map((r) => {
          const cells = rssCells(r)
          return [
            r.label,
            r.cached,
            cells.value,
            mib(r.peak),
            r.heap.length > 0 ? mib(median(r.heap)) : "n/a",
            r.newSpace.length > 0 ? mib(median(r.newSpace)) : "n/a",
            cells.target,
            r.load,
            r.note
          ]
        }),
        notes
      })
    })
  ).pipe(Effect.catchAllDefect((d) => Effect.fail(new BenchError({ message: `memory: ${describeError(d)}` }))))
