/**
 * The operator's configuration, resolved once at start-up from flags and environment.
 * Components read it through the `OperatorConfig` service, so tests set it with a Layer.
 */
import { Context, Duration, Either, Layer, Option, Redacted } from "effect"
import { defaultWebhookSettings, type WebhookSettings } from "./admission/settings.js"
import { NamespaceGate, Names } from "./api/wellKnown.js"
import type { ConnectivityMode } from "./connectivity/modes/mode.js"
import { type LabelSelector, parseLabelSelector } from "./kube/labelSelector.js"
import type { NamespaceAccessConfig } from "./reconcilers/namespaceAccess.js"

/** GitOps mode: the Git repository whose `./clusters/<cluster-id>` Flux applies. */
export interface GitOpsSettings {
  readonly url: string
  readonly branch: string
  readonly interval: Duration.Duration
  /** Secret (in `namespace`) with the Git read credential; absent for a public repository. */
  readonly secretRef: Option.Option<string>
  /** Where the GitRepository and the Kustomization live (Flux's namespace). */
  readonly namespace: string
}

export interface ConnectivityConfig {
  readonly mode: ConnectivityMode
  /** Pull: the long poll's `wait` (the original's `--agent-poll-interval`). */
  readonly pollInterval: Duration.Duration
  /** How often a `ClusterHeartbeat` goes out and the controllers' CRDs are checked. */
  readonly heartbeatInterval: Duration.Duration
  /** `Disconnected=True` only after this long without a successful round trip. */
  readonly disconnectWindow: Duration.Duration
  /** Push and GitOps: also send status to the control plane's events endpoint (Pull always does). */
  readonly reportEvents: boolean
  /** Required in GitOps mode. */
  readonly gitops: Option.Option<GitOpsSettings>
}

export interface OperatorConfigShape {
  /** The cluster this operator serves; objects labelled with another cluster id are refused. */
  readonly clusterId: string | undefined
  /** Namespaces the operator acts in. */
  readonly namespaceSelector: LabelSelector
  /** Where the operator's own objects live (Lease, credentials). */
  readonly podNamespace: string
  readonly maxConcurrentReconciles: number
  /** How often every object is reconciled again even without events. */
  readonly resyncPeriod: Duration.Duration
  readonly connectivity: ConnectivityConfig
  /** HMAC secret of `vws1` approval claims; empty: every claim is refused. */
  readonly approvalClaimSecret: Redacted.Redacted<string>
  /** Where the velero engine creates Backup and Restore objects. */
  readonly veleroNamespace: string
  /**
   * The operator binds this ClusterRole to itself in each namespace that passes the gate
   * (src/reconcilers/namespaceAccess.ts). None: it relies on rights granted otherwise (a run
   * with an admin kubeconfig).
   */
  readonly namespaceAccess: Option.Option<NamespaceAccessConfig>
  /** The validating webhooks and their certificates (port 0: off). */
  readonly webhook: WebhookSettings
}

export class OperatorConfig extends Context.Tag("vworkspace/OperatorConfig")<OperatorConfig, OperatorConfigShape>() {}

const defaultSelector = Either.getOrThrow(parseLabelSelector(NamespaceGate.selector))

export const defaultConnectivityConfig: ConnectivityConfig = {
  mode: "pull",
  pollInterval: Duration.seconds(30),
  heartbeatInterval: Duration.seconds(30),
  disconnectWindow: Duration.minutes(2),
  reportEvents: false,
  gitops: Option.none()
}

export const defaultOperatorConfig: OperatorConfigShape = {
  clusterId: undefined,
  namespaceSelector: defaultSelector,
  podNamespace: Names.defaultOperatorNamespace,
  maxConcurrentReconciles: 4,
  resyncPeriod: Duration.minutes(10),
  connectivity: defaultConnectivityConfig,
  approvalClaimSecret: Redacted.make(""),
  veleroNamespace: Names.defaultVeleroNamespace,
  namespaceAccess: Option.none(),
  webhook: defaultWebhookSettings
}

export const operatorConfigLayer = (overrides: Partial<OperatorConfigShape> = {}) =>
  Layer.succeed(OperatorConfig, { ...defaultOperatorConfig, ...overrides })
