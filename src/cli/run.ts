/**
 * `vworkspace-operator run`: the operator process. Flags fall back to environment variables, so
 * the Helm chart can set either. Parsed with node:util `parseArgs` rather than @effect/cli: the
 * process that runs in every cluster does not load a CLI framework (about 10 MiB) to read a few
 * flags. One table below describes every flag, its variable, default and help line.
 */
import * as fs from "node:fs"
import { parseArgs } from "node:util"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Console, Data, Duration, Effect, Either, Layer, LogLevel, Option, Redacted } from "effect"
import { defaultWebhookSettings } from "../admission/settings.js"
import { Names } from "../api/wellKnown.js"
import { OperatorConfig, defaultOperatorConfig } from "../config.js"
import { ConnectivityModes, parseConnectivityMode } from "../connectivity/modes/mode.js"
import { KubeApiLive } from "../kube/KubeApiLive.js"
import { parseLabelSelector } from "../kube/labelSelector.js"
import * as Log from "../observability/logger.js"
import { Metrics } from "../observability/metrics.js"
import { tracingLayer } from "../observability/tracing.js"
import { operatorVersion } from "../observability/version.js"
import { startOperator } from "../operator.js"
import { parseBindAddress } from "../runtime/health.js"

export const runDescription = "Run the operator (the default in the container image)"

export class RunUsageError extends Data.TaggedError("RunUsageError")<{ readonly message: string }> {}

interface Flag {
  readonly kind: "text" | "integer" | "boolean" | "secret" | "file"
  /** The environment variable read when the flag is absent. */
  readonly env?: string
  /** Absent: the flag is optional. */
  readonly fallback?: string
  readonly choices?: ReadonlyArray<string>
  readonly help?: string
}

const logLevels = ["trace", "debug", "info", "warn", "error"] as const

