/**
 * The operator's configuration, resolved once at start-up from flags and environment.
 * Components read it through the `OperatorConfig` service, so tests set it with a Layer.
 */
import { Context, Duration, Layer, Redacted } from "effect"
import { NamespaceGate, Names } from "./api/wellKnown.js"
import { type LabelSelector, parseLabelSelector } from "./kube/labelSelector.js"
import { Either } from "effect"

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
  /** HMAC secret of `vws1` approval claims; empty: every claim is refused. */
  readonly approvalClaimSecret: Redacted.Redacted<string>
  /** Where the velero engine creates Backup and Restore objects. */
  readonly veleroNamespace: string
}

export class OperatorConfig extends Context.Tag("vworkspace/OperatorConfig")<OperatorConfig, OperatorConfigShape>() {}

const defaultSelector = Either.getOrThrow(parseLabelSelector(NamespaceGate.selector))

export const defaultOperatorConfig: OperatorConfigShape = {
  clusterId: undefined,
  namespaceSelector: defaultSelector,
  podNamespace: Names.defaultOperatorNamespace,
  maxConcurrentReconciles: 4,
  resyncPeriod: Duration.minutes(10),
  approvalClaimSecret: Redacted.make(""),
  veleroNamespace: Names.defaultVeleroNamespace
}

export const operatorConfigLayer = (overrides: Partial<OperatorConfigShape> = {}) =>
  Layer.succeed(OperatorConfig, { ...defaultOperatorConfig, ...overrides })
