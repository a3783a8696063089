/**
 * Spec rules for ApplicationInstance (spec/api.md §7.2.2), shared by the reconciler and the
 * admission webhook. The first failing rule wins; messages keep the original wording.
 * Added over the original: `integrations.ingress.host` is required when ingress is enabled, and
 * the chart URL scheme must fit the source type (`oci://` for oci, `http(s)://` for helm).
 */
import { Data } from "effect"
import type { ApplicationInstance } from "../api/applicationInstance.js"

export class SpecInvalid extends Data.TaggedError("SpecInvalid")<{ readonly message: string }> {}

const blank = (s: string | undefined): boolean => s === undefined || s.trim() === ""

export const validateApplicationInstance = (ai: ApplicationInstance): SpecInvalid | undefined => {
  const fail = (message: string) => new SpecInvalid({ message })
  const spec = ai.spec
  if (spec === undefined || blank(spec.appRef?.catalogId)) return fail("spec.appRef.catalogId is required")
  const namespace = ai.metadata.namespace ?? ""

  if (spec.mode === "placeholder") {
    if (spec.chart !== undefined) return fail("spec.chart must not be set in placeholder mode")
    if (spec.values !== undefined) return fail("spec.values must not be set in placeholder mode")
    if (spec.release !== undefined && !blank(spec.release.namespace) && spec.release.namespace !== namespace) {
      return fail("spec.release.namespace must match metadata.namespace")
    }
    return undefined
  }

  const chart = spec.chart
  if (chart === undefined) return fail("spec.chart is required")
  if (chart.sourceType !== "oci" && chart.sourceType !== "helm") return fail("spec.chart.sourceType must be oci or helm")
  if (blank(chart.url)) return fail("spec.chart.url is required")
  if (chart.sourceType === "oci" && !chart.url.startsWith("oci://")) {
    return fail("spec.chart.url must start with oci:// when sourceType is oci")
  }
  if (chart.sourceType === "helm" && !/^https?:\/\//.test(chart.url)) {
    return fail("spec.chart.url must start with http:// or https:// when sourceType is helm")
  }
  if (blank(chart.name)) return fail("spec.chart.name is required")
  if (blank(chart.version)) return fail("spec.chart.version is required")

  const release = spec.release
  if (release === undefined) return fail("spec.release is required")
  if (blank(release.name)) return fail("spec.release.name is required")
  if (blank(release.namespace)) return fail("spec.release.namespace is required")
  if (release.namespace !== namespace) return fail("spec.release.namespace must match metadata.namespace")

  const values = spec.values
  if (values === undefined) return fail("spec.values is required")
  switch (values.source) {
    case "inline":
      if (values.inline === undefined) return fail("spec.values.inline is required when source is inline")
      break
    case "secretRef":
      if (blank(values.secretRef?.name) || blank(values.secretRef?.key)) {
        return fail("spec.values.secretRef name and key are required when source is secretRef")
      }
      break
    case "configMapRef":
      if (blank(values.configMapRef?.name) || blank(values.configMapRef?.key)) {
        return fail("spec.values.configMapRef name and key are required when source is configMapRef")
      }
      break
    default:
      return fail("spec.values.source must be inline, secretRef, or configMapRef")
  }

  if (spec.integrations?.ingress?.enabled === true && blank(spec.integrations.ingress.host)) {
    return fail("spec.integrations.ingress.host is required when ingress is enabled")
  }
  return undefined
}
