/**
 * Throughput: the operator materialising N managed instances, against a plain client making the
 * same writes with the same concurrency, on the same API server in the same run.
 */
import { Duration, Effect, Layer, Schema } from "effect"
import { ApplicationInstance } from "../src/api/applicationInstance.js"
import { formatConditionTime } from "../src/api/conditions.js"
import { FieldManagers, Finalizers } from "../src/api/wellKnown.js"
import { desiredRelease } from "../src/helm/desiredRelease.js"
import type { KubeApiService } from "../src/kube/KubeApi.js"
import { KubeApi } from "../src/kube/KubeApi.js"
import type { KubeObject } from "../src/kube/object.js"
import { Resources } from "../src/kube/resources.js"
import { withKubeRetry } from "../src/kube/retry.js"
import { type BenchContext, describeError, liveKubeApi, waitSettled, withInProcessOperator } from "./context.js"
import { countingKubeApi, describeWrites, sumWrites, WriteLog } from "./countingKubeApi.js"
import { cpuSnapshot, describeCpu } from "./cpu.js"
import {
  convergence,
  createInstances,
  describeConvergence,
  gatedNamespace,
  isConverged,
  maxWait
} from "./fixtures.js"
import { BenchError, pollUntil } from "./probe.js"
import { loadAverage, now, printTable, progress, ratio, seconds, verdict } from "./report.js"

const TARGET_RATIO = 1.1

/** The minimal write set of issue 9: finalizer, source, HelmRelease, status and one Event. */
const minimal: ExtraWrites = { finalizer: true, events: 1 }

const decodeInstance = Schema.decodeUnknown(ApplicationInstance)

/** What a plain client writes per instance, beyond the brief's three writes. */
interface ExtraWrites {
  /** The finalizer merge-patch the operator makes before anything else. */
  readonly finalizer: boolean
  /** Event creates per instance (the operator announces each condition of a first status). */
  readonly events: number
}

const statusFor = (ai: typeof ApplicationInstance.Type, at: string) => {
  const gen = ai.metadata.generation
  const c = (type: string, status: string, reason: string, message: string) => ({
    type,
    status,
    reason,
    message,
    lastTransitionTime: at,
    observedGeneration: gen
  })
  return {
    observedGeneration: gen,
    helmReleaseRef: { name: ai.spec?.release?.name, namespace: ai.metadata.namespace },
    lastAppliedChart: ai.spec?.chart,
    conditions: [
      c("Reconciling", "True", "HelmReleaseInstalling", "Waiting for helm-controller to install the release"),
      c("Degraded", "False", "Recovered", "HelmRelease is not degraded"),
      c("Ready", "Unknown", "Reconciling", "HelmRelease has not been reconciled by helm-controller yet"),
      c("Blocked", "False", "Unblocked", "Reconciliation can proceed"),
      c("Suspended", "False", "Active", "Reconciliation is active")
    ],
    lastReconcileTime: at
  }
}

const eventFor = (ai: KubeObject, i: number, at: string): KubeObject => ({
  apiVersion: "v1",
  kind: "Event",
  metadata: { generateName: `${ai.metadata.name ?? "object"}.`, namespace: ai.metadata.namespace },
  involvedObject: {
    apiVersion: ai.apiVersion,
    kind: ai.kind,
    name: ai.metadata.name,
    namespace: ai.metadata.namespace,
    uid: ai.metadata.uid
  },
  type: "Normal",
  reason: "Stable",
  message: `Condition ${i} changed`,
  source: { component: "vworkspace-bench" },
  reportingComponent: "vworkspace-bench",
  reportingInstance: "vworkspace-bench",
  firstTimestamp: at,
  lastTimestamp: at,
  count: 1
})

/**
 * The plain client: for each instance, in `concurrency` parallel lanes, server-side apply the
 * chart source and the HelmRelease the operator would build, then apply the instance's status;
 * with `extra`, also the finalizer patch first and the Event creates last. The applies are
 * idempotent, so a transient failure is retried (`withKubeRetry`); the memory benchmark seeds its
 * larger sizes with it.
 */
