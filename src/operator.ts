/**
 * The operator as one program: informers for every kind the controllers read, the controllers,
 * and the manager that runs them on the leader. The same program runs in `vworkspace-operator run`,
 * in the e2e tests and (with a `watchNamespace`) in integration tests; only Layers change.
 */
import { Effect, Layer, type Scope } from "effect"
import { OperatorConfig } from "./config.js"
import { startConnectivity } from "./connectivity/wiring.js"
import { type Informer, type InformerOptions, makeInformer } from "./kube/informer.js"
import { kindAvailabilityFrom } from "./kube/availability.js"
import { KubeApi } from "./kube/KubeApi.js"
import type { ResourceType } from "./kube/object.js"
import { Resources } from "./kube/resources.js"
import { eventRecorderLive } from "./observability/events.js"
import { Metrics } from "./observability/metrics.js"
import { reconcileApplicationInstance } from "./reconcilers/applicationInstance.js"
import { applicationInstanceInformers, applicationInstanceSources } from "./reconcilers/applicationInstanceSources.js"
import { ObjectLookup } from "./reconcilers/objectLookup.js"
import { Controller } from "./runtime/controller.js"
import type { BindAddress } from "./runtime/health.js"
import type { LeaderElectionConfig } from "./runtime/leaderElection.js"
import { Manager, type RunningManager } from "./runtime/manager.js"
import { makeOwnWrites, recordingWrites } from "./runtime/ownWrites.js"

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
}

const lookupFrom = (informers: ReadonlyMap<ResourceType, Informer>) =>
  Layer.succeed(ObjectLookup, {
    get: (type, namespace, name) => {
      const informer = informers.get(type)
      // Kinds without an informer are a wiring bug, not a state of the cluster.
      if (informer === undefined) return Effect.dieMessage(`no informer for ${type.kind}`)
      return informer.cache.get(namespace ? `${namespace}/${name}` : name)
    }
  })

export const startOperator = (
  options: OperatorOptions
): Effect.Effect<RunningManager, unknown, KubeApi | Metrics | OperatorConfig | Scope.Scope> =>
  Effect.gen(function* () {
    const config = yield* OperatorConfig
    const metrics = yield* Metrics
    const informers = new Map<ResourceType, Informer>()
    for (const { kind, transform } of applicationInstanceInformers) {
      const scoped = kind.namespaced
        ? { namespace: options.watchNamespace }
        : options.watchNamespace
          ? { fieldSelector: `metadata.name=${options.watchNamespace}` }
          : {}
      informers.set(kind, yield* makeInformer(kind, { ...options.informer, ...scoped, transform, metrics: metrics.informer }))
    }
    const context = yield* Layer.build(Layer.mergeAll(lookupFrom(informers), kindAvailabilityFrom(informers), eventRecorderLive))
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
      reported: [informers.get(Resources.ApplicationInstance)!],
      context
    })

    return yield* Manager.start({
      controllers: [applicationInstances, ...connectivity.controllers],
      leaderRunnables: connectivity.leaderRunnables,
      caches: [...informers.values(), ...connectivity.caches],
      healthProbe: options.healthProbe,
      leaderElection: options.leaderElection
    })
  })
