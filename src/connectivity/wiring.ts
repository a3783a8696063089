/**
 * Connectivity as the operator runs it: the Cluster informer and controller, the credentials
 * Secret (watched by name), the agent client, the outbox, and the mode's IntentSource and
 * StatusSink. `src/operator.ts` adds what this returns to the manager.
 */
import { Context, Duration, Effect, Layer, Option, Schedule, Stream } from "effect"
import { OperatorConfig } from "../config.js"
import type { Informer, InformerOptions } from "../kube/informer.js"
import { makeInformer, namedOnly } from "../kube/informer.js"
import { KubeApi } from "../kube/KubeApi.js"
import type { ResourceType } from "../kube/object.js"
import { Resources } from "../kube/resources.js"
import { Audit } from "../observability/audit.js"
import type { EventRecorder } from "../observability/events.js"
import { connectivityStateOf } from "../observability/connectivityState.js"
import { Metrics } from "../observability/metrics.js"
import { makeClusterReconciler } from "../reconcilers/cluster.js"
import { grantNamespaceAccess } from "../reconcilers/namespaceAccess.js"
import type { ObjectLookup } from "../reconcilers/objectLookup.js"
import { Controller } from "../runtime/controller.js"
import { keysOf } from "../runtime/sources.js"
import { agentClientLive } from "./agentClientLive.js"
import { ConnectionState, connectionStateLive } from "./connectionState.js"
import { AgentCredentials } from "./credentials.js"
import { CredentialStore, credentialRotationLive, defaultCredentialSecret, makeSecretCredentials } from "./credentialsLive.js"
import { reportsEvents, selectIntentSource, selectStatusSink } from "./modes/index.js"
import { IntentSource } from "./modes/intentSource.js"
import { Outbox } from "./outbox/outbox.js"
import { runPullAgent } from "./pull/agent.js"
import { StatusSink } from "./statusSink.js"

export interface ConnectivityOptions {
  readonly informer?: Pick<InformerOptions, "idleTimeout" | "watchTimeoutSeconds" | "backoff" | "blindAfter">
  /** Reconcile only the Cluster of this name (tests share one API server). Absent: every Cluster. */
  readonly clusterName?: string
  /** Objects whose condition transitions the outbox reports. */
  readonly reported: ReadonlyArray<Informer>
  /** The operator's informers by kind (what `ObjectLookup` reads): the Cluster informer joins them. */
  readonly informers: Map<ResourceType, Informer>
  /** Cache reads and Events for the Cluster reconciler. */
  readonly context: Context.Context<ObjectLookup | EventRecorder | Audit>
}

