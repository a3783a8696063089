import { Context, Effect, Layer, Option } from "effect"
import { contentType, Registry } from "./exposition.js"
import { registerProcessMetrics } from "./processMetrics.js"

/** controller-runtime's reconcile-time buckets (seconds). */
const reconcileTimeBuckets = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9, 1, 1.25, 1.5, 1.75, 2,
  2.5, 3, 3.5, 4, 4.5, 5, 6, 7, 8, 9, 10, 15, 20, 25, 30, 40, 50, 60
]

/** client-go's workqueue latency buckets: 10ns … 1000s, exponential by 10. */
const queueDurationBuckets = Array.from({ length: 12 }, (_, i) => 1e-8 * 10 ** i)

export type ReconcileResultLabel = "success" | "error" | "requeue" | "requeue_after"

/** What a work queue reports; bound to one queue name. */
export interface WorkQueueMetrics {
  readonly add: Effect.Effect<void>
  readonly retry: Effect.Effect<void>
  readonly depth: (depth: number) => Effect.Effect<void>
  readonly queueDuration: (seconds: number) => Effect.Effect<void>
}

/**
 * What an informer reports, labelled `kind` with the informer's resource name. Plain functions,
 * shaped like `InformerMetrics` of `src/kube/informer.ts`, so it can be passed as its `metrics`.
 */
export interface InformerMetricsHooks {
  readonly relisted: (resource: string) => void
  readonly gone: (resource: string) => void
  readonly reconnected: (resource: string) => void
  readonly cacheSize: (resource: string, size: number) => void
}

/** What a controller reports; bound to one controller name. */
export interface ControllerMetrics {
  readonly reconciled: (result: ReconcileResultLabel, seconds: number) => Effect.Effect<void>
  readonly reconcileError: (terminal: boolean) => Effect.Effect<void>
  readonly activeWorkers: (delta: number) => Effect.Effect<void>
  readonly maxConcurrentReconciles: (n: number) => Effect.Effect<void>
}

/** `1` connected, `0` reconnecting (or not tried yet), `-1` disconnected (spec §6.1). */
export type ConnectivityStateValue = 1 | 0 | -1

export type OperationResultLabel = "succeeded" | "failed" | "cancelled"

/** The Pull agent's series. Plain functions: the agent calls them from its job fibers. */
export interface PullAgentMetrics {
  /** A fetched job is waiting to be applied; `createdAtMillis` from the job (its age is the lag). */
  readonly jobStarted: (id: string, createdAtMillis: number) => void
  readonly jobFinished: (id: string, applied: boolean) => void
}

export interface MetricsService {
  /** The registry every operator series lives in; other modules may register their own series here. */
  readonly registry: Registry
  /** The Prometheus text exposition of the registry, for `/metrics`. */
  readonly render: Effect.Effect<string>
  readonly contentType: string
  readonly workQueue: (name: string) => WorkQueueMetrics
  readonly informer: InformerMetricsHooks
  readonly controller: (name: string) => ControllerMetrics
  readonly leaderElection: (leaseName: string) => { readonly setLeader: (leading: boolean) => Effect.Effect<void> }
  /** The event outbox: a plain function, called from its synchronous buffer. */
  readonly outbox: { readonly occupancy: (events: number) => void }
  readonly pullAgent: PullAgentMetrics
  readonly connectivity: {
    /** Where the state of the connection in `mode` is read from, at scrape time. */
    readonly state: (mode: string, read: () => ConnectivityStateValue) => void
    /** When the credential in use was issued (creation of its Secret, or its rotation); undefined: none. */
    readonly credentialIssuedAt: (millis: number | undefined) => void
  }
  /** An Operation reached a terminal phase. */
  readonly operationFinished: (labels: { readonly type: string; readonly engine: string; readonly result: OperationResultLabel }) => void
  /** Namespaces that pass the namespace gate. */
  readonly managedNamespaces: (count: number) => void
}

export interface MetricsOptions {
  readonly processMetrics: boolean
  /** Wall clock for the age series (job lag, credential age), read at scrape time. Default `Date.now`. */
  readonly now?: () => number
}