export const plainClient = (
  api: KubeApiService,
  instances: ReadonlyArray<KubeObject>,
  concurrency: number,
  extra: ExtraWrites | undefined
): Effect.Effect<void, BenchError> => {
  const apply = { fieldManager: FieldManagers.operator, force: true } as const
  const fail = (what: string) => (e: { readonly _tag: string; readonly message: string }) =>
    new BenchError({ message: `plain client ${what}: ${e._tag}: ${e.message}` })
  return Effect.forEach(
    instances,
    (object) =>
      Effect.gen(function* () {
        const ai = yield* decodeInstance(object).pipe(Effect.mapError((e) => new BenchError({ message: e.message })))
        const key = `${object.metadata.namespace}/${object.metadata.name}`
        if (extra?.finalizer) {
          yield* api
            .patch(Resources.ApplicationInstance, object.metadata.name ?? "", object.metadata.namespace, "merge", {
              metadata: { resourceVersion: object.metadata.resourceVersion, finalizers: [Finalizers.applicationInstance] }
            })
            .pipe(Effect.mapError(fail(`finalizer ${key}`)))
        }
        const desired = desiredRelease(ai)
        yield* withKubeRetry(api.apply(Resources.HelmRepository, desired.source, apply)).pipe(Effect.mapError(fail(`source ${key}`)))
        yield* withKubeRetry(api.apply(Resources.HelmRelease, desired.helmRelease, apply)).pipe(Effect.mapError(fail(`release ${key}`)))
        const at = formatConditionTime(new Date())
        yield* withKubeRetry(
          api.applyStatus(
            Resources.ApplicationInstance,
            {
              apiVersion: object.apiVersion,
              kind: object.kind,
              metadata: { name: object.metadata.name, namespace: object.metadata.namespace },
              status: statusFor(ai, at)
            },
            apply
          )
        ).pipe(Effect.mapError(fail(`status ${key}`)))
        for (let i = 0; i < (extra?.events ?? 0); i++) {
          yield* api.create(Resources.Event, eventFor(object, i, at)).pipe(Effect.mapError(fail(`event ${key}`)))
        }
      }),
    { concurrency, discard: true }
  )
}

/** Times the plain client over `instances` through a fresh, counting live client. */
const timePlainClient = (
  ctx: BenchContext,
  instances: ReadonlyArray<KubeObject>,
  extra: ExtraWrites | undefined
): Effect.Effect<{ readonly ms: number; readonly log: WriteLog; readonly cpu: string }, BenchError> => {
  const log = new WriteLog()
  return Effect.gen(function* () {
    const api = yield* KubeApi
    const cpuBefore = cpuSnapshot(ctx.clusterPids, ctx.clockTicks)
    const start = now()
    yield* plainClient(api, instances, ctx.options.workers, extra)
    const ms = now() - start
    return { ms, log, cpu: describeCpu(cpuBefore, cpuSnapshot(ctx.clusterPids, ctx.clockTicks)) }
  }).pipe(
    Effect.provide(countingKubeApi(log).pipe(Layer.provide(liveKubeApi(ctx.kubeconfigPath)))),
  )
}

