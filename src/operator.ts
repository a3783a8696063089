/**
 * The operator as one program: informers for every kind the controllers read, the controllers,
 * and the manager that runs them on the leader. The same program runs in `vworkspace-operator run`,
 * in the e2e tests and (with a `watchNamespace`) in integration tests; only Layers change.
 */
import { Context, Effect, Layer, Option, type Scope, Stream } from "effect"
import { OperatorConfig } from "./config.js"
import { AgentClient } from "./connectivity/agentClient.js"
import { agentClientLive } from "./connectivity/agentClientLive.js"
import { ConnectionState, connectionStateLive } from "./connectivity/connectionState.js"
import { AgentCredentials } from "./connectivity/credentials.js"
import {
  CredentialStore,
  credentialRotationLive,
  defaultCredentialSecret,
  makeSecretCredentials
} from "./connectivity/credentialsLive.js"
import { directEventSink } from "./connectivity/directEventSink.js"
import { connectivityLayer } from "./connectivity/modes/index.js"
import { IntentSource } from "./connectivity/modes/intentSource.js"
import { type Informer, type InformerOptions, makeInformer } from "./kube/informer.js"
import type { KubeApi } from "./kube/KubeApi.js"
import type { ResourceType } from "./kube/object.js"
import { Resources } from "./kube/resources.js"
import { eventRecorderLive } from "./observability/events.js"
import { Metrics } from "./observability/metrics.js"
import { reconcileApplicationInstance } from "./reconcilers/applicationInstance.js"
import { makeClusterReconciler } from "./reconcilers/cluster.js"
import { ObjectLookup } from "./reconcilers/objectLookup.js"
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
  /** Reconcile only the Cluster of this name (tests share one API server). Absent: every Cluster. */
  readonly clusterName?: string
}

/** The ApplicationInstance controller's view of the cluster. */
const informerKinds = [
  Resources.ApplicationInstance,
  Resources.HelmRelease,
  Resources.HelmRepository,
  Resources.OCIRepository,
  Resources.Namespace
] as const

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
    for (const kind of informerKinds) {
      const scoped = kind.namespaced
        ? { namespace: options.watchNamespace }
        : options.watchNamespace
          ? { fieldSelector: `metadata.name=${options.watchNamespace}` }
          : {}
      informers.set(kind, yield* makeInformer(kind, { ...options.informer, ...scoped, metrics: metrics.informer }))
    }
    const ai = informers.get(Resources.ApplicationInstance)!
    const aiKeysIn = (namespace?: string) =>
      Stream.fromIterableEffect(ai.cache.list(namespace)).pipe(
        Stream.map((o) => `${o.metadata.namespace}/${o.metadata.name}`)
      )
    const clusters = yield* makeInformer(Resources.Cluster, {
      ...options.informer,
      ...(options.clusterName ? { fieldSelector: `metadata.name=${options.clusterName}` } : {}),
      metrics: metrics.informer
    })
    informers.set(Resources.Cluster, clusters)
    // The one credentials Secret, watched by name: no cluster-wide Secret list or watch.
    const secretRef = defaultCredentialSecret(config.podNamespace)
    const credentialSecret = yield* makeInformer(Resources.Secret, {
      ...options.informer,
      namespace: secretRef.namespace,
      fieldSelector: `metadata.name=${secretRef.name}`,
      metrics: metrics.informer
    })
    const { credentials, store } = yield* makeSecretCredentials(credentialSecret, secretRef)
    const context = yield* Layer.build(Layer.mergeAll(lookupFrom(informers), eventRecorderLive))
    const connectivity = yield* Layer.build(
      Layer.empty.pipe(
        Layer.provideMerge(credentialRotationLive),
        Layer.provideMerge(
          Layer.unwrapEffect(
            Effect.map(AgentClient, (client) =>
              connectivityLayer(config, { outbox: directEventSink(client), pullAgent: Effect.never })
            )
          )
        ),
        Layer.provideMerge(agentClientLive()),
        Layer.provideMerge(connectionStateLive),
        Layer.provideMerge(Layer.succeed(AgentCredentials, credentials)),
        Layer.provideMerge(Layer.succeed(CredentialStore, store))
      )
    )
    const intent = Context.get(connectivity, IntentSource)
    const connection = Context.get(connectivity, ConnectionState)

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

    const allClusters = Stream.fromIterableEffect(clusters.cache.list()).pipe(Stream.map((o) => o.metadata.name ?? ""))
    const reconcileCluster = yield* makeClusterReconciler({ bufferStats: Effect.succeed(Option.none()) })
    const clusterController = Controller.make({
      name: "cluster",
      maxConcurrentReconciles: 1,
      reconcile: (key) => reconcileCluster(key).pipe(Effect.provide(context), Effect.provide(connectivity)),
      sources: [
        keysOf(clusters),
        // New credentials end a halt (a rejected token) and change what the status says.
        credentials.changes.pipe(
          Stream.changesWith((a, b) => Option.getOrUndefined(a)?.token === Option.getOrUndefined(b)?.token),
          Stream.tap(() => connection.resume),
          Stream.flatMap(() => allClusters)
        ),
        connection.changes.pipe(
          Stream.changesWith((a, b) => Option.isSome(a.halted) === Option.isSome(b.halted)),
          Stream.flatMap(() => allClusters)
        ),
        intent.changes.pipe(Stream.flatMap(() => allClusters))
      ]
    })

    return yield* Manager.start({
      controllers: [applicationInstances, clusterController],
      leaderRunnables: [intent.run],
      caches: [...informers.values(), credentialSecret],
      healthProbe: options.healthProbe,
      leaderElection: options.leaderElection
    })
  })