const flags = {
  kubeconfig: {
    kind: "file",
    help: "Kubeconfig file; default: $KUBECONFIG, ~/.kube/config, then the in-cluster service account"
  },
  "health-probe-bind-address": {
    kind: "text",
    env: "HEALTH_PROBE_BIND_ADDRESS",
    fallback: ":8081",
    help: "Where /healthz and /readyz are served"
  },
  "metrics-bind-address": {
    kind: "text",
    env: "METRICS_BIND_ADDRESS",
    fallback: ":8443",
    help: 'Where /metrics is served; "0" turns it off'
  },
  "metrics-secure": {
    kind: "text",
    env: "METRICS_SECURE",
    fallback: "true",
    choices: ["true", "false"],
    help: "HTTPS with TokenReview and SubjectAccessReview (get /metrics); false serves plain HTTP"
  },
  "metrics-cert-dir": {
    kind: "text",
    env: "VWORKSPACE_METRICS_CERT_DIR",
    help: "Serve /metrics with tls.crt and tls.key from here (e.g. cert-manager's), reloaded on renewal; default: self-signed"
  },
  "tracing-endpoint": {
    kind: "text",
    env: "TRACING_ENDPOINT",
    help: "OTLP/HTTP base URL to send traces to (one span per reconcile and per Pull job); empty: off"
  },
  "leader-elect": { kind: "boolean", help: "Elect a leader through a Lease so that several replicas are safe" },
  "leader-election-id": { kind: "text", fallback: "dad03b25.vworkspace.io", help: "Name of the leader-election Lease" },
  "pod-namespace": {
    kind: "text",
    env: "POD_NAMESPACE",
    fallback: Names.defaultOperatorNamespace,
    help: "The operator's own namespace (Lease, credentials)"
  },
  "cluster-id": {
    kind: "text",
    env: "VWORKSPACE_CLUSTER_ID",
    help: "This cluster's id; objects labelled with another app.vworkspace.io/cluster-id are refused"
  },
  "namespace-selector": {
    kind: "text",
    env: "VWORKSPACE_NAMESPACE_SELECTOR",
    fallback: defaultOperatorConfig.namespaceSelector.text,
    help: "Label selector of the namespaces the operator acts in"
  },
  "watch-namespace": {
    kind: "text",
    env: "WATCH_NAMESPACE",
    help: "Act in this namespace only (default: every namespace that passes the selector)"
  },
  "cluster-name": {
    kind: "text",
    env: "VWORKSPACE_CLUSTER_NAME",
    help: "Reconcile only the Cluster object of this name (default: every Cluster)"
  },
  "max-concurrent-reconciles": { kind: "integer", fallback: "4" },
  "resync-period-seconds": {
    kind: "integer",
    fallback: "600",
    help: "Reconcile every object again this often, even without events"
  },
  "connectivity-mode": {
    kind: "text",
    env: "VWORKSPACE_CONNECTIVITY_MODE",
    fallback: "pull",
    help: `How intent reaches the cluster: ${ConnectivityModes.join(", ")}`
  },
  "agent-poll-interval-seconds": {
    kind: "integer",
    env: "VWORKSPACE_AGENT_POLL_INTERVAL_SECONDS",
    fallback: "30",
    help: "Pull: how long each long poll of GET /api/agent/jobs waits (wait=)"
  },
  "heartbeat-interval-seconds": {
    kind: "integer",
    env: "VWORKSPACE_HEARTBEAT_INTERVAL_SECONDS",
    fallback: "30",
    help: "How often a ClusterHeartbeat is sent and the controllers' CRDs are checked"
  },
  "disconnect-window-seconds": {
    kind: "integer",
    env: "VWORKSPACE_DISCONNECT_WINDOW_SECONDS",
    fallback: "120",
    help: "Disconnected=True only after this long without a successful round trip"
  },
  "report-events": {
    kind: "boolean",
    env: "VWORKSPACE_REPORT_EVENTS",
    help: "Push and GitOps: also send status to the control plane's events endpoint (needs a registered Cluster)"
  },
  "gitops-url": {
    kind: "text",
    env: "VWORKSPACE_GITOPS_URL",
    help: "GitOps: the Git repository Flux applies ./clusters/<cluster-id> from"
  },
  "gitops-branch": { kind: "text", env: "VWORKSPACE_GITOPS_BRANCH", fallback: "main" },
  "gitops-interval-seconds": { kind: "integer", fallback: "60" },
  "gitops-secret": {
    kind: "text",
    env: "VWORKSPACE_GITOPS_SECRET",
    help: "GitOps: Secret with the Git read credential, in the GitOps namespace"
  },
  "gitops-namespace": {
    kind: "text",
    env: "VWORKSPACE_GITOPS_NAMESPACE",
    fallback: "flux-system",
    help: "GitOps: where the GitRepository and Kustomization live"
  },
  "approval-claim-secret": {
    kind: "secret",
    env: "VWORKSPACE_APPROVAL_CLAIM_SECRET",
    help: "HMAC secret of vws1 approval claims (prefer the environment variable: flags show in ps)"
  },
  "namespace-access-role": {
    kind: "text",
    env: "VWORKSPACE_NAMESPACE_ACCESS_ROLE",
    help: "ClusterRole the operator binds to its ServiceAccount in each gated namespace (the chart's <fullname>-managed-namespace)"
  },
  "namespace-access-service-account": {
    kind: "text",
    env: "VWORKSPACE_NAMESPACE_ACCESS_SERVICE_ACCOUNT",
    help: "The operator's own ServiceAccount (in --pod-namespace), the subject of those RoleBindings"
  },
  "velero-namespace": {
    kind: "text",
    env: "VELERO_NAMESPACE",
    fallback: Names.defaultVeleroNamespace,
    help: "Namespace of Velero's Backup and Restore objects"
  },
  "webhook-port": {
    kind: "integer",
    fallback: "9443",
    help: "Port of the validating webhooks (HTTPS); 0 turns the webhook server off"
  },
  "webhook-host": {
    kind: "text",
    env: "VWORKSPACE_WEBHOOK_HOST",
    help: "Address the webhook server binds (default: every interface)"
  },
  "webhook-configuration-name": {
    kind: "text",
    fallback: defaultWebhookSettings.configurationName,
    help: "ValidatingWebhookConfiguration whose caBundle the operator keeps current"
  },
  "webhook-secret-name": {
    kind: "text",
    fallback: defaultWebhookSettings.secretName,
    help: "Secret (in the pod namespace) holding the webhook CA and serving certificate"
  },
  "webhook-service-name": {
    kind: "text",
    fallback: defaultWebhookSettings.serviceName,
    help: "Service in front of the webhook server (its DNS names go into the certificate)"
  },
  "webhook-cert-dir": {
    kind: "text",
    env: "VWORKSPACE_WEBHOOK_CERT_DIR",
    help: "cert-manager mode: read tls.crt and tls.key from here; the operator then writes no certificate"
  },
  "log-level": { kind: "text", env: "LOG_LEVEL", fallback: "info", choices: logLevels }
} as const satisfies Record<string, Flag>

type FlagName = keyof typeof flags

const isFlagName = (name: string): name is FlagName => name in flags
const flagEntries: ReadonlyArray<readonly [FlagName, Flag]> = Object.keys(flags)
  .filter(isFlagName)
  .map((name) => [name, flags[name]] as const)

