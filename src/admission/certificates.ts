/**
 * The webhook certificates in the cluster: the Secret that holds them, the caBundle of the
 * ValidatingWebhookConfiguration, and loading the serving pair on every replica.
 *
 * Writes are conflict-safe (create, or a merge patch carrying the resourceVersion read), so two
 * replicas that both write lose nothing: the loser's write fails with a conflict and its next
 * pass reads the winner's state. The caBundle patch is a strategic merge by webhook name.
 */
import { Effect, Either, Option, Schema } from "effect"
import { KubeApi } from "../kube/KubeApi.js"
import type { KubeError } from "../kube/errors.js"
import type { ResourceType } from "../kube/object.js"
import { withKubeRetry } from "../kube/retry.js"
import { Resources } from "../kube/resources.js"
import { Webhooks } from "../api/wellKnown.js"
import { type CertificateState, joinBundle, planCertificates, splitBundle } from "./certificateRotation.js"
import { type ServingPair, TlsFiles } from "../tls/servingPair.js"
import type { WebhookSettings } from "./settings.js"

export const ValidatingWebhookConfigurations: ResourceType = {
  group: "admissionregistration.k8s.io",
  version: "v1",
  kind: "ValidatingWebhookConfiguration",
  plural: "validatingwebhookconfigurations",
  namespaced: false
}

export const SecretKeys = { ...TlsFiles, caKey: "ca.key" } as const
export const caTrustedSinceAnnotation = "webhook.vworkspace.io/ca-trusted-since"

const TlsSecret = Schema.Struct({
  metadata: Schema.Struct({
    resourceVersion: Schema.optional(Schema.String),
    annotations: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.String }))
  }),
  data: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.String }))
})
const decodeSecret = Schema.decodeUnknownOption(TlsSecret)
const fromBase64 = (s: string | undefined) => (s === undefined ? "" : Buffer.from(s, "base64").toString("utf8"))
const toBase64 = (s: string) => Buffer.from(s, "utf8").toString("base64")

interface StoredSecret {
  readonly resourceVersion: string | undefined
  readonly state: CertificateState | undefined
  readonly pair: ServingPair | undefined
}

const stored = (raw: unknown): StoredSecret => {
  const secret = decodeSecret(raw)
  if (Option.isNone(secret)) return { resourceVersion: undefined, state: undefined, pair: undefined }
  const data = secret.value.data ?? {}
  const pair = { certificatePem: fromBase64(data[SecretKeys.cert]), privateKeyPem: fromBase64(data[SecretKeys.key]) }
  const since = new Date(secret.value.metadata.annotations?.[caTrustedSinceAnnotation] ?? "")
  const bundle = splitBundle(fromBase64(data[SecretKeys.ca]))
  const caKeyPem = fromBase64(data[SecretKeys.caKey])
  const complete = pair.certificatePem !== "" && pair.privateKeyPem !== ""
  return {
    resourceVersion: secret.value.metadata.resourceVersion,
    pair: complete ? pair : undefined,
    state: complete && bundle.length > 0 && caKeyPem !== "" && !Number.isNaN(since.getTime())
      ? { bundle, caKeyPem, leaf: pair, caTrustedSince: since }
      : undefined
  }
}

const readSecret = (settings: WebhookSettings, namespace: string) =>
  Effect.flatMap(KubeApi, (api) =>
    withKubeRetry(api.get(Resources.Secret, settings.secretName, namespace)).pipe(
      Effect.map((s) => Option.some(stored(s))),
      Effect.catchTag("NotFound", () => Effect.succeed(Option.none<StoredSecret>()))
    )
  )

const secretBody = (settings: WebhookSettings, namespace: string, state: CertificateState, resourceVersion: string | undefined) => ({
  apiVersion: "v1",
  kind: "Secret",
  metadata: {
    name: settings.secretName,
    namespace,
    ...(resourceVersion === undefined ? {} : { resourceVersion }),
    annotations: { [caTrustedSinceAnnotation]: state.caTrustedSince.toISOString() },
    labels: { "app.kubernetes.io/managed-by": "vworkspace-operator" }
  },
  type: "kubernetes.io/tls",
  data: {
    [SecretKeys.cert]: toBase64(state.leaf.certificatePem),
    [SecretKeys.key]: toBase64(state.leaf.privateKeyPem),
    [SecretKeys.ca]: toBase64(joinBundle(state.bundle)),
    [SecretKeys.caKey]: toBase64(state.caKeyPem)
  }
})

