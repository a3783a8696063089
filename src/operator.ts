/**
 * The operator as one program: informers for every kind the controllers read, the controllers,
 * and the manager that runs them on the leader. The same program runs in `vworkspace-operator run`,
 * in the e2e tests and (with a `watchNamespace`) in integration tests; only Layers change.
 */
import { Context, Effect, Layer, Option, type Scope, Stream } from "effect"
import { runCertificateWriter, runWebhookServer } from "./admission/index.js"
import { admissionLookupLive } from "./admission/judge.js"
import { Labels } from "./api/wellKnown.js"
import { OperatorConfig } from "./config.js"
import { startConnectivity } from "./connectivity/wiring.js"
import { type Informer, type InformerOptions, makeInformer, scopedTo } from "./kube/informer.js"
import { availabilityChanged, kindAvailabilityFrom } from "./kube/availability.js"
import { KubeApi } from "./kube/KubeApi.js"
import { objectKey, type ResourceType } from "./kube/object.js"
import { builtinEnginesLayer } from "./engines/builtin.js"
import { EngineRegistry } from "./engines/engine.js"
import { Resources } from "./kube/resources.js"
import { auditToEventsLive } from "./observability/audit.js"
import { eventRecorderLive } from "./observability/events.js"
import { Metrics } from "./observability/metrics.js"
import { type MetricsServer, type MetricsServerOptions, serveMetrics } from "./observability/metricsServer.js"
import { matchesLabels } from "./kube/labelSelector.js"
import { reconcileApplicationInstance } from "./reconcilers/applicationInstance.js"
import { applicationInstanceInformers, applicationInstanceSources } from "./reconcilers/applicationInstanceSources.js"
import { ObjectLookup } from "./reconcilers/objectLookup.js"
import { accessBindingInformerOptions, makeAccessGranted, namespaceAccessController, RoleBindingType } from "./reconcilers/namespaceAccess.js"
import { reconcileOperation } from "./reconcilers/operation.js"
import { WrittenPhases } from "./reconcilers/writtenPhases.js"
import {
  childEventKeys,
  namespaceEventKeys,
  operationEventKeys,
  targetEventKeys,
  unfinishedOperationKeys,
  wakeups
} from "./reconcilers/operationWakeups.js"
import { Controller } from "./runtime/controller.js"
import type { BindAddress } from "./runtime/health.js"
import type { LeaderElectionConfig } from "./runtime/leaderElection.js"
import { Manager, type RunningManager } from "./runtime/manager.js"
import { makeOwnWrites, recordingWrites } from "./runtime/ownWrites.js"
import { eventsOf } from "./runtime/sources.js"

export interface OperatorOptions {
  readonly healthProbe: BindAddress
  /** Absent: this process always leads. */
  readonly leaderElection?: LeaderElectionConfig
  /** Act in this namespace only (the namespace gate still applies). Absent: every namespace. */
  readonly watchNamespace?: string
  /** Watch tuning for every informer (tests shorten it); absent fields keep the informer defaults. */
  readonly informer?: Pick<InformerOptions, "idleTimeout" | "watchTimeoutSeconds" | "backoff" | "blindAfter">
  /** Reconcile only the Cluster of this name (tests share one API server). Absent: every Cluster. */
  readonly clusterName?: string
  /** The Operation engines, each registered in the EngineRegistry it provides. Default: the built-in ones. */
  readonly engines?: Layer.Layer<EngineRegistry>
  /** Where `/metrics` is served (`--metrics-bind-address`, `--metrics-secure`). Absent: not served. */
  readonly metrics?: MetricsServerOptions
}

export interface RunningOperator extends RunningManager {
  /** The `/metrics` listener, when one was asked for. */
  readonly metrics?: MetricsServer
}

