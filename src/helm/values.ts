/**
 * Helm values the operator puts into a HelmRelease: the user's inline values on top of the
 * fragments that `spec.integrations` stands for. Secret and ConfigMap values never pass through
 * here; they reach Flux by reference (`valuesFrom`).
 */
import type { ApplicationInstance } from "../api/applicationInstance.js"

export type Json = null | boolean | number | string | ReadonlyArray<Json> | { readonly [k: string]: Json }
export type JsonObject = { readonly [k: string]: Json }

export const isJsonObject = (v: unknown): v is JsonObject => typeof v === "object" && v !== null && !Array.isArray(v)

/** Deep merge where `over` wins; arrays are replaced, not concatenated (Helm's own semantics). */
export const mergeValues = (base: JsonObject, over: JsonObject): JsonObject => {
  const out: Record<string, Json> = { ...base }
  for (const [k, v] of Object.entries(over)) {
    const prev = out[k]
    out[k] = isJsonObject(prev) && isJsonObject(v) ? mergeValues(prev, v) : v
  }
  return out
}

type Integrations = NonNullable<NonNullable<ApplicationInstance["spec"]>["integrations"]>

/**
 * The keys follow the most common chart conventions (`ingress.enabled`, `ingress.hostname`,
 * `ingress.hosts`); charts disagree on the shape of `ingress.tls`, so cert-manager and
 * external-secrets are only announced, with the other switches, under
 * `global.vworkspace.integrations` so a chart can read them from one stable place.
 */
export const integrationValues = (integrations: Integrations | undefined): JsonObject => {
  const ingress = integrations?.ingress?.enabled === true
  const certManager = integrations?.certManager?.enabled === true
  const externalSecrets = integrations?.externalSecrets?.enabled === true
  if (!ingress && !certManager && !externalSecrets) return {}
  const host = integrations?.ingress?.host ?? ""
  const global: JsonObject = {
    vworkspace: {
      integrations: {
        ingress: { enabled: ingress, host },
        certManager: { enabled: certManager },
        externalSecrets: { enabled: externalSecrets }
      }
    }
  }
  if (!ingress) return { global }
  return {
    global,
    ingress: {
      enabled: true,
      hostname: host,
      hosts: [{ host, paths: [{ path: "/", pathType: "Prefix" }] }]
    }
  }
}

/** The values written into `HelmRelease.spec.values`: integration fragments, then inline values on top. */
export const releaseValues = (spec: NonNullable<ApplicationInstance["spec"]>): JsonObject => {
  const inline = spec.values?.source === "inline" && isJsonObject(spec.values.inline) ? spec.values.inline : {}
  return mergeValues(integrationValues(spec.integrations), inline)
}
