/** How the webhook server and its certificates are configured (flags in src/cli/run.ts). */
import { Duration, Option } from "effect"
import { type CertificateLifetimes, defaultLifetimes } from "./certificateRotation.js"

export interface WebhookSettings {
  /** 0: no webhook server. */
  readonly port: number
  /** Undefined: every interface. */
  readonly host: string | undefined
  /** The ValidatingWebhookConfiguration whose caBundle the operator keeps current. */
  readonly configurationName: string
  /** The Secret (in the operator's namespace) holding the CA and the serving certificate. */
  readonly secretName: string
  /** The Service in front of the server; its DNS names go into the serving certificate. */
  readonly serviceName: string
  /** cert-manager mode: read tls.crt and tls.key from this directory; write and patch nothing. */
  readonly certDir: Option.Option<string>
  /** Names the serving certificate covers besides the Service's (tests add 127.0.0.1). */
  readonly extraHosts: ReadonlyArray<string>
  readonly lifetimes: CertificateLifetimes
  /** How often the leader checks the certificates and the caBundle. */
  readonly checkInterval: Duration.Duration
  /** How often every replica reloads the serving certificate. */
  readonly reloadInterval: Duration.Duration
}

export const defaultWebhookSettings: WebhookSettings = {
  port: 0,
  host: undefined,
  configurationName: "vworkspace-operator",
  secretName: "vworkspace-operator-webhook-tls",
  serviceName: "vworkspace-operator-webhook",
  certDir: Option.none(),
  extraHosts: [],
  lifetimes: defaultLifetimes,
  checkInterval: Duration.minutes(10),
  reloadInterval: Duration.seconds(30)
}