export const runUsage = [
  `vworkspace-operator run [flags]`,
  "",
  runDescription,
  "",
  ...flagEntries.map(([name, f]) => {
    const value = f.kind === "boolean" ? "" : f.choices ? ` ${f.choices.join("|")}` : f.kind === "integer" ? " <integer>" : f.kind === "file" ? " <file>" : " <text>"
    const details = [
      f.help,
      f.env === undefined ? undefined : `env ${f.env}`,
      f.fallback === undefined ? undefined : `default ${f.fallback === "" ? '""' : f.fallback}`
    ].filter((d) => d !== undefined)
    return `  --${name}${value}\n      ${details.join("; ")}`
  }),
  "  --help\n      Show this help"
].join("\n")

/** What the flags say, with environment variables and defaults applied; values still raw text. */
interface RawFlags {
  readonly text: (name: FlagName) => string | undefined
  readonly set: (name: FlagName) => boolean
}

const booleanText: Readonly<Record<string, boolean>> = { true: true, yes: true, on: true, "1": true, y: true, false: false, no: false, off: false, "0": false, n: false }

const readFlags = (
  argv: ReadonlyArray<string>,
  env: Readonly<Record<string, string | undefined>>
): Either.Either<{ readonly raw: RawFlags; readonly help: boolean }, RunUsageError> => {
  // `--leader-elect=false` (as the chart writes it) besides a bare `--leader-elect`.
  const explicit = new Map<string, string>()
  const args = argv.filter((arg) => {
    const m = /^--([a-z-]+)=(.*)$/s.exec(arg)
    const name = m?.[1] ?? ""
    if (m === null || !isFlagName(name) || flags[name].kind !== "boolean") return true
    explicit.set(name, m[2] ?? "")
    return false
  })
  let parsed: ReturnType<typeof parseArgs>["values"]
  try {
    parsed = parseArgs({
      args,
      options: {
        ...Object.fromEntries(flagEntries.map(([name, f]) => [name, { type: f.kind === "boolean" ? "boolean" : "string" }] as const)),
        help: { type: "boolean", short: "h" }
      },
      strict: true,
      allowPositionals: false
    }).values
  } catch (e) {
    return Either.left(new RunUsageError({ message: e instanceof Error ? e.message : String(e) }))
  }
  const text = (name: FlagName): string | undefined => {
    const f: Flag = flags[name]
    const given = explicit.get(name) ?? parsed[name]
    if (typeof given === "string") return given
    if (given === true) return "true"
    const fromEnv = f.env === undefined ? undefined : env[f.env]
    return fromEnv ?? f.fallback
  }
  return Either.right({
    raw: { text, set: (name) => explicit.has(name) || parsed[name] !== undefined },
    help: parsed["help"] === true
  })
}

/** The typed value of each flag, or the error naming the flag and what it takes. */
const decoders = (raw: RawFlags) => {
  const fail = (name: FlagName, what: string, got: string) => {
    const f: Flag = flags[name]
    const source = raw.set(name) || f.env === undefined ? `--${name}` : `--${name} (or ${f.env})`
    return Either.left(new RunUsageError({ message: `${source} ${what}, got "${got}"` }))
  }
  return {
    optional: (name: FlagName): Option.Option<string> => Option.fromNullable(raw.text(name)),
    text: (name: FlagName): Either.Either<string, RunUsageError> => {
      const value = raw.text(name) ?? ""
      const choices: ReadonlyArray<string> | undefined = (flags[name] as Flag).choices
      return choices === undefined || choices.includes(value) ? Either.right(value) : fail(name, `takes one of ${choices.join(", ")}`, value)
    },
    integer: (name: FlagName): Either.Either<number, RunUsageError> => {
      const value = raw.text(name) ?? ""
      const n = Number(value)
      return /^-?\d+$/.test(value.trim()) && Number.isSafeInteger(n) ? Either.right(n) : fail(name, "takes an integer", value)
    },
    boolean: (name: FlagName): Either.Either<boolean, RunUsageError> => {
      const value = raw.text(name)
      if (value === undefined) return Either.right(false)
      const b = booleanText[value.trim().toLowerCase()]
      return b === undefined ? fail(name, "takes true or false", value) : Either.right(b)
    },
    file: (name: FlagName): Either.Either<Option.Option<string>, RunUsageError> => {
      const value = raw.text(name)
      if (value === undefined) return Either.right(Option.none())
      return fs.existsSync(value) ? Either.right(Option.some(value)) : fail(name, "names a file that does not exist", value)
    }
  }
}