const lookupFrom = (informers: ReadonlyMap<ResourceType, Informer>) => {
  const cacheOf = (type: ResourceType) => {
    const informer = informers.get(type)
    // Kinds without an informer are a wiring bug, not a state of the cluster.
    return informer === undefined ? Effect.dieMessage(`no informer for ${type.kind}`) : Effect.succeed(informer.cache)
  }
  return Layer.succeed(ObjectLookup, {
    get: (type, namespace, name) => Effect.flatMap(cacheOf(type), (c) => c.get(namespace ? `${namespace}/${name}` : name)),
    list: (type, namespace) => Effect.flatMap(cacheOf(type), (c) => c.list(namespace)),
    byLabel: (type, key, value) => Effect.flatMap(cacheOf(type), (c) => c.byLabel(key, value))
  })
}

export const startOperator = (
  options: OperatorOptions
): Effect.Effect<RunningOperator, unknown, KubeApi | Metrics | OperatorConfig | Scope.Scope> =>
  Effect.gen(function* () {
    const config = yield* OperatorConfig
    const metrics = yield* Metrics
    const informers = new Map<ResourceType, Informer>()
    const primaries = [...applicationInstanceInformers, { kind: Resources.Operation, transform: undefined }]
    for (const { kind, transform } of primaries) {
      informers.set(kind, yield* makeInformer(kind, { ...options.informer, ...scopedTo(kind, options.watchNamespace), transform, metrics: metrics.informer }))
    }
    // Engine children (Jobs, their Pods, Workflows, ...) carry the operation label: watch only those.
    // Third-party kinds are optional: a cluster without Velero, Argo, VolSync or CSI snapshots runs.
    const engines = yield* Layer.build(options.engines ?? builtinEnginesLayer)
    const childKinds = [...new Set((yield* Effect.flatMap(EngineRegistry, (r) => r.all).pipe(Effect.provide(engines))).flatMap((e) => e.childKinds))]
    for (const kind of childKinds.filter((k) => !informers.has(k))) {
      informers.set(
        kind,
        yield* makeInformer(kind, {
          ...options.informer,
          ...scopedTo(kind, options.watchNamespace),
          labelSelector: Labels.operation,
          optional: kind.group !== "" && kind.group !== "batch",
          metrics: metrics.informer
        })
      )
    }
    // The operator's own access RoleBindings, one per gated namespace (src/reconcilers/namespaceAccess.ts).
    const access = Option.getOrUndefined(config.namespaceAccess)
    if (access !== undefined) {
      informers.set(
        RoleBindingType,
        yield* makeInformer(RoleBindingType, {
          ...options.informer,
          ...scopedTo(RoleBindingType, options.watchNamespace),
          ...accessBindingInformerOptions(access),
          metrics: metrics.informer
        })
      )
    }
    const granted = yield* makeAccessGranted
    /** The keys of `informer`'s objects in each namespace where access just took effect. */
    const inGrantedNamespaces = (informer: Informer) =>
      granted.namespaces.pipe(Stream.flatMap((ns) => Stream.fromIterableEffect(informer.cache.list(ns)).pipe(Stream.map(objectKey))))
    const ai = informers.get(Resources.ApplicationInstance)!
    const context = yield* Layer.build(
      Layer.mergeAll(lookupFrom(informers), kindAvailabilityFrom(informers), auditToEventsLive.pipe(Layer.provideMerge(eventRecorderLive)))
    )
    const operationContext = Context.merge(Context.merge(context, engines), yield* Layer.build(WrittenPhases.live))
    // The reconciler's own writes do not wake it again; everyone else's do.
    const ownWrites = makeOwnWrites()
    const reconcilerApi = recordingWrites(yield* KubeApi, ownWrites)

    const applicationInstances = Controller.make({
      name: "applicationinstance",
      maxConcurrentReconciles: config.maxConcurrentReconciles,
      reconcile: (key) => reconcileApplicationInstance(key).pipe(Effect.provideService(KubeApi, reconcilerApi), Effect.provide(context)),
      sources: [
        ...applicationInstanceSources(
          {
            applicationInstances: informers.get(Resources.ApplicationInstance)!,
            helmReleases: informers.get(Resources.HelmRelease)!,
            helmRepositories: informers.get(Resources.HelmRepository)!,
            ociRepositories: informers.get(Resources.OCIRepository)!,
            namespaces: informers.get(Resources.Namespace)!
          },
          ownWrites,
          config.resyncPeriod
        ),
        inGrantedNamespaces(ai)
      ]
    })

    const connectivity = yield* startConnectivity({
      informer: options.informer,
      clusterName: options.clusterName,
      reported: [ai, informers.get(Resources.Operation)!],
      informers,
      context
    })

    const operations = informers.get(Resources.Operation)!.cache
    const operationController = Controller.make({
      name: "operation",
      maxConcurrentReconciles: config.maxConcurrentReconciles,
      reconcile: (key) => reconcileOperation(key).pipe(Effect.provide(operationContext)),
      sources: [
        wakeups(eventsOf(informers.get(Resources.Operation)!), operationEventKeys(operations)),
        wakeups(eventsOf(ai), targetEventKeys(operations)),
        wakeups(eventsOf(informers.get(Resources.Namespace)!), namespaceEventKeys(operations)),
        inGrantedNamespaces(informers.get(Resources.Operation)!),
        ...childKinds.map((kind) => wakeups(eventsOf(informers.get(kind)!), childEventKeys(operations))),
        ...childKinds.map((kind) =>
          availabilityChanged(informers.get(kind)!).pipe(Stream.flatMap(() => Stream.fromIterableEffect(unfinishedOperationKeys(operations))))
        ),
        Stream.tick(config.resyncPeriod).pipe(
          Stream.drop(1),
          Stream.flatMap(() => Stream.fromIterableEffect(operations.list()).pipe(Stream.map(objectKey)))
        )
      ]
    })

    // The webhooks answer on every replica; the certificate writer runs on the leader.
    const webhook = config.webhook
    if (webhook.port !== 0) {
      yield* runWebhookServer(webhook, config.podNamespace).pipe(Effect.provide(admissionLookupLive), Effect.provide(context))
    }
    const certificateWriter = webhook.port === 0 ? [] : [runCertificateWriter(webhook, config.podNamespace)]

    const namespaceAccess =
      access === undefined
        ? []
        : [
            namespaceAccessController({
              access,
              granted,
              namespaces: informers.get(Resources.Namespace)!,
              bindings: informers.get(RoleBindingType)!,
              lookup: context,
              resyncPeriod: config.resyncPeriod
            })
          ]

    // vworkspace_operator_managed_namespaces: recounted whenever a namespace changes.
    const namespaces = informers.get(Resources.Namespace)!
    yield* Effect.forkScoped(
      Stream.runForEach(eventsOf(namespaces), () =>
        Effect.map(namespaces.cache.list(), (all) =>
          metrics.managedNamespaces(all.filter((ns) => matchesLabels(config.namespaceSelector, ns.metadata.labels)).length)
        )
      )
    )
    const metricsServer = options.metrics === undefined ? undefined : yield* serveMetrics(options.metrics)
    if (metricsServer !== undefined) {
      yield* Effect.logInfo("Serving metrics server").pipe(
        Effect.annotateLogs({ port: metricsServer.port, secure: metricsServer.secure })
      )
    }

    const manager = yield* Manager.start({
      controllers: [applicationInstances, operationController, ...namespaceAccess, ...connectivity.controllers],
      leaderRunnables: [...connectivity.leaderRunnables, ...certificateWriter],
      caches: [...informers.values(), ...connectivity.caches],
      healthProbe: options.healthProbe,
      leaderElection: options.leaderElection
    })
    return metricsServer === undefined ? manager : { ...manager, metrics: metricsServer }
  })