/** DNS names of the webhook Service, plus the configured extra hosts. */
export const servingHosts = (settings: WebhookSettings, namespace: string): ReadonlyArray<string> => [
  `${settings.serviceName}.${namespace}.svc`,
  `${settings.serviceName}.${namespace}.svc.cluster.local`,
  ...settings.extraHosts
]

const ourWebhooks: ReadonlyArray<string> = [Webhooks.applicationInstance.name, Webhooks.operation.name]

const WebhookConfiguration = Schema.Struct({
  webhooks: Schema.optional(
    Schema.Array(Schema.Struct({ name: Schema.String, clientConfig: Schema.optional(Schema.Struct({ caBundle: Schema.optional(Schema.String) })) }))
  )
})

/** Writes `bundle` into our webhooks' caBundle where it differs. A missing configuration is logged, not an error. */
export const syncCaBundle = (settings: WebhookSettings, bundle: ReadonlyArray<string>): Effect.Effect<void, KubeError, KubeApi> =>
  Effect.gen(function* () {
    const api = yield* KubeApi
    const wanted = toBase64(joinBundle(bundle))
    const raw = yield* withKubeRetry(api.get(ValidatingWebhookConfigurations, settings.configurationName)).pipe(
      Effect.map(Option.some),
      Effect.catchTag("NotFound", () => Effect.succeed(Option.none()))
    )
    if (Option.isNone(raw)) {
      return yield* Effect.logWarning("webhook configuration not found; its caBundle is set once it exists").pipe(
        Effect.annotateLogs({ name: settings.configurationName })
      )
    }
    const decoded = Schema.decodeUnknownEither(WebhookConfiguration)(raw.value)
    const stale = Either.isRight(decoded)
      ? (decoded.right.webhooks ?? []).filter((w) => ourWebhooks.includes(w.name) && w.clientConfig?.caBundle !== wanted)
      : []
    if (stale.length === 0) return
    yield* withKubeRetry(
      api.patch(ValidatingWebhookConfigurations, settings.configurationName, undefined, "strategic", {
        webhooks: stale.map((w) => ({ name: w.name, clientConfig: { caBundle: wanted } }))
      })
    )
    yield* Effect.logInfo("webhook caBundle updated").pipe(Effect.annotateLogs({ name: settings.configurationName, webhooks: stale.map((w) => w.name).join(",") }))
  })

/**
 * One pass of the certificate writer: plan, write the Secret when the plan says so, then keep the
 * caBundle current. A bundle change ends the pass before any leaf from the new CA exists (the
 * plan never does both in one step), so the caBundle always trusts what is served.
 */
export const syncCertificates = (settings: WebhookSettings, namespace: string, now: Date): Effect.Effect<void, KubeError, KubeApi> =>
  Effect.gen(function* () {
    const api = yield* KubeApi
    const current = yield* readSecret(settings, namespace)
    const state = Option.flatMap(current, (c) => Option.fromNullable(c.state))
    const plan = planCertificates(Option.getOrUndefined(state), {
      commonName: settings.serviceName,
      hosts: servingHosts(settings, namespace),
      lifetimes: settings.lifetimes,
      now
    })
    let bundle = Option.getOrUndefined(state)?.bundle
    if (plan._tag === "Write") {
      const body = secretBody(settings, namespace, plan.state, Option.getOrUndefined(current)?.resourceVersion)
      const written = yield* (Option.isNone(current)
        ? api.create(Resources.Secret, body)
        : api.patch(Resources.Secret, settings.secretName, namespace, "merge", body)
      ).pipe(
        Effect.as(true),
        // Another replica wrote first: its state wins, the next pass reads it.
        Effect.catchTags({ Conflict: () => Effect.succeed(false), AlreadyExists: () => Effect.succeed(false) })
      )
      if (!written) return
      bundle = plan.state.bundle
      yield* Effect.logInfo("webhook certificates written").pipe(Effect.annotateLogs({ secret: settings.secretName, why: plan.why }))
    }
    if (bundle !== undefined) yield* syncCaBundle(settings, bundle)
  })

/** The serving pair as the Secret holds it now. */
export const loadPairFromSecret = (settings: WebhookSettings, namespace: string): Effect.Effect<Option.Option<ServingPair>, KubeError, KubeApi> =>
  Effect.map(readSecret(settings, namespace), Option.flatMap((s) => Option.fromNullable(s.pair)))