const levels = {
  trace: LogLevel.Trace,
  debug: LogLevel.Debug,
  info: LogLevel.Info,
  warn: LogLevel.Warning,
  error: LogLevel.Error
} as const

const isLogLevel = (s: string): s is keyof typeof levels => s in levels

/** `metrics-bind-address` → `metricsBindAddress`: a flag's field in `RunFlags`. */
type FieldName<S extends string> = S extends `${infer Head}-${infer Tail}` ? `${Head}${Capitalize<FieldName<Tail>>}` : S

/**
 * How each flag becomes its typed field: one entry per flag, keyed by its field name. The
 * constraint makes a flag missing here (or an entry without a flag) a type error, and `RunFlags`
 * is what these entries yield, so the table above is the one declaration of the flags.
 */
const decodeAll = (d: ReturnType<typeof decoders>) =>
  ({
    kubeconfig: d.file("kubeconfig"),
    healthProbeBindAddress: d.text("health-probe-bind-address"),
    metricsBindAddress: d.text("metrics-bind-address"),
    metricsSecure: Either.map(d.text("metrics-secure"), (v) => v === "true"),
    metricsCertDir: Either.right(d.optional("metrics-cert-dir")),
    tracingEndpoint: Either.right(Option.filter(Option.map(d.optional("tracing-endpoint"), (e) => e.trim()), (e) => e !== "")),
    leaderElect: d.boolean("leader-elect"),
    leaderElectionId: d.text("leader-election-id"),
    podNamespace: d.text("pod-namespace"),
    clusterId: Either.right(d.optional("cluster-id")),
    namespaceSelector: d.text("namespace-selector"),
    watchNamespace: Either.right(d.optional("watch-namespace")),
    clusterName: Either.right(d.optional("cluster-name")),
    maxConcurrentReconciles: d.integer("max-concurrent-reconciles"),
    resyncPeriodSeconds: d.integer("resync-period-seconds"),
    connectivityMode: d.text("connectivity-mode"),
    agentPollIntervalSeconds: d.integer("agent-poll-interval-seconds"),
    heartbeatIntervalSeconds: d.integer("heartbeat-interval-seconds"),
    disconnectWindowSeconds: d.integer("disconnect-window-seconds"),
    reportEvents: d.boolean("report-events"),
    gitopsUrl: Either.right(d.optional("gitops-url")),
    gitopsBranch: d.text("gitops-branch"),
    gitopsIntervalSeconds: d.integer("gitops-interval-seconds"),
    gitopsSecret: Either.right(d.optional("gitops-secret")),
    gitopsNamespace: d.text("gitops-namespace"),
    approvalClaimSecret: Either.right(Option.map(d.optional("approval-claim-secret"), Redacted.make)),
    namespaceAccessRole: Either.right(d.optional("namespace-access-role")),
    namespaceAccessServiceAccount: Either.right(d.optional("namespace-access-service-account")),
    veleroNamespace: d.text("velero-namespace"),
    webhookPort: d.integer("webhook-port"),
    webhookHost: Either.right(d.optional("webhook-host")),
    webhookConfigurationName: d.text("webhook-configuration-name"),
    webhookSecretName: d.text("webhook-secret-name"),
    webhookServiceName: d.text("webhook-service-name"),
    webhookCertDir: Either.right(d.optional("webhook-cert-dir")),
    logLevel: Either.map(d.text("log-level"), (level) => (isLogLevel(level) ? level : "info"))
  }) satisfies { readonly [K in FlagName as FieldName<K>]: Either.Either<unknown, RunUsageError> }

/** The typed flags of `run`: one field per flag of the table (see `decodeAll`), plus `help`. */
export type RunFlags = Either.Either.Right<ReturnType<typeof parseRunFlags>>

/**
 * The flags of `run` (with environment variables and defaults applied), typed, or the usage error
 * naming the first bad one. Pure: the chart's tests parse its container arguments with it.
 */
export const parseRunFlags = (argv: ReadonlyArray<string>, env: Readonly<Record<string, string | undefined>> = {}) =>
  Either.flatMap(readFlags(argv, env), ({ raw, help }) =>
    Either.map(Either.all(decodeAll(decoders(raw))), (fields) => ({ help, ...fields }))
  )

