/**
 * Spec rules for ApplicationInstance (spec/api.md §7.2.2), shared by the reconciler and the
 * admission webhook. The first failing rule wins; messages keep the original wording.
 * Added over the original: the chart URL scheme must fit the source type (`oci://` for oci,
 * `http(s)://` for helm), `integrations.ingress.host` is required when ingress is enabled, and the
 * inline-secret scan runs here too, so an instance admitted without the webhook is still refused.
 */
import { Data } from "effect"
import type { ApplicationInstance } from "../api/applicationInstance.js"
import { findInlineSecret } from "./inlineSecrets.js"

export class SpecInvalid extends Data.TaggedError("SpecInvalid")<{ readonly message: string }> {}

type AI = typeof ApplicationInstance.Type
type Spec = NonNullable<AI["spec"]>

/** The catalog entry that the original served natively (a Seaweed CR instead of Helm). */
export const seaweedCatalogId = "seaweedfs"

const blank = (s: string | undefined): boolean => s === undefined || s.trim() === ""

const releaseProblem = (spec: Spec, namespace: string): string | undefined => {
  const release = spec.release
  if (release === undefined) return "spec.release is required"
  if (blank(release.name)) return "spec.release.name is required"
  if (blank(release.namespace)) return "spec.release.namespace is required"
  if (release.namespace !== namespace) return "spec.release.namespace must match metadata.namespace"
  return undefined
}

const valuesProblem = (spec: Spec): string | undefined => {
  const values = spec.values
  if (values === undefined) return "spec.values is required"
  switch (values.source) {
    case "inline":
      return values.inline === undefined ? "spec.values.inline is required when source is inline" : findInlineSecret(values.inline)
    case "secretRef":
      return blank(values.secretRef?.name) || blank(values.secretRef?.key)
        ? "spec.values.secretRef name and key are required when source is secretRef"
        : undefined
    case "configMapRef":
      return blank(values.configMapRef?.name) || blank(values.configMapRef?.key)
        ? "spec.values.configMapRef name and key are required when source is configMapRef"
        : undefined
    default:
      return "spec.values.source must be inline, secretRef, or configMapRef"
  }
}

const chartProblem = (spec: Spec): string | undefined => {
  const chart = spec.chart
  if (chart === undefined) return "spec.chart is required"
  if (chart.sourceType !== "oci" && chart.sourceType !== "helm") return "spec.chart.sourceType must be oci or helm"
  if (blank(chart.url)) return "spec.chart.url is required"
  if (chart.sourceType === "oci" && !chart.url.startsWith("oci://")) {
    return "spec.chart.url must start with oci:// when sourceType is oci"
  }
  if (chart.sourceType === "helm" && !/^https?:\/\//.test(chart.url)) {
    return "spec.chart.url must start with http:// or https:// when sourceType is helm"
  }
  if (blank(chart.name)) return "spec.chart.name is required"
  if (blank(chart.version)) return "spec.chart.version is required"
  return undefined
}

const problemOf = (ai: AI): string | undefined => {
  const spec = ai.spec
  if (spec === undefined || blank(spec.appRef?.catalogId)) return "spec.appRef.catalogId is required"
  const namespace = ai.metadata.namespace ?? ""

  if (spec.mode === "placeholder") {
    if (spec.chart !== undefined) return "spec.chart must not be set in placeholder mode"
    if (spec.values !== undefined) return "spec.values must not be set in placeholder mode"
    if (spec.release !== undefined && !blank(spec.release.namespace) && spec.release.namespace !== namespace) {
      return "spec.release.namespace must match metadata.namespace"
    }
    return undefined
  }
  if (spec.appRef.catalogId === seaweedCatalogId) {
    if (spec.chart !== undefined) return "spec.chart must not be set for native SeaweedFS workloads"
    return releaseProblem(spec, namespace) ?? valuesProblem(spec)
  }
  const problem = chartProblem(spec) ?? releaseProblem(spec, namespace) ?? valuesProblem(spec)
  if (problem !== undefined) return problem
  if (spec.integrations?.ingress?.enabled === true && blank(spec.integrations.ingress.host)) {
    return "spec.integrations.ingress.host is required when ingress is enabled"
  }
  return undefined
}

export const validateApplicationInstance = (ai: AI): SpecInvalid | undefined => {
  const message = problemOf(ai)
  return message === undefined ? undefined : new SpecInvalid({ message })
}
