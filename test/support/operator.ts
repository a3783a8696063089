/**
 * Runs the real operator program in-process against the test cluster, limited to one namespace
 * so test files running in parallel never reconcile each other's objects.
 */
import { Effect, Layer } from "effect"
import { type OperatorConfigShape, operatorConfigLayer } from "../../src/config.js"
import type { EngineRegistry } from "../../src/engines/engine.js"
import { KubeApiLive } from "../../src/kube/KubeApiLive.js"
import { Metrics } from "../../src/observability/metrics.js"
import type { MetricsServerOptions } from "../../src/observability/metricsServer.js"
import { type OperatorOptions, startOperator } from "../../src/operator.js"
import type { LeaderElectionConfig } from "../../src/runtime/leaderElection.js"
import { kubeconfigPath } from "./cluster.js"
import { collectLogs } from "./collectedLogs.js"

export const kubeLayer = () => KubeApiLive.fromKubeconfigFile(kubeconfigPath())

export const startTestOperator = (options: {
  readonly namespace: string
  readonly config?: Partial<OperatorConfigShape>
  readonly leaderElection?: LeaderElectionConfig
  /** Reconcile this Cluster only; default: the one named after the test namespace. */
  readonly clusterName?: string
  readonly engines?: Layer.Layer<EngineRegistry>
  readonly metrics?: MetricsServerOptions
  readonly informer?: OperatorOptions["informer"]
}) =>
  startOperator({
    healthProbe: { host: "127.0.0.1", port: 0 },
    watchNamespace: options.namespace,
    leaderElection: options.leaderElection,
    clusterName: options.clusterName ?? options.namespace,
    engines: options.engines,
    metrics: options.metrics,
    ...(options.informer ? { informer: options.informer } : {})
  }).pipe(
    Effect.provide(Layer.mergeAll(operatorConfigLayer(options.config), Metrics.test)),
    // Quiet unless asked (VWORKSPACE_TEST_LOG=debug); every line is collected for the log scan.
    collectLogs()
  )