export const startConnectivity = (options: ConnectivityOptions) =>
  Effect.gen(function* () {
    const config = yield* OperatorConfig
    const metrics = yield* Metrics
    const clusters = yield* makeInformer(Resources.Cluster, {
      ...options.informer,
      ...(options.clusterName ? namedOnly(options.clusterName) : {}),
      metrics: metrics.informer
    })
    options.informers.set(Resources.Cluster, clusters)
    // The one credentials Secret, watched by name: no cluster-wide Secret list or watch.
    const secretRef = defaultCredentialSecret(config.podNamespace)
    const credentialSecret = yield* makeInformer(Resources.Secret, {
      ...options.informer,
      namespace: secretRef.namespace,
      ...namedOnly(secretRef.name),
      metrics: metrics.informer
    })
    const { credentials, store } = yield* makeSecretCredentials(credentialSecret, secretRef)
    const kube = yield* KubeApi
    const base = yield* Layer.build(
      Layer.mergeAll(agentClientLive(), Outbox.layer({ namespace: config.podNamespace })).pipe(
        Layer.provideMerge(
          Layer.mergeAll(
            connectionStateLive,
            Layer.succeed(AgentCredentials, credentials),
            Layer.succeed(CredentialStore, store)
          )
        )
      )
    )
    const outbox = Context.get(base, Outbox)
    const events = reportsEvents(config)
    const sink = selectStatusSink(config, Context.get(base, StatusSink))
    const withSink = Context.add(base, StatusSink, sink)
    const connectivity = Context.merge(
      withSink,
      yield* Layer.build(
        credentialRotationLive.pipe(Layer.provide(Layer.succeedContext(Context.add(withSink, Audit, Context.get(options.context, Audit)))))
      )
    )
    const pullAgent = runPullAgent({
      namespace: config.podNamespace,
      waitSeconds: Duration.toSeconds(config.connectivity.pollInterval),
      ...Option.match(config.namespaceAccess, {
        onNone: () => ({}),
        onSome: (access) => ({ grantNamespaceAccess: grantNamespaceAccess(access, config.podNamespace, config.namespaceSelector) })
      })
    }).pipe(
      // It fails only when its idempotency store cannot be loaded; try again, never give up.
      Effect.tapError((e) => Effect.logWarning("the Pull agent stopped; restarting").pipe(Effect.annotateLogs("error", e.message))),
      Effect.retry(Schedule.exponential(Duration.seconds(1)).pipe(Schedule.union(Schedule.spaced(Duration.seconds(30))))),
      Effect.orDie,
      Effect.provide(connectivity),
      Effect.provideService(KubeApi, kube),
      Effect.annotateLogs({ component: "pull-agent" })
    )
    const intent = yield* selectIntentSource(config, { sink, pullAgent })
    const connection = Context.get(connectivity, ConnectionState)
    const outboxRun = outbox
      .run([...options.reported, clusters])
      .pipe(Effect.provide(connectivity), Effect.provideService(KubeApi, kube))
    const clusterServices = Context.add(connectivity, IntentSource, intent)
    if (events) yield* trackConnectivityMetrics(config, connection, credentials, credentialSecret, secretRef)

    const allClusters = Stream.fromIterableEffect(clusters.cache.list()).pipe(Stream.map((o) => o.metadata.name ?? ""))
    const reconcileCluster = yield* makeClusterReconciler({
      bufferStats: events ? Effect.map(outbox.stats, Option.some) : Effect.succeed(Option.none())
    })
    const clusterController = Controller.make({
      name: "cluster",
      maxConcurrentReconciles: 1,
      reconcile: (key) => reconcileCluster(key).pipe(Effect.provide(options.context), Effect.provide(clusterServices)),
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
    return {
      controllers: [clusterController],
      // The outbox drains to the events endpoint: only in modes that report there.
      leaderRunnables: events ? [intent.run, outboxRun] : [intent.run],
      caches: [credentialSecret]
    }
  })


/**
 * `vworkspace_operator_connectivity_state{mode}` (read at scrape time from the latest connection
 * snapshot) and `vworkspace_operator_credential_age_seconds` (from the credentials Secret's
 * creation, or from the moment this process saw a rotated token).
 */
const trackConnectivityMetrics = (
  config: OperatorConfig["Type"],
  connection: ConnectionState["Type"],
  credentials: AgentCredentials["Type"],
  credentialSecret: Informer,
  secretRef: { readonly namespace: string; readonly name: string }
) =>
  Effect.gen(function* () {
    const metrics = yield* Metrics
    let snapshot = yield* connection.get
    metrics.connectivity.state(config.connectivity.mode, () =>
      connectivityStateOf(snapshot, Date.now(), config.connectivity.disconnectWindow)
    )
    yield* Effect.forkScoped(Stream.runForEach(connection.changes, (s) => Effect.sync(() => (snapshot = s))))
    let first = true
    yield* Effect.forkScoped(
      Stream.runForEach(
        credentials.changes.pipe(Stream.changesWith((a, b) => Option.getOrUndefined(a)?.token === Option.getOrUndefined(b)?.token)),
        (current) =>
          Effect.gen(function* () {
            const secret = yield* credentialSecret.cache.get(`${secretRef.namespace}/${secretRef.name}`)
            const created = Date.parse(Option.getOrUndefined(secret)?.metadata.creationTimestamp ?? "")
            const issuedAt = Option.isNone(current) ? undefined : first && Number.isFinite(created) ? created : Date.now()
            first = false
            metrics.connectivity.credentialIssuedAt(issuedAt)
          })
      )
    )
  })
