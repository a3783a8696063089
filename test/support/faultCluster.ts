/**
 * What the fault tests share: the operator running in-process behind a loopback TCP proxy, a
 * private cluster for destructive faults (API server restarts, etcd compaction) that the rest of
 * the run never sees, a fleet of ApplicationInstances and the check that all of them converged.
 */
import { KubeConfig } from "@kubernetes/client-node"
import { Context, Duration, Effect, FiberRef, HashSet, Layer, LogLevel, Option, type Scope } from "effect"
import { findCondition } from "../../src/api/conditions.js"
import type { Condition } from "../../src/api/meta.js"
import { operatorConfigLayer } from "../../src/config.js"
import {
  type EtcdRequestFailed,
  type FileError,
  type StartFailed,
  allCrds,
  applyCrds,
  compactEtcd,
  restartApiServer,
  scopedCluster,
  targetFromKubeconfig
} from "../../src/devcluster/index.js"
import type { KubeError } from "../../src/kube/errors.js"
import { KubeApi } from "../../src/kube/KubeApi.js"
import { KubeApiLive } from "../../src/kube/KubeApiLive.js"
import { loadKubeConfigFile } from "../../src/kube/kubeConfig.js"
import type { KubeObject, ResourceType } from "../../src/kube/object.js"
import { Resources } from "../../src/kube/resources.js"
import { withKubeRetry } from "../../src/kube/retry.js"
import { Metrics, type MetricsService, makeMetrics } from "../../src/observability/metrics.js"
import { type OperatorOptions, startOperator } from "../../src/operator.js"
import type { LeaderElectionConfig } from "../../src/runtime/leaderElection.js"
import type { RunningManager } from "../../src/runtime/manager.js"
import { collectLogs, warningCollector } from "./collectedLogs.js"
import { makeTcpProxy } from "./tcpProxy.js"
import { WaitTimedOut, waitFor } from "./wait.js"

export const gated = { "managed-by": "vworkspace" } as const

// --- the operator behind a proxy --------------------------------------------------------------

/** The server URL of a kubeconfig's current cluster. */
const serverOf = (kc: KubeConfig): URL => new URL(kc.getCurrentCluster()?.server ?? "")

/**
 * The kubeconfig at `path` with its current cluster's server replaced by the proxy on
 * `127.0.0.1:<port>`. TLS passes through the proxy, so the server's certificate must be valid
 * for 127.0.0.1 (the harness's is); a server named by DNS keeps its name for verification.
 */
export const proxiedKubeConfig = (path: string, port: number) =>
  Effect.map(loadKubeConfigFile(path), (kc) => {
    const current = kc.getCurrentCluster()
    const original = serverOf(kc)
    const isIp = /^[\d.]+$/.test(original.hostname) || original.hostname.startsWith("[")
    const proxied = new KubeConfig()
    proxied.loadFromOptions({
      clusters: kc.clusters.map((c) =>
        c.name === current?.name
          ? { ...c, server: `https://127.0.0.1:${port}`, ...(isIp ? {} : { tlsServerName: original.hostname }) }
          : c
      ),
      users: kc.users,
      contexts: kc.contexts,
      currentContext: kc.currentContext
    })
    return proxied
  })

/** A proxy to the API server a kubeconfig names (which must be on loopback). */
export const proxyTo = (kubeconfigPath: string) =>
  Effect.flatMap(loadKubeConfigFile(kubeconfigPath), (kc) => {
    const server = serverOf(kc)
    return makeTcpProxy({ host: server.hostname, port: Number(server.port || 443) })
  })

export interface ProxiedOperator {
  readonly manager: RunningManager
  /** This instance's own registry, so two instances in one process are told apart. */
  readonly metrics: MetricsService
  /** This instance's latest warnings and errors (up to 5000), as `LEVEL message`. */
  readonly warnings: ReadonlyArray<string>
}

const debugLogs = process.env["VWORKSPACE_TEST_LOG"] === "debug"

/**
 * The real operator program in-process, limited to `namespace`, talking to the API server only
 * through the proxy on `proxyPort`. The resync period stays at its 10 min default, so nothing but
 * the informers' watches can make it notice a change within a test.
 */
