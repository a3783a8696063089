/**
 * The operator as one program: informers for every kind the controllers read, the controllers,
 * and the manager that runs them on the leader. The same program runs in `vworkspace-operator run`,
 * in the e2e tests and (with a `watchNamespace`) in integration tests; only Layers change.
 */
import { Context, Effect, Layer, type Scope, Stream } from "effect"
import { Labels } from "./api/wellKnown.js"
import { OperatorConfig } from "./config.js"
import { type Informer, type InformerOptions, makeInformer } from "./kube/informer.js"
import type { KubeApi } from "./kube/KubeApi.js"
import { objectKey, type ResourceType } from "./kube/object.js"
import { builtinEnginesLayer } from "./engines/builtin.js"
import { EngineRegistry } from "./engines/engine.js"
import { Resources } from "./kube/resources.js"
import { eventRecorderLive } from "./observability/events.js"
import { Metrics } from "./observability/metrics.js"
import { reconcileApplicationInstance } from "./reconcilers/applicationInstance.js"
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
import { eventsOf, keysOf, ownerKeyFromRefs } from "./runtime/sources.js"

export interface OperatorOptions {
  readonly healthProbe: BindAddress
  /** Absent: this process always leads. */
  readonly leaderElection?: LeaderElectionConfig
  /** Act in this namespace only (the namespace gate still applies). Absent: every namespace. */
  readonly watchNamespace?: string
  /** Watch tuning for every informer (tests shorten it); absent fields keep the informer defaults. */
  readonly informer?: Pick<InformerOptions, "idleTimeout" | "watchTimeoutSeconds" | "backoff">
}

/** The ApplicationInstance controller's view of the cluster. */
const informerKinds = [
  Resources.ApplicationInstance,
  Resources.Operation,
  Resources.HelmRelease,
  Resources.HelmRepository,
  Resources.OCIRepository,
  Resources.Namespace
] as const

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
    for (const kind of informerKinds) {
      informers.set(kind, yield* makeInformer(kind, { ...options.informer, ...scopedTo(kind), metrics: metrics.informer }))
    }
    // Engine children (Jobs, their Pods, Workflows, ...) carry the operation label: watch only those.
    const engines = yield* Layer.build(builtinEnginesLayer)
    const childKinds = [...new Set((yield* Effect.flatMap(EngineRegistry, (r) => r.all).pipe(Effect.provide(engines))).flatMap((e) => e.childKinds))]
    for (const kind of childKinds.filter((k) => !informers.has(k))) {
      informers.set(
        kind,
        yield* makeInformer(kind, { ...options.informer, ...scopedTo(kind), labelSelector: Labels.operation, metrics: metrics.informer })
      )
    }
    const ai = informers.get(Resources.ApplicationInstance)!
    const aiKeysIn = (namespace?: string) =>
      Stream.fromIterableEffect(ai.cache.list(namespace)).pipe(
        Stream.map((o) => `${o.metadata.namespace}/${o.metadata.name}`)
      )
    const context = yield* Layer.build(Layer.mergeAll(lookupFrom(informers), eventRecorderLive))
    const operationContext = Context.merge(Context.merge(context, engines), yield* Layer.build(WrittenPhases.live))

    const applicationInstances = Controller.make({
      name: "applicationinstance",
      maxConcurrentReconciles: config.maxConcurrentReconciles,
      reconcile: (key) => reconcileApplicationInstance(key).pipe(Effect.provide(context)),
      sources: [
        keysOf(ai),
        keysOf(informers.get(Resources.HelmRelease)!, ownerKeyFromRefs(Resources.ApplicationInstance)),
        keysOf(informers.get(Resources.HelmRepository)!, ownerKeyFromRefs(Resources.ApplicationInstance)),
        keysOf(informers.get(Resources.OCIRepository)!, ownerKeyFromRefs(Resources.ApplicationInstance)),
        // A namespace gaining or losing the gate label re-gates every instance in it.
        eventsOf(informers.get(Resources.Namespace)!).pipe(
          Stream.flatMap((e) => aiKeysIn(e.object.metadata.name))
        ),
        Stream.tick(config.resyncPeriod).pipe(Stream.drop(1), Stream.flatMap(() => aiKeysIn()))
      ]
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

    return yield* Manager.start({
      controllers: [applicationInstances, operationController],
      caches: [...informers.values()],
      healthProbe: options.healthProbe,
      leaderElection: options.leaderElection
    })
  })
