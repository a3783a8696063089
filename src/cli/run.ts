/**
 * `vworkspace-operator run`: the operator process. Flags fall back to environment variables, so
 * the Helm chart can set either.
 */
import { Command, Options } from "@effect/cli"
import { Config, Duration, Effect, Either, Layer, LogLevel, Option, Redacted } from "effect"
import { defaultWebhookSettings } from "../admission/settings.js"
import { Names } from "../api/wellKnown.js"
import { OperatorConfig, defaultOperatorConfig } from "../config.js"
import { ConnectivityModes, parseConnectivityMode } from "../connectivity/modes/mode.js"
import { KubeApiLive } from "../kube/KubeApiLive.js"
import { parseLabelSelector } from "../kube/labelSelector.js"
import * as Log from "../observability/logger.js"
import { Metrics } from "../observability/metrics.js"
import { startOperator } from "../operator.js"
import { parseBindAddress } from "../runtime/health.js"

/** A text flag that falls back to an environment variable, then to its default. */
const textFlag = (name: string, env: string, fallback: string) =>
  Options.text(name).pipe(Options.withFallbackConfig(Config.string(env)), Options.withDefault(fallback))
const optionalTextFlag = (name: string, env: string) =>
  Options.text(name).pipe(Options.withFallbackConfig(Config.string(env)), Options.optional)

const options = {
  kubeconfig: Options.file("kubeconfig").pipe(
    Options.withDescription("Kubeconfig file; default: $KUBECONFIG, ~/.kube/config, then the in-cluster service account"),
    Options.optional
  ),
  healthProbeBindAddress: textFlag("health-probe-bind-address", "HEALTH_PROBE_BIND_ADDRESS", ":8081").pipe(
    Options.withDescription("Where /healthz, /readyz and /metrics are served")
  ),
  leaderElect: Options.boolean("leader-elect").pipe(
    Options.withDescription("Elect a leader through a Lease so that several replicas are safe")
  ),
  leaderElectionId: Options.text("leader-election-id").pipe(
    Options.withDefault("dad03b25.vworkspace.io"),
    Options.withDescription("Name of the leader-election Lease")
  ),
  podNamespace: textFlag("pod-namespace", "POD_NAMESPACE", Names.defaultOperatorNamespace).pipe(
    Options.withDescription("The operator's own namespace (Lease, credentials)")
  ),
  clusterId: optionalTextFlag("cluster-id", "VWORKSPACE_CLUSTER_ID").pipe(
    Options.withDescription("This cluster's id; objects labelled with another app.vworkspace.io/cluster-id are refused")
  ),
  namespaceSelector: textFlag(
    "namespace-selector",
    "VWORKSPACE_NAMESPACE_SELECTOR",
    defaultOperatorConfig.namespaceSelector.text
  ).pipe(Options.withDescription("Label selector of the namespaces the operator acts in")),
  watchNamespace: optionalTextFlag("watch-namespace", "WATCH_NAMESPACE").pipe(
    Options.withDescription("Act in this namespace only (default: every namespace that passes the selector)")
  ),
  maxConcurrentReconciles: Options.integer("max-concurrent-reconciles").pipe(Options.withDefault(4)),
  resyncPeriod: Options.integer("resync-period-seconds").pipe(
    Options.withDefault(600),
    Options.withDescription("Reconcile every object again this often, even without events")
  ),
  connectivityMode: textFlag("connectivity-mode", "VWORKSPACE_CONNECTIVITY_MODE", "pull").pipe(
    Options.withDescription(`How intent reaches the cluster: ${ConnectivityModes.join(", ")}`)
  ),
  pollInterval: Options.integer("agent-poll-interval-seconds").pipe(
    Options.withFallbackConfig(Config.integer("VWORKSPACE_AGENT_POLL_INTERVAL_SECONDS")),
    Options.withDefault(30),
    Options.withDescription("Pull: how long each long poll of GET /api/agent/jobs waits (wait=)")
  ),
  heartbeatInterval: Options.integer("heartbeat-interval-seconds").pipe(
    Options.withFallbackConfig(Config.integer("VWORKSPACE_HEARTBEAT_INTERVAL_SECONDS")),
    Options.withDefault(30),
    Options.withDescription("How often a ClusterHeartbeat is sent and the controllers' CRDs are checked")
  ),
  disconnectWindow: Options.integer("disconnect-window-seconds").pipe(
    Options.withFallbackConfig(Config.integer("VWORKSPACE_DISCONNECT_WINDOW_SECONDS")),
    Options.withDefault(120),
    Options.withDescription("Disconnected=True only after this long without a successful round trip")
  ),
  reportEvents: Options.boolean("report-events").pipe(
    Options.withFallbackConfig(Config.boolean("VWORKSPACE_REPORT_EVENTS")),
    Options.withDescription("Push and GitOps: also send status to the control plane's events endpoint (needs a registered Cluster)")
  ),
  gitopsUrl: optionalTextFlag("gitops-url", "VWORKSPACE_GITOPS_URL").pipe(
    Options.withDescription("GitOps: the Git repository Flux applies ./clusters/<cluster-id> from")
  ),
  gitopsBranch: textFlag("gitops-branch", "VWORKSPACE_GITOPS_BRANCH", "main"),
  gitopsInterval: Options.integer("gitops-interval-seconds").pipe(Options.withDefault(60)),
  gitopsSecret: optionalTextFlag("gitops-secret", "VWORKSPACE_GITOPS_SECRET").pipe(
    Options.withDescription("GitOps: Secret with the Git read credential, in the GitOps namespace")
  ),
  gitopsNamespace: textFlag("gitops-namespace", "VWORKSPACE_GITOPS_NAMESPACE", "flux-system").pipe(
    Options.withDescription("GitOps: where the GitRepository and Kustomization live")
  ),
  approvalClaimSecret: Options.redacted("approval-claim-secret").pipe(
    Options.withFallbackConfig(Config.redacted("VWORKSPACE_APPROVAL_CLAIM_SECRET")),
    Options.optional,
    Options.withDescription("HMAC secret of vws1 approval claims (prefer the environment variable: flags show in ps)")
  ),
  veleroNamespace: textFlag("velero-namespace", "VELERO_NAMESPACE", Names.defaultVeleroNamespace).pipe(
    Options.withDescription("Namespace of Velero's Backup and Restore objects")
  ),
  webhookPort: Options.integer("webhook-port").pipe(
    Options.withDefault(9443),
    Options.withDescription("Port of the validating webhooks (HTTPS); 0 turns the webhook server off")
  ),
  webhookHost: optionalTextFlag("webhook-host", "VWORKSPACE_WEBHOOK_HOST").pipe(
    Options.withDescription("Address the webhook server binds (default: every interface)")
  ),
  webhookConfigurationName: Options.text("webhook-configuration-name").pipe(
    Options.withDefault(defaultWebhookSettings.configurationName),
    Options.withDescription("ValidatingWebhookConfiguration whose caBundle the operator keeps current")
  ),
  webhookSecretName: Options.text("webhook-secret-name").pipe(
    Options.withDefault(defaultWebhookSettings.secretName),
    Options.withDescription("Secret (in the pod namespace) holding the webhook CA and serving certificate")
  ),
  webhookServiceName: Options.text("webhook-service-name").pipe(
    Options.withDefault(defaultWebhookSettings.serviceName),
    Options.withDescription("Service in front of the webhook server (its DNS names go into the certificate)")
  ),
  webhookCertDir: optionalTextFlag("webhook-cert-dir", "VWORKSPACE_WEBHOOK_CERT_DIR").pipe(
    Options.withDescription("cert-manager mode: read tls.crt and tls.key from here; the operator then writes no certificate")
  ),
  logLevel: Options.choice("log-level", ["trace", "debug", "info", "warn", "error"]).pipe(
    Options.withFallbackConfig(Config.literal("trace", "debug", "info", "warn", "error")("LOG_LEVEL")),
    Options.withDefault("info" as const)
  )
}