/** Builds every series on a fresh registry, so two instances (two tests) never share state. */
export const makeMetrics = (options: MetricsOptions): MetricsService => {
  const registry = new Registry()
  const now = options.now ?? Date.now
  if (options.processMetrics) registerProcessMetrics(registry)

  const reconcileTotal = registry.counter({
    name: "controller_runtime_reconcile_total",
    help: "Total number of reconciliations per controller",
    labelNames: ["controller", "result"]
  })
  const reconcileErrors = registry.counter({
    name: "controller_runtime_reconcile_errors_total",
    help: "Total number of reconciliation errors per controller",
    labelNames: ["controller"]
  })
  const terminalReconcileErrors = registry.counter({
    name: "controller_runtime_terminal_reconcile_errors_total",
    help: "Total number of terminal reconciliation errors per controller",
    labelNames: ["controller"]
  })
  const reconcileTime = registry.histogram({
    name: "controller_runtime_reconcile_time_seconds",
    help: "Length of time per reconciliation per controller",
    labelNames: ["controller"],
    buckets: reconcileTimeBuckets
  })
  const activeWorkers = registry.gauge({
    name: "controller_runtime_active_workers",
    help: "Number of currently used workers per controller",
    labelNames: ["controller"]
  })
  const maxConcurrent = registry.gauge({
    name: "controller_runtime_max_concurrent_reconciles",
    help: "Maximum number of concurrent reconciles per controller",
    labelNames: ["controller"]
  })
  const depth = registry.gauge({ name: "workqueue_depth", help: "Current depth of workqueue", labelNames: ["name"] })
  const adds = registry.counter({ name: "workqueue_adds_total", help: "Total number of adds handled by workqueue", labelNames: ["name"] })
  const retries = registry.counter({
    name: "workqueue_retries_total",
    help: "Total number of retries handled by workqueue",
    labelNames: ["name"]
  })
  const queueDuration = registry.histogram({
    name: "workqueue_queue_duration_seconds",
    help: "How long in seconds an item stays in workqueue before being requested",
    labelNames: ["name"],
    buckets: queueDurationBuckets
  })
  const workDuration = registry.histogram({
    name: "workqueue_work_duration_seconds",
    help: "How long in seconds processing an item from workqueue takes",
    labelNames: ["name"],
    buckets: queueDurationBuckets
  })
  const relists = registry.counter({
    name: "vworkspace_operator_informer_relists_total",
    help: "Full lists an informer made after its first one (after a 410, or when a watch could not resume)",
    labelNames: ["kind"]
  })
  const watchGone = registry.counter({
    name: "vworkspace_operator_informer_watch_gone_total",
    help: "Watches that ended with 410 Gone (resourceVersion too old)",
    labelNames: ["kind"]
  })
  const watchReconnects = registry.counter({
    name: "vworkspace_operator_informer_watch_reconnects_total",
    help: "Watches an informer reopened after the previous one ended or failed",
    labelNames: ["kind"]
  })
  const cacheObjects = registry.gauge({
    name: "vworkspace_operator_informer_cache_objects",
    help: "Objects currently held in an informer cache",
    labelNames: ["kind"]
  })
  const masterStatus = registry.gauge({
    name: "leader_election_master_status",
    help: "1 while this process holds the leader-election lease, 0 otherwise",
    labelNames: ["name"]
  })
  const eventBufferOccupancy = registry.gauge({
    name: "vworkspace_operator_event_buffer_occupancy",
    help: "Events waiting in the outbound event buffer (the outbox) for delivery to the control plane"
  })

  /** Jobs fetched and not yet finished, by id: the oldest one's age is the lag. */
  const pendingJobs = new Map<string, number>()
  registry.gaugeFunction(
    {
      name: "vworkspace_operator_pull_job_lag_seconds",
      help: "Age of the oldest fetched, not yet applied Pull job (0 when none)"
    },
    () => {
      const oldest = Math.min(...pendingJobs.values())
      return [{ value: Number.isFinite(oldest) ? Math.max(0, (now() - oldest) / 1000) : 0 }]
    }
  )
  const appliedJobs = registry.counter({
    name: "vworkspace_operator_applied_jobs_total",
    help: "Pull jobs applied successfully"
  })
  const connectivityReaders = new Map<string, () => ConnectivityStateValue>()
  registry.gaugeFunction(
    {
      name: "vworkspace_operator_connectivity_state",
      help: "Connection to the control plane: 1 connected, 0 reconnecting, -1 disconnected",
      labelNames: ["mode"]
    },
    () => Array.from(connectivityReaders, ([mode, read]) => ({ labels: { mode }, value: read() }))
  )
  let credentialIssuedAt: number | undefined
  registry.gaugeFunction(
    {
      name: "vworkspace_operator_credential_age_seconds",
      help: "Seconds since the agent credential in use was issued (0 when there is none)"
    },
    () => [{ value: credentialIssuedAt === undefined ? 0 : Math.max(0, (now() - credentialIssuedAt) / 1000) }]
  )
  const operations = registry.counter({
    name: "vworkspace_operator_operation_total",
    help: "Operations that reached a terminal phase, by type, engine and result",
    labelNames: ["type", "engine", "result"]
  })
  const managedNamespaces = registry.gauge({
    name: "vworkspace_operator_managed_namespaces",
    help: "Namespaces that pass the operator's namespace selector"
  })

  return {
    registry,
    contentType,
    render: Effect.sync(() => registry.render()),
    workQueue: (name) => ({
      add: Effect.sync(() => adds.inc({ name })),
      retry: Effect.sync(() => retries.inc({ name })),
      depth: (n) => Effect.sync(() => depth.set({ name }, n)),
      queueDuration: (seconds) => Effect.sync(() => queueDuration.observe({ name }, seconds))
    }),
    informer: {
      relisted: (kind) => relists.inc({ kind }),
      gone: (kind) => watchGone.inc({ kind }),
      reconnected: (kind) => watchReconnects.inc({ kind }),
      cacheSize: (kind, size) => cacheObjects.set({ kind }, size)
    },
    controller: (controller) => ({
      reconciled: (result, seconds) =>
        Effect.sync(() => {
          reconcileTotal.inc({ controller, result })
          reconcileTime.observe({ controller }, seconds)
          // A controller's queue has the controller's name; a reconcile is its queue's unit of work.
          workDuration.observe({ name: controller }, seconds)
        }),
      reconcileError: (terminal) =>
        Effect.sync(() => {
          reconcileErrors.inc({ controller })
          if (terminal) terminalReconcileErrors.inc({ controller })
        }),
      activeWorkers: (delta) => Effect.sync(() => activeWorkers.add({ controller }, delta)),
      maxConcurrentReconciles: (n) => Effect.sync(() => maxConcurrent.set({ controller }, n))
    }),
    leaderElection: (name) => ({
      setLeader: (leading) => Effect.sync(() => masterStatus.set({ name }, leading ? 1 : 0))
    }),
    outbox: {
      occupancy: (events) => eventBufferOccupancy.set(undefined, events)
    },
    pullAgent: {
      jobStarted: (id, createdAtMillis) => {
        pendingJobs.set(id, Number.isFinite(createdAtMillis) ? createdAtMillis : now())
      },
      jobFinished: (id, applied) => {
        pendingJobs.delete(id)
        if (applied) appliedJobs.inc()
      }
    },
    connectivity: {
      state: (mode, read) => {
        connectivityReaders.set(mode, read)
      },
      credentialIssuedAt: (millis) => {
        credentialIssuedAt = millis
      }
    },
    operationFinished: (labels) => operations.inc(labels),
    managedNamespaces: (count) => managedNamespaces.set(undefined, count)
  }
}

/** Runs `f` against the Metrics service when one is provided (components that tests run bare). */
export const observe = (f: (metrics: MetricsService) => void): Effect.Effect<void> =>
  Effect.flatMap(Effect.serviceOption(Metrics), (m) => Effect.sync(() => Option.map(m, f)))

/** The operator's Prometheus metrics: controller-runtime series plus `vworkspace_operator_*`. */
export class Metrics extends Context.Tag("vworkspace/Metrics")<Metrics, MetricsService>() {
  /** With process and Node.js metrics (`process_*`, `nodejs_*`), for the running operator. */
  static readonly live: Layer.Layer<Metrics> = Layer.sync(Metrics, () => makeMetrics({ processMetrics: true }))
  /** The same series without the process ones, for tests. */
  static readonly test: Layer.Layer<Metrics> = Layer.sync(Metrics, () => makeMetrics({ processMetrics: false }))
}