export const startProxiedOperator = (options: {
  readonly kubeconfigPath: string
  readonly proxyPort: number
  readonly namespace: string
  readonly leaderElection?: LeaderElectionConfig
  readonly informer?: OperatorOptions["informer"]
  /** Bound of every non-watch request (and of a watch's first answer). Default 30 s. */
  readonly requestTimeout?: Duration.DurationInput
}): Effect.Effect<ProxiedOperator, unknown, Scope.Scope> =>
  Effect.gen(function* () {
    const kc = yield* proxiedKubeConfig(options.kubeconfigPath, options.proxyPort)
    const metrics = makeMetrics({ processMetrics: false })
    const context = yield* Layer.build(
      Layer.mergeAll(
        KubeApiLive.layer(kc, options.requestTimeout === undefined ? {} : { requestTimeout: options.requestTimeout }),
        operatorConfigLayer(),
        Layer.succeed(Metrics, metrics)
      )
    )
    const warnings: Array<string> = []
    const manager = yield* startOperator({
      healthProbe: { host: "127.0.0.1", port: 0 },
      watchNamespace: options.namespace,
      ...(options.leaderElection ? { leaderElection: options.leaderElection } : {}),
      ...(options.informer ? { informer: options.informer } : {})
    }).pipe(
      Effect.provide(context),
      // Every line, whatever the loggers below show, is collected for the log scan.
      collectLogs(LogLevel.Debug),
      // The operator's fibers are forked in here and keep these loggers. Faults make for many
      // expected warnings: they are kept for assertions and failure messages, and printed only
      // with VWORKSPACE_TEST_LOG=debug.
      Effect.locallyWith(FiberRef.currentLoggers, (loggers) =>
        debugLogs ? HashSet.add(loggers, warningCollector(warnings)) : HashSet.make(warningCollector(warnings))
      )
    )
    return { manager, metrics, warnings }
  })

/** The sum of a metric's samples whose labels include `labels` (0 when it has none yet). */
export const metricValue = (metrics: MetricsService, name: string, labels: Readonly<Record<string, string>> = {}) =>
  Effect.sync(() =>
    metrics.registry
      .values(name)
      .filter((v) => Object.entries(labels).every(([k, want]) => v.labels[k] === want))
      .reduce((sum, v) => sum + v.value, 0)
  )

/** Successful and failed reconciles of the ApplicationInstance controller, all results summed. */
export const reconcileCount = (metrics: MetricsService) =>
  metricValue(metrics, "controller_runtime_reconcile_total", { controller: "applicationinstance" })

// --- a private cluster ------------------------------------------------------------------------

export interface PrivateClusterService {
  readonly kubeconfigPath: string
  /** Kills or stops kube-apiserver and starts it again on the same etcd, port and certificates. */
  readonly restartApiServer: (options?: Parameters<typeof restartApiServer>[1]) => Effect.Effect<void, StartFailed | FileError>
  /** Compacts etcd to its current revision; returns that revision. */
  readonly compactEtcd: Effect.Effect<number, EtcdRequestFailed>
}

export class PrivateCluster extends Context.Tag("test/PrivateCluster")<PrivateCluster, PrivateClusterService>() {}

/** The CRDs the ApplicationInstance controller reads and writes. */
const neededCrdGroups = ["apps.vworkspace.io", "ops.vworkspace.io", "source.toolkit.fluxcd.io", "helm.toolkit.fluxcd.io"]

const privateClusterService = Effect.gen(function* () {
  const started = yield* scopedCluster()
  const target = yield* targetFromKubeconfig(started.kubeconfigPath)
  const crds = (yield* allCrds()).filter((c) => neededCrdGroups.some((g) => c.name.endsWith(`.${g}`)))
  yield* applyCrds(target, crds)
  // The API server's PID changes with every restart.
  let info = started
  return {
    kubeconfigPath: started.kubeconfigPath,
    restartApiServer: (options) =>
      Effect.map(restartApiServer(info, options), (next) => {
        info = next
      }),
    compactEtcd: Effect.suspend(() => compactEtcd(info))
  } satisfies PrivateClusterService
})

/**
 * A cluster of its own (etcd + kube-apiserver on loopback, with the CRDs the operator needs) for
 * the layer's life, plus an admin `KubeApi` that talks to it directly, never through a proxy.
 */
export const privateClusterLayer = (): Layer.Layer<PrivateCluster | KubeApi, unknown> => {
  const cluster = Layer.scoped(PrivateCluster, privateClusterService)
  const admin = Layer.unwrapEffect(Effect.map(PrivateCluster, (c) => KubeApiLive.fromKubeconfigFile(c.kubeconfigPath)))
  return Layer.provideMerge(admin, cluster)
}

