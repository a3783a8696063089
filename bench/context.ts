/**
 * What every benchmark gets: the options, the cluster, the harness's own API client, the time
 * budget, and the operator run in-process (for benchmarks that count its writes).
 */
import { Duration, Effect, Layer, type Scope } from "effect"
import { type OperatorConfigShape, operatorConfigLayer } from "../src/config.js"
import type { ApiTarget } from "../src/devcluster/index.js"
import { KubeApi, type KubeApiService } from "../src/kube/KubeApi.js"
import { Resources } from "../src/kube/resources.js"
import { KubeApiLive } from "../src/kube/KubeApiLive.js"
import { Metrics } from "../src/observability/metrics.js"
import { startOperator } from "../src/operator.js"
import { countingKubeApi, WriteLog } from "./countingKubeApi.js"
import type { ClusterPids } from "./cpu.js"
import type { Figures } from "./figures.js"
import { convergence, createInstances, describeConvergence, gatedNamespace, isConverged, maxWait } from "./fixtures.js"
import type { BenchOptions } from "./options.js"
import { BenchError, type OperatorProgress, pollUntil, tryProgress } from "./probe.js"
import { progress } from "./report.js"

export interface BenchContext {
  readonly options: BenchOptions
  readonly kubeconfigPath: string
  readonly target: ApiTarget
  /** The harness's client (plays the control plane); never the one under measurement. */
  readonly api: KubeApiService
  /** The run's scope: namespaces live in it, so later benchmarks can reuse them. */
  readonly scope: Scope.Scope
  /** The API server's and etcd's PIDs when the run started them; for CPU accounting. */
  readonly clusterPids: ClusterPids | undefined
  /** Clock ticks per second of /proc times; undefined when unknown. */
  readonly clockTicks: number | undefined
  /** `now()` after which the run should stop growing anything. */
  readonly deadline: number
  /** A namespace whose instances the operator has fully converged, shared between benchmarks. */
  converged: { readonly namespace: string; readonly count: number } | undefined
  /** The issue-9 figures the benchmarks measured, printed as one table at the end. */
  readonly figures: Figures
}

export const describeError = (e: unknown): string =>
  typeof e === "object" && e !== null && "_tag" in e && "message" in e
    ? `${String(e._tag)}: ${String(e.message)}`
    : String(e)

/** A fresh live client (its own connection pool) over the run's kubeconfig. */
export const liveKubeApi = (kubeconfigPath: string): Layer.Layer<KubeApi, BenchError> =>
  KubeApiLive.fromKubeconfigFile(kubeconfigPath).pipe(
    Layer.mapError((e) => new BenchError({ message: `kubeconfig: ${e.message}` }))
  )

/** A `KubeApi` whose Event creates succeed without reaching the API server. */
const eventsStubbed: Layer.Layer<KubeApi, never, KubeApi> = Layer.effect(
  KubeApi,
  Effect.map(
    KubeApi,
    (live): KubeApiService => ({
      ...live,
      create: (type, object) =>
        type.group === Resources.Event.group && type.kind === Resources.Event.kind ? Effect.succeed(object) : live.create(type, object)
    })
  )
)

/** The operator's client: counted, over a fresh live client; Events stubbed when seeding. */
const operatorKubeApi = (ctx: BenchContext, log: WriteLog, stubEvents: boolean): Layer.Layer<KubeApi, BenchError> => {
  const counted = countingKubeApi(log).pipe(Layer.provide(liveKubeApi(ctx.kubeconfigPath)))
  return stubEvents ? eventsStubbed.pipe(Layer.provide(counted)) : counted
}

/**
 * Runs `body` while the real operator program runs in this process against `namespace`, with
 * every write it issues counted in `log`. `body` gets the port of the operator's (plain HTTP) /metrics.
 * The operator stops when `body` ends; a failing operator fails the run.
 */
export const withInProcessOperator = <A, E>(
  ctx: BenchContext,
  options: {
    readonly namespace: string
    readonly config: Partial<OperatorConfigShape>
    readonly log: WriteLog
    /** Answer Event creates without sending them (only to seed state faster, never when measuring). */
    readonly stubEvents?: boolean
  },
  body: (port: number) => Effect.Effect<A, E>
): Effect.Effect<A, E | BenchError> =>
  Effect.scoped(
    Effect.gen(function* () {
      const manager = yield* startOperator({
        healthProbe: { host: "127.0.0.1", port: 0 },
        metrics: { address: { host: "127.0.0.1", port: 0 }, secure: false },
        watchNamespace: options.namespace
      }).pipe(
        Effect.mapError((e) => new BenchError({ message: `operator did not start: ${describeError(e)}` }))
      )
      const failed = manager.wait.pipe(
        Effect.mapError((e) => new BenchError({ message: `operator stopped: ${describeError(e)}` }))
      )
      return yield* Effect.raceFirst(body(manager.metrics?.port ?? 0), failed)
    })
  ).pipe(
    Effect.provide(
      Layer.mergeAll(
        operatorConfigLayer({ maxConcurrentReconciles: ctx.options.workers, ...options.config }),
        Metrics.test,
        operatorKubeApi(ctx, options.log, options.stubEvents ?? false)
      )
    )
  )

/**
 * Waits until the operator is idle: nothing queued, no worker busy, at least `minReconciles`
 * reconciles, and the reconcile count unchanged since the previous scrape `interval` earlier.
 */
export const waitSettled = (
  port: number,
  minReconciles: number,
  options: { readonly interval?: Duration.DurationInput; readonly timeout?: Duration.DurationInput } = {}
): Effect.Effect<{ readonly value: OperatorProgress; readonly at: number }, BenchError> =>
  Effect.suspend(() => {
    let previous = -1
    return pollUntil(
      `operator on port ${port} to settle after ${minReconciles} reconciles`,
      Effect.map(tryProgress(port), (p) => {
        if (p === undefined) return undefined
        const idle = p.depth === 0 && p.activeWorkers === 0 && p.reconciles >= minReconciles && p.reconciles === previous
        previous = p.reconciles
        return idle ? p : undefined
      }),
      { interval: options.interval ?? Duration.millis(500), timeout: options.timeout ?? maxWait }
    )
  })

/**
 * A namespace with `count` managed instances that the operator has converged (HelmRelease,
 * HelmRepository and status for each). Reused when an earlier benchmark left one of that size.
 */
export const convergedNamespace = (ctx: BenchContext, count: number): Effect.Effect<string, BenchError> =>
  Effect.gen(function* () {
    if (ctx.converged !== undefined && ctx.converged.count === count) return ctx.converged.namespace
    const namespace = yield* gatedNamespace(ctx.target, ctx.scope, "bench-converged")
    yield* progress(`creating ${count} instances in ${namespace}`)
    yield* createInstances(ctx.api, namespace, 0, count, ctx.options.createConcurrency)
    yield* progress(`converging ${namespace} with the in-process operator`)
    const log = new WriteLog()
    log.expectStatuses(count)
    yield* withInProcessOperator(ctx, { namespace, config: {}, log }, (port) =>
      pollUntil(`${count} instance statuses`, Effect.sync(() => log.statusTargetReachedAt), {
        interval: Duration.millis(100),
        timeout: maxWait
      }).pipe(Effect.zipRight(waitSettled(port, count)))
    )
    const c = yield* convergence(ctx.api, namespace)
    if (!isConverged(c, count)) {
      return yield* new BenchError({ message: `${namespace} did not converge: ${describeConvergence(c)}` })
    }
    ctx.converged = { namespace, count }
    return namespace
  })