const levels = {
  trace: LogLevel.Trace,
  debug: LogLevel.Debug,
  info: LogLevel.Info,
  warn: LogLevel.Warning,
  error: LogLevel.Error
} as const

export const runCommand = Command.make("run", options, (o) =>
  Effect.gen(function* () {
    const selector = parseLabelSelector(o.namespaceSelector)
    if (Either.isLeft(selector)) return yield* Effect.fail(selector.left)
    const healthProbe = yield* parseBindAddress(o.healthProbeBindAddress)
    const mode = parseConnectivityMode(o.connectivityMode)
    if (Either.isLeft(mode)) return yield* Effect.fail(mode.left)
    const config = Layer.succeed(OperatorConfig, {
      ...defaultOperatorConfig,
      clusterId: Option.getOrUndefined(o.clusterId),
      namespaceSelector: selector.right,
      podNamespace: o.podNamespace,
      maxConcurrentReconciles: o.maxConcurrentReconciles,
      resyncPeriod: Duration.seconds(o.resyncPeriod),
      connectivity: {
        mode: mode.right,
        pollInterval: Duration.seconds(o.pollInterval),
        heartbeatInterval: Duration.seconds(o.heartbeatInterval),
        disconnectWindow: Duration.seconds(o.disconnectWindow),
        reportEvents: o.reportEvents,
        gitops: Option.map(o.gitopsUrl, (url) => ({
          url,
          branch: o.gitopsBranch,
          interval: Duration.seconds(o.gitopsInterval),
          secretRef: o.gitopsSecret,
          namespace: o.gitopsNamespace
        }))
      },
      approvalClaimSecret: Redacted.make(
        Option.match(o.approvalClaimSecret, { onNone: () => "", onSome: (s) => Redacted.value(s).trim() })
      ),
      veleroNamespace: o.veleroNamespace,
      webhook: {
        ...defaultWebhookSettings,
        port: o.webhookPort,
        host: Option.getOrUndefined(o.webhookHost),
        configurationName: o.webhookConfigurationName,
        secretName: o.webhookSecretName,
        serviceName: o.webhookServiceName,
        certDir: o.webhookCertDir
      }
    })
    const kube = Option.match(o.kubeconfig, {
      onNone: () => KubeApiLive.fromDefault,
      onSome: (path) => KubeApiLive.fromKubeconfigFile(path)
    })
    yield* Effect.logInfo("starting operator")
    yield* Effect.scoped(
      Effect.flatMap(
        startOperator({
          healthProbe,
          watchNamespace: Option.getOrUndefined(o.watchNamespace),
          leaderElection: o.leaderElect ? { leaseName: o.leaderElectionId, namespace: o.podNamespace } : undefined
        }),
        (manager) => manager.wait
      )
    ).pipe(Effect.provide(Layer.mergeAll(config, kube, Metrics.live)))
  }).pipe(Effect.provide(Log.layer({ level: levels[o.logLevel] })))
).pipe(Command.withDescription("Run the operator (the default in the container image)"))