/** A namespace through the admin client (no cleanup: a private cluster is thrown away whole). */
export const createNamespace = (name: string, labels: Readonly<Record<string, string>> = gated) =>
  Effect.flatMap(KubeApi, (api) =>
    withKubeRetry(api.create(Resources.Namespace, { apiVersion: "v1", kind: "Namespace", metadata: { name, labels } }))
  ).pipe(Effect.as(name))

// --- the fleet of instances -------------------------------------------------------------------

/** What one instance asks for; the HelmRelease must end up carrying exactly this. */
export interface Wanted {
  readonly version: string
  readonly replicas: number
}

export const managedAi = (namespace: string, name: string, wanted: Wanted): KubeObject => ({
  apiVersion: "apps.vworkspace.io/v1alpha1",
  kind: "ApplicationInstance",
  metadata: { name, namespace },
  spec: {
    appRef: { catalogId: "nextcloud" },
    chart: { sourceType: "helm", url: "https://charts.example.test/stable", name: "nextcloud", version: wanted.version },
    release: { name: `${name}-rel`, namespace },
    values: { source: "inline", inline: { replicaCount: wanted.replicas } }
  }
})

/**
 * The instances a test created, updated and deleted, as the control plane would: with the test's
 * own admin client, which reaches the API server directly (never through the operator's proxy).
 * Writes retry transient errors, since some are made right after an API server restart.
 */
export class Fleet {
  readonly live = new Map<string, Wanted>()
  readonly deleted = new Set<string>()
  constructor(readonly namespace: string) {}

  apply(name: string, wanted: Wanted): Effect.Effect<KubeObject, KubeError, KubeApi> {
    return Effect.flatMap(KubeApi, (api) =>
      withKubeRetry(
        api.apply(Resources.ApplicationInstance, managedAi(this.namespace, name, wanted), {
          fieldManager: "test-control-plane",
          force: true
        })
      )
    ).pipe(
      Effect.tap(() =>
        Effect.sync(() => {
          this.live.set(name, wanted)
          this.deleted.delete(name)
        })
      )
    )
  }

  delete(name: string): Effect.Effect<void, KubeError, KubeApi> {
    return Effect.flatMap(KubeApi, (api) =>
      withKubeRetry(api.delete(Resources.ApplicationInstance, name, this.namespace)).pipe(
        Effect.catchTag("NotFound", () => Effect.void)
      )
    ).pipe(
      Effect.tap(() =>
        Effect.sync(() => {
          this.live.delete(name)
          this.deleted.add(name)
        })
      )
    )
  }

  /** Creates `count` instances named `<prefix>-<i>`, each with its own replica count. */
  createMany(prefix: string, count: number, version = "6.6.0"): Effect.Effect<void, KubeError, KubeApi> {
    return Effect.forEach(
      Array.from({ length: count }, (_, i) => i),
      (i) => this.apply(`${prefix}-${i}`, { version, replicas: i + 1 }),
      { discard: true }
    )
  }
}

const getOpt = (type: ResourceType, namespace: string, name: string) =>
  Effect.flatMap(KubeApi, (api) =>
    api.get(type, name, namespace).pipe(
      Effect.map(Option.some),
      Effect.catchTag("NotFound", () => Effect.succeed(Option.none<KubeObject>()))
    )
  )

const conditionsOf = (o: KubeObject): ReadonlyArray<Condition> =>
  (o["status"] as { conditions?: ReadonlyArray<Condition> } | undefined)?.conditions ?? []