/** The operator from parsed flags: runs until interrupted (SIGTERM). */
const runOperator = (o: RunFlags) =>
  Effect.gen(function* () {
    const selector = parseLabelSelector(o.namespaceSelector)
    if (Either.isLeft(selector)) return yield* Effect.fail(selector.left)
    const healthProbe = yield* parseBindAddress(o.healthProbeBindAddress)
    const metricsAddress = o.metricsBindAddress.trim() === "0" ? undefined : yield* parseBindAddress(o.metricsBindAddress)
    const mode = parseConnectivityMode(o.connectivityMode)
    if (Either.isLeft(mode)) return yield* Effect.fail(mode.left)
    if (Option.isSome(o.metricsCertDir) && !o.metricsSecure) {
      return yield* Effect.fail(new RunUsageError({ message: "--metrics-cert-dir needs --metrics-secure=true (plain HTTP has no certificate)" }))
    }
    const config = Layer.succeed(OperatorConfig, {
      ...defaultOperatorConfig,
      clusterId: Option.getOrUndefined(o.clusterId),
      namespaceSelector: selector.right,
      podNamespace: o.podNamespace,
      maxConcurrentReconciles: o.maxConcurrentReconciles,
      resyncPeriod: Duration.seconds(o.resyncPeriodSeconds),
      connectivity: {
        mode: mode.right,
        pollInterval: Duration.seconds(o.agentPollIntervalSeconds),
        heartbeatInterval: Duration.seconds(o.heartbeatIntervalSeconds),
        disconnectWindow: Duration.seconds(o.disconnectWindowSeconds),
        reportEvents: o.reportEvents,
        gitops: Option.map(o.gitopsUrl, (url) => ({
          url,
          branch: o.gitopsBranch,
          interval: Duration.seconds(o.gitopsIntervalSeconds),
          secretRef: o.gitopsSecret,
          namespace: o.gitopsNamespace
        }))
      },
      approvalClaimSecret: Redacted.make(
        Option.match(o.approvalClaimSecret, { onNone: () => "", onSome: (s) => Redacted.value(s).trim() })
      ),
      veleroNamespace: o.veleroNamespace,
      namespaceAccess: Option.zipWith(o.namespaceAccessRole, o.namespaceAccessServiceAccount, (clusterRole, serviceAccount) => ({
        clusterRole,
        serviceAccount
      })),
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
          ...(metricsAddress === undefined ? {} : { metrics: { address: metricsAddress, secure: o.metricsSecure, ...Option.match(o.metricsCertDir, { onNone: () => ({}), onSome: (certDir) => ({ certDir }) }) } }),
          watchNamespace: Option.getOrUndefined(o.watchNamespace),
          clusterName: Option.getOrUndefined(o.clusterName),
          leaderElection: o.leaderElect ? { leaseName: o.leaderElectionId, namespace: o.podNamespace } : undefined
        }),
        (manager) => manager.wait
      )
    ).pipe(
      Effect.provide(Layer.mergeAll(config, kube, Metrics.live)),
      Effect.provide(
        Option.match(o.tracingEndpoint, {
          onNone: () => Layer.empty,
          onSome: (endpoint) => tracingLayer({ endpoint, serviceVersion: operatorVersion })
        })
      )
    )
  }).pipe(
    Effect.annotateLogs({ operator_version: operatorVersion, cluster_id: Option.getOrElse(o.clusterId, () => "") }),
    Effect.provide(Log.layer({ level: levels[o.logLevel] }))
  )

/**
 * `run` with its arguments (after the subcommand) and environment: prints help, or runs the
 * operator; a usage error is printed with a pointer to `--help` and fails.
 */
export const runSubcommand = (
  argv: ReadonlyArray<string>,
  env: Readonly<Record<string, string | undefined>> = process.env
): Effect.Effect<void> =>
  Effect.gen(function* () {
    const read = readFlags(argv, env)
    if (Either.isRight(read) && read.right.help) return yield* Console.log(runUsage)
    const flags = parseRunFlags(argv, env)
    if (Either.isLeft(flags)) return yield* Effect.fail(flags.left)
    return yield* runOperator(flags.right)
  }).pipe(
    // Said once, in words (runMain's own report would repeat it with a stack), and exit 1.
    Effect.catchAll((e) =>
      Console.error(
        e instanceof RunUsageError
          ? `vworkspace-operator run: ${e.message}\nSee vworkspace-operator run --help`
          : `vworkspace-operator run: ${typeof e === "object" && e !== null && "message" in e ? String(e.message) : String(e)}`
      ).pipe(Effect.zipRight(Effect.sync(() => process.exit(1))))
    )
  )

/** The process entry of `vworkspace-operator run`. */
export const runMain = (argv: ReadonlyArray<string>): void =>
  // The operator logs JSON through its own logger; the pretty console logger would double every line.
  NodeRuntime.runMain(runSubcommand(argv), { disablePrettyLogger: true })