export const throughputBench = (ctx: BenchContext): Effect.Effect<void, BenchError> =>
  Effect.scoped(
    Effect.gen(function* () {
      const n = ctx.options.count
      const workers = ctx.options.workers
      const [nsPlain, nsOperator, nsFull] = yield* Effect.all([
        gatedNamespace(ctx.target, ctx.scope, "bench-plain"),
        gatedNamespace(ctx.target, ctx.scope, "bench-operator"),
        gatedNamespace(ctx.target, ctx.scope, "bench-plain-full")
      ])
      yield* progress(`throughput: creating ${n} instances in each of ${nsPlain}, ${nsOperator}, ${nsFull}`)
      const createStart = now()
      const plainInstances = yield* createInstances(ctx.api, nsPlain, 0, n, ctx.options.createConcurrency)
      const createMs = now() - createStart
      yield* createInstances(ctx.api, nsOperator, 0, n, ctx.options.createConcurrency)
      const fullInstances = yield* createInstances(ctx.api, nsFull, 0, n, ctx.options.createConcurrency)

      yield* progress(`throughput: plain client, the minimal write set (5 writes per instance), concurrency ${workers}`)
      const plain = yield* timePlainClient(ctx, plainInstances, minimal)
      const plainLoad = loadAverage()

      yield* progress(`throughput: operator (in-process, maxConcurrentReconciles ${workers}) on ${nsOperator}`)
      const opLog = new WriteLog()
      opLog.expectStatuses(n)
      const opCpuBefore = cpuSnapshot(ctx.clusterPids, ctx.clockTicks)
      const opStart = now()
      const op = yield* withInProcessOperator(ctx, { namespace: nsOperator, config: {}, log: opLog }, (port) =>
        Effect.gen(function* () {
          const reached = yield* pollUntil(`${n} instance statuses`, Effect.sync(() => opLog.statusTargetReachedAt), {
            interval: Duration.millis(50),
            timeout: maxWait
          })
          const writesAtTarget = opLog.snapshot()
          const cpu = describeCpu(opCpuBefore, cpuSnapshot(ctx.clusterPids, ctx.clockTicks))
          const load = loadAverage()
          const settled = yield* waitSettled(port, n)
          return {
            ms: reached.value - opStart,
            writesAtTarget,
            cpu,
            load,
            reconciles: settled.value.reconciles,
            errors: settled.value.reconcileErrors
          }
        })
      )
      const opWritesSettled = opLog.snapshot()
      const opConvergence = yield* convergence(ctx.api, nsOperator)
      if (!isConverged(opConvergence, n)) {
        return yield* new BenchError({ message: `operator did not converge ${nsOperator}: ${describeConvergence(opConvergence)}` })
      }
      ctx.converged = { namespace: nsOperator, count: n }

      const eventCreates = op.writesAtTarget.get("create Event")?.issued ?? 0
      const extra: ExtraWrites = {
        finalizer: (op.writesAtTarget.get("patch ApplicationInstance")?.issued ?? 0) > 0,
        events: Math.round(eventCreates / n)
      }
      yield* progress(
        `throughput: plain client with the operator's write set (finalizer ${extra.finalizer}, ${extra.events} Events per instance)`
      )
      const full = yield* timePlainClient(ctx, fullInstances, extra)
      const fullLoad = loadAverage()
      const plainConvergence = yield* convergence(ctx.api, nsPlain)
      if (plainConvergence.helmReleases !== n || plainConvergence.withStatus !== n) {
        return yield* new BenchError({ message: `plain client left ${nsPlain} incomplete: ${describeConvergence(plainConvergence)}` })
      }

      const r = op.ms / plain.ms
      const ratioTarget = `≤ ${TARGET_RATIO}× — ${verdict(r <= TARGET_RATIO)}`
      ctx.figures.record("ratio", {
        value: `${ratio(r)} (operator ${seconds(op.ms)}, plain client ${seconds(plain.ms)}, concurrency ${workers}, one run)`,
        target: ratioTarget,
        load: op.load
      })
      const perAi = (writes: number) => (writes / n).toFixed(2)
      const plainWrites = sumWrites(plain.log.snapshot())
      const opWrites = sumWrites(op.writesAtTarget)
      const fullWrites = sumWrites(full.log.snapshot())
      yield* printTable({
        title: `1. Throughput: ${n} managed instances, operator vs plain client`,
        caption: [
          `Method: three gated namespaces get the same ${n} managed helm-source ApplicationInstances first (created by the harness; ${seconds(createMs)} for one namespace, ${(n / (createMs / 1000)).toFixed(0)} creates/s at concurrency ${ctx.options.createConcurrency}).`,
          `Plain client (the baseline): a fresh live KubeApi, ${workers} concurrent lanes; per instance the minimal write set: the finalizer merge-patch, server-side apply of the HelmRepository and HelmRelease the operator would build (src/helm/desiredRelease), an equivalent status to /status, and one Event. Timed from the first to the last write.`,
          `Operator: \`startOperator({watchNamespace})\` in this process (maxConcurrentReconciles ${workers}, a counting KubeApi Layer around a fresh live client), started after the instances exist. Timed from the start call (informer lists and cache sync included) to the moment the ${n}th distinct instance's status write succeeded (the reconciler writes status only after source and HelmRelease). Converged state checked afterwards through the API.`,
          `The operator may make more writes than the minimal set (an Event per changed condition); the third row is a plain client making the operator's own write set, to show where the ratio comes from. Ratios come from this single run.`,
          "\"CPU used meanwhile\" is CPU time during the timed segment: this process (the plain client, or the in-process operator: informers, queue, reconciles) and the API server and etcd the run started. They share the machine's cores, so the operator's own CPU slows the API server it waits on."
        ],
        columns: [
          "run",
          "writes issued (per instance)",
          "write breakdown",
          "time",
          "instances/s",
          "ratio",
          "target",
          "CPU used meanwhile",
          "load avg 1/5/15"
        ],
        rows: [
          [
            "plain client, minimal write set: finalizer patch + SSA HelmRepository + SSA HelmRelease + status + 1 Event",
            `${plainWrites} (${perAi(plainWrites)})`,
            describeWrites(plain.log.snapshot()),
            seconds(plain.ms),
            (n / (plain.ms / 1000)).toFixed(1),
            "1.00× (baseline)",
            "",
            plain.cpu,
            plainLoad
          ],
          [
            "operator (in-process) until every instance has its first status",
            `${opWrites} (${perAi(opWrites)})`,
            describeWrites(op.writesAtTarget),
            seconds(op.ms),
            (n / (op.ms / 1000)).toFixed(1),
            ratio(r),
            ratioTarget,
            op.cpu,
            op.load
          ],
          [
            "plain client with the operator's write set",
            `${fullWrites} (${perAi(fullWrites)})`,
            describeWrites(full.log.snapshot()),
            seconds(full.ms),
            (n / (full.ms / 1000)).toFixed(1),
            `${ratio(full.ms / plain.ms)} (operator / this: ${ratio(op.ms / full.ms)})`,
            "",
            full.cpu,
            fullLoad
          ]
        ],
        notes: [
          `Operator after settling (queue drained): ${op.reconciles} reconciles (${op.errors} errors), ${sumWrites(opWritesSettled)} writes in all; ${describeConvergence(opConvergence)}.`
        ]
      })
    })
  ).pipe(Effect.catchAllDefect((d) => Effect.fail(new BenchError({ message: `throughput: ${describeError(d)}` }))))