/** What is still wrong with the fleet; empty once every instance converged. */
export const fleetProblems = (fleet: Fleet): Effect.Effect<ReadonlyArray<string>, KubeError, KubeApi> =>
  Effect.gen(function* () {
    const api = yield* KubeApi
    const ns = fleet.namespace
    const problems: Array<string> = []
    for (const [name, wanted] of fleet.live) {
      const ai = yield* getOpt(Resources.ApplicationInstance, ns, name)
      if (Option.isNone(ai)) {
        problems.push(`${name}: instance missing`)
        continue
      }
      const generation = ai.value.metadata.generation
      const ready = findCondition(conditionsOf(ai.value), "Ready")
      const observed = (ai.value["status"] as { observedGeneration?: number } | undefined)?.observedGeneration
      if (!(ai.value.metadata.finalizers ?? []).includes("apps.vworkspace.io/finalizer")) problems.push(`${name}: no finalizer`)
      if (observed !== generation) problems.push(`${name}: status.observedGeneration ${observed} != ${generation}`)
      // Without Flux running, a converged instance waits for HelmRelease status.
      if (ready?.status !== "Unknown" || ready.reason !== "Reconciling" || ready.observedGeneration !== generation) {
        problems.push(`${name}: Ready=${ready?.status}/${ready?.reason} (gen ${ready?.observedGeneration})`)
      }
      const hr = yield* getOpt(Resources.HelmRelease, ns, `${name}-rel`)
      if (Option.isNone(hr)) {
        problems.push(`${name}: HelmRelease missing`)
      } else {
        const spec = hr.value["spec"] as {
          chart?: { spec?: { chart?: string; version?: string; sourceRef?: { name?: string } } }
          values?: { replicaCount?: number }
        }
        const owner = hr.value.metadata.ownerReferences?.[0]
        if (owner?.uid !== ai.value.metadata.uid) problems.push(`${name}: HelmRelease owned by ${owner?.uid}`)
        if (spec.chart?.spec?.version !== wanted.version) problems.push(`${name}: HelmRelease version ${spec.chart?.spec?.version}`)
        if (spec.chart?.spec?.chart !== "nextcloud" || spec.chart.spec.sourceRef?.name !== `${name}-rel-source`) {
          problems.push(`${name}: HelmRelease chart ${JSON.stringify(spec.chart)}`)
        }
        if (spec.values?.replicaCount !== wanted.replicas) problems.push(`${name}: HelmRelease values ${JSON.stringify(spec.values)}`)
      }
      if (Option.isNone(yield* getOpt(Resources.HelmRepository, ns, `${name}-rel-source`))) {
        problems.push(`${name}: HelmRepository missing`)
      }
    }
    for (const name of fleet.deleted) {
      for (const [type, child] of [
        [Resources.ApplicationInstance, name],
        [Resources.HelmRelease, `${name}-rel`],
        [Resources.HelmRepository, `${name}-rel-source`]
      ] as const) {
        if (Option.isSome(yield* getOpt(type, ns, child))) problems.push(`${name}: deleted, but ${type.kind} ${child} remains`)
      }
    }
    // Nothing left over: exactly one HelmRelease per live instance.
    const releases = (yield* api.list(Resources.HelmRelease, { namespace: ns })).items.map((o) => o.metadata.name ?? "")
    const expected = new Set([...fleet.live.keys()].map((n) => `${n}-rel`))
    for (const r of releases) if (!expected.has(r)) problems.push(`unexpected HelmRelease ${r}`)
    return problems
  })

/**
 * Waits until the whole fleet converged. On the deadline the error lists what was still wrong,
 * and the last warnings of the operators given.
 */
export const waitConverged = (
  fleet: Fleet,
  options: { readonly timeout?: Duration.DurationInput; readonly operators?: ReadonlyArray<ProxiedOperator> } = {}
) =>
  Effect.gen(function* () {
    let last: ReadonlyArray<string> = ["not checked yet"]
    yield* waitFor(
      `${fleet.live.size} instances to converge and ${fleet.deleted.size} deletions to complete in ${fleet.namespace}`,
      fleetProblems(fleet).pipe(
        // A probe that could not reach the API server (just restarted, say) is one more problem.
        Effect.catchAll((e) => Effect.succeed([`probe failed: ${e.message}`])),
        Effect.map((problems) => {
          last = problems
          return problems.length === 0 ? true : undefined
        })
      ),
      { timeout: options.timeout ?? Duration.seconds(60), interval: Duration.millis(250) }
    ).pipe(
      Effect.catchTag("WaitTimedOut", (e) => {
        const logs = (options.operators ?? []).flatMap((o, i) => o.warnings.slice(-15).map((w) => `[operator ${i}] ${w}`))
        return Effect.fail(
          new WaitTimedOut({
            message: `${e.message}; still wrong:\n  ${last.join("\n  ")}${logs.length > 0 ? `\nlast operator warnings:\n  ${logs.join("\n  ")}` : ""}`
          })
        )
      })
    )
  })
