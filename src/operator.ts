/**
 * The operator as one program: informers for every kind the controllers read, the controllers,
 * and the manager that runs them on the leader. The same program runs in `vworkspace-operator run`,
 * in the e2e tests and (with a `watchNamespace`) in integration tests; only Layers change.
 */
import { Context, Effect, Layer, type Scope, Stream } from "effect"
import { runCertificateWriter, runWebhookServer } from "./admission/index.js"
import { admissionLookupLive } from "./admission/judge.js"
import { Labels } from "./api/wellKnown.js"
import { OperatorConfig } from "./config.js"
import { startConnectivity } from "./connectivity/wiring.js"
import { type Informer, type InformerOptions, makeInformer } from "./kube/informer.js"
import { kindAvailabilityFrom } from "./kube/availability.js"
import { KubeApi } from "./kube/KubeApi.js"
import { objectKey, type ResourceType } from "./kube/object.js"
import { builtinEnginesLayer } from "./engines/builtin.js"
import { EngineRegistry } from "./engines/engine.js"
import { Resources } from "./kube/resources.js"
import { auditToEventsLive } from "./observability/audit.js"
import { eventRecorderLive } from "./observability/events.js"
import { Metrics } from "./observability/metrics.js"
import { reconcileApplicationInstance } from "./reconcilers/applicationInstance.js"
import { applicationInstanceInformers, applicationInstanceSources } from "./reconcilers/applicationInstanceSources.js"
import { ObjectLookup } from "./reconcilers/objectLookup.js"
import { reconcileOperation } from "./reconcilers/operation.js"
import { WrittenPhases } from "./reconcilers/writtenPhases.js"
import {
  childEventKeys,
  namespaceEventKeys,
  operationEventKeys,
  targetEventKeys,
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
): Effect.Effect<RunningManager, unknown, KubeApi | Metrics | OperatorConfig | Scope.Scope> =>
  Effect.gen(function* () {
    const config = yield* OperatorConfig
    const metrics = yield* Metrics
    const informers = new Map<ResourceType, Informer>()
    const scopedTo = (kind: ResourceType) =>
      kind.namespaced
        ? { namespace: options.watchNamespace }
        : options.watchNamespace
          ? { fieldSelector: `metadata.name=${options.watchNamespace}` }
          : {}
    const primaries = [...applicationInstanceInformers, { kind: Resources.Operation, transform: undefined }]
    for (const { kind, transform } of primaries) {
      informers.set(kind, yield* makeInformer(kind, { ...options.informer, ...scopedTo(kind), transform, metrics: metrics.informer }))
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
          ...scopedTo(kind),
          labelSelector: Labels.operation,
          optional: kind.group !== "" && kind.group !== "batch",
          metrics: metrics.informer
        })
      )
    }
    const ai = informers.get(Resources.ApplicationInstance)!
    const context = yield* Layer.build(Layer.mergeAll(lookupFrom(informers), kindAvailabilityFrom(informers), eventRecorderLive))
    const operationContext = Context.merge(Context.merge(context, engines), yield* Layer.build(WrittenPhases.live))
    // The reconciler's own writes do not wake it again; everyone else's do.
    const ownWrites = makeOwnWrites()
    const reconcilerApi = Layer.succeed(KubeApi, recordingWrites(yield* KubeApi, ownWrites))

    const applicationInstances = Controller.make({
      name: "applicationinstance",
      maxConcurrentReconciles: config.maxConcurrentReconciles,
      reconcile: (key) => reconcileApplicationInstance(key).pipe(Effect.provide(reconcilerApi), Effect.provide(context)),
      sources: applicationInstanceSources(
        {
          applicationInstances: informers.get(Resources.ApplicationInstance)!,
          helmReleases: informers.get(Resources.HelmRelease)!,
          helmRepositories: informers.get(Resources.HelmRepository)!,
          ociRepositories: informers.get(Resources.OCIRepository)!,
          namespaces: informers.get(Resources.Namespace)!
        },
        ownWrites,
        config.resyncPeriod
      )
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
        ...childKinds.map((kind) => wakeups(eventsOf(informers.get(kind)!), childEventKeys(operations))),
        Stream.tick(config.resyncPeriod).pipe(
          Stream.drop(1),
          Stream.flatMap(() => Stream.fromIterableEffect(operations.list()).pipe(Stream.map(objectKey)))
        )
      ]
    })

    // The webhooks answer on every replica; the certificate writer runs on the leader.
    const webhook = config.webhook
    if (webhook.port !== 0) {
      const admission = Layer.mergeAll(admissionLookupLive, auditToEventsLive.pipe(Layer.provide(Layer.succeedContext(context))))
      yield* runWebhookServer(webhook, config.podNamespace).pipe(Effect.provide(admission))
    }
    const certificateWriter = webhook.port === 0 ? [] : [runCertificateWriter(webhook, config.podNamespace)]

    return yield* Manager.start({
      controllers: [applicationInstances, operationController, ...connectivity.controllers],
      leaderRunnables: [...connectivity.leaderRunnables, ...certificateWriter],
      caches: [...informers.values(), ...connectivity.caches],
      healthProbe: options.healthProbe,
      leaderElection: options.leaderElection
    })
  })
