import { Context, Effect, Layer } from "effect"
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client"

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
}

/** Builds every series on a fresh registry, so two instances (two tests) never share state. */
export const makeMetrics = (options: { readonly processMetrics: boolean }): MetricsService => {
  const registry = new Registry()
  const registers = [registry]
  if (options.processMetrics) collectDefaultMetrics({ register: registry })

  const reconcileTotal = new Counter({
    name: "controller_runtime_reconcile_total",
    help: "Total number of reconciliations per controller",
    labelNames: ["controller", "result"] as const,
    registers
  })
  const reconcileErrors = new Counter({
    name: "controller_runtime_reconcile_errors_total",
    help: "Total number of reconciliation errors per controller",
    labelNames: ["controller"] as const,
    registers
  })
  const terminalReconcileErrors = new Counter({
    name: "controller_runtime_terminal_reconcile_errors_total",
    help: "Total number of terminal reconciliation errors per controller",
    labelNames: ["controller"] as const,
    registers
  })
  const reconcileTime = new Histogram({
    name: "controller_runtime_reconcile_time_seconds",
    help: "Length of time per reconciliation per controller",
    labelNames: ["controller"] as const,
    buckets: reconcileTimeBuckets,
    registers
  })
  const activeWorkers = new Gauge({
    name: "controller_runtime_active_workers",
    help: "Number of currently used workers per controller",
    labelNames: ["controller"] as const,
    registers
  })
  const maxConcurrent = new Gauge({
    name: "controller_runtime_max_concurrent_reconciles",
    help: "Maximum number of concurrent reconciles per controller",
    labelNames: ["controller"] as const,
    registers
  })
  const depth = new Gauge({
    name: "workqueue_depth",
    help: "Current depth of workqueue",
    labelNames: ["name"] as const,
    registers
  })
  const adds = new Counter({
    name: "workqueue_adds_total",
    help: "Total number of adds handled by workqueue",
    labelNames: ["name"] as const,
    registers
  })
  const retries = new Counter({
    name: "workqueue_retries_total",
    help: "Total number of retries handled by workqueue",
    labelNames: ["name"] as const,
    registers
  })
  const queueDuration = new Histogram({
    name: "workqueue_queue_duration_seconds",
    help: "How long in seconds an item stays in workqueue before being requested",
    labelNames: ["name"] as const,
    buckets: queueDurationBuckets,
    registers
  })
  const relists = new Counter({
    name: "vworkspace_operator_informer_relists_total",
    help: "Full lists an informer made after its first one (after a 410, or when a watch could not resume)",
    labelNames: ["kind"] as const,
    registers
  })
  const watchGone = new Counter({
    name: "vworkspace_operator_informer_watch_gone_total",
    help: "Watches that ended with 410 Gone (resourceVersion too old)",
    labelNames: ["kind"] as const,
    registers
  })
  const watchReconnects = new Counter({
    name: "vworkspace_operator_informer_watch_reconnects_total",
    help: "Watches an informer reopened after the previous one ended or failed",
    labelNames: ["kind"] as const,
    registers
  })
  const cacheObjects = new Gauge({
    name: "vworkspace_operator_informer_cache_objects",
    help: "Objects currently held in an informer cache",
    labelNames: ["kind"] as const,
    registers
  })
  const masterStatus = new Gauge({
    name: "leader_election_master_status",
    help: "1 while this process holds the leader-election lease, 0 otherwise",
    labelNames: ["name"] as const,
    registers
  })
  const eventBufferOccupancy = new Gauge({
    name: "vworkspace_operator_event_buffer_occupancy",
    help: "Events waiting in the outbound event buffer (the outbox) for delivery to the control plane",
    registers
  })

  return {
    registry,
    contentType: registry.contentType,
    render: Effect.promise(() => registry.metrics()),
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
        }),
      reconcileError: (terminal) =>
        Effect.sync(() => {
          reconcileErrors.inc({ controller })
          if (terminal) terminalReconcileErrors.inc({ controller })
        }),
      activeWorkers: (delta) => Effect.sync(() => activeWorkers.inc({ controller }, delta)),
      maxConcurrentReconciles: (n) => Effect.sync(() => maxConcurrent.set({ controller }, n))
    }),
    leaderElection: (name) => ({
      setLeader: (leading) => Effect.sync(() => masterStatus.set({ name }, leading ? 1 : 0))
    }),
    outbox: {
      occupancy: (events) => eventBufferOccupancy.set(events)
    }
  }
}

/** The operator's Prometheus metrics: controller-runtime series plus `vworkspace_operator_*`. */
export class Metrics extends Context.Tag("vworkspace/Metrics")<Metrics, MetricsService>() {
  /** With Node.js process metrics (`process_*`, `nodejs_*`), for the running operator. */
  static readonly live: Layer.Layer<Metrics> = Layer.sync(Metrics, () => makeMetrics({ processMetrics: true }))
  /** The same series without process collectors (they install global observers), for tests. */
  static readonly test: Layer.Layer<Metrics> = Layer.sync(Metrics, () => makeMetrics({ processMetrics: false }))
}
