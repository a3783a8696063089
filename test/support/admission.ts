/**
 * What the admission tests share: sending writes as the admin and reading the API server's
 * message (kubectl's text), the objects they send, the chart's webhook configuration pointed at a
 * loopback webhook server, and creating rendered chart objects that are removed when the test's scope closes.
 */
import { Duration, Effect } from "effect"
import { ValidatingWebhookConfigurations } from "../../src/admission/certificates.js"
import { defaultWebhookSettings, type WebhookSettings } from "../../src/admission/settings.js"
import { Webhooks } from "../../src/api/wellKnown.js"
import { KubeApi } from "../../src/kube/KubeApi.js"
import type { KubeObject, ResourceType } from "../../src/kube/object.js"
import { adminRequest } from "./cluster.js"

export const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v)

/** A rendered chart document as a KubeObject (throws on anything else: the chart is broken). */
export const asKubeObject = (o: Record<string, unknown>): KubeObject => {
  const metadata = o["metadata"]
  if (typeof o["apiVersion"] !== "string" || typeof o["kind"] !== "string" || !isRecord(metadata)) throw new Error("not a Kubernetes object")
  return { ...o, apiVersion: o["apiVersion"], kind: o["kind"], metadata }
}

/** Creates `object`, deleting it when the scope closes. */
export const createCleanly = (type: ResourceType, object: KubeObject) =>
  Effect.acquireRelease(
    Effect.flatMap(KubeApi, (api) => api.create(type, object)),
    (created) => Effect.ignore(Effect.flatMap(KubeApi, (api) => api.delete(type, created.metadata.name ?? "", created.metadata.namespace)))
  )

/** POST/PUT/PATCH as the admin, with the API server's status code and message (kubectl's text). */
export const send = (method: string, path: string, body: unknown, contentType = "application/json") =>
  Effect.map(adminRequest({ method, path, body: JSON.stringify(body), contentType, timeout: Duration.seconds(20) }), (r) => {
    const parsed: unknown = JSON.parse(r.body)
    return { status: r.status, message: isRecord(parsed) && typeof parsed["message"] === "string" ? parsed["message"] : "" }
  })

export const aiPath = (ns: string, name = "") => `/apis/apps.vworkspace.io/v1alpha1/namespaces/${ns}/applicationinstances${name ? `/${name}` : ""}`
export const opPath = (ns: string, name = "") => `/apis/ops.vworkspace.io/v1alpha1/namespaces/${ns}/operations${name ? `/${name}` : ""}`

export const runCommandOp = (ns: string, name: string, extra: { readonly target?: string; readonly parameters?: unknown; readonly claim?: string; readonly finalizers?: ReadonlyArray<string> } = {}) => ({
  apiVersion: "ops.vworkspace.io/v1alpha1",
  kind: "Operation",
  metadata: { name, namespace: ns, ...(extra.finalizers ? { finalizers: extra.finalizers } : {}) },
  spec: {
    targetRef: { apiVersion: "apps.vworkspace.io/v1alpha1", kind: "ApplicationInstance", name: extra.target ?? "app" },
    type: "RunCommand",
    engine: "job",
    parameters: extra.parameters ?? { image: "busybox" },
    ...(extra.claim === undefined ? {} : { approvals: { claim: extra.claim } })
  }
})

/** The webhook settings of a chart release named `<release>-vworkspace-operator`, reloading quickly. */
export const releaseWebhookSettings = (fullname: string, extra: Partial<WebhookSettings> = {}): WebhookSettings => ({
  ...defaultWebhookSettings,
  configurationName: fullname,
  secretName: `${fullname}-webhook-tls`,
  serviceName: `${fullname}-webhook`,
  reloadInterval: Duration.millis(100),
  ...extra
})

/**
 * Creates the chart's ValidatingWebhookConfiguration pointed at the webhook server on
 * 127.0.0.1:`port` (the test's operator), matching only namespaces with `labels`, and with
 * `caBundle` when the test plays cainjector.
 */
export const createLoopbackWebhooks = (
  configuration: KubeObject,
  port: number,
  labels: Readonly<Record<string, string>>,
  caBundle?: string
) => {
  const webhooks = Array.isArray(configuration["webhooks"]) ? configuration["webhooks"].filter(isRecord) : []
  const paths: Record<string, string> = { [Webhooks.operation.name]: Webhooks.operation.path, [Webhooks.applicationInstance.name]: Webhooks.applicationInstance.path }
  return createCleanly(ValidatingWebhookConfigurations, {
    ...configuration,
    webhooks: webhooks.map((w) => ({
      ...w,
      clientConfig: { url: `https://127.0.0.1:${port}${paths[String(w["name"])]}`, ...(caBundle === undefined ? {} : { caBundle }) },
      namespaceSelector: { matchLabels: labels }
    }))
  })
}
