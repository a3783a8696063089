import { describe, expect, it } from "vitest"
import type { ApplicationInstance } from "../../src/api/applicationInstance.js"
import { validateApplicationInstance } from "../../src/validation/applicationInstance.js"

type AI = typeof ApplicationInstance.Type
type Spec = NonNullable<AI["spec"]>

const managed: Spec = {
  appRef: { catalogId: "shop" },
  chart: { sourceType: "helm", url: "https://charts.example.test", name: "shop", version: "1.0.0" },
  release: { name: "shop", namespace: "org-a" },
  values: { source: "inline", inline: {} }
}

const check = (spec: Spec) =>
  validateApplicationInstance({
    apiVersion: "apps.vworkspace.io/v1alpha1",
    kind: "ApplicationInstance",
    metadata: { name: "shop", namespace: "org-a" },
    spec
  })?.message

describe("ApplicationInstance spec rules", () => {
  it("a complete managed spec and a bare placeholder pass", () => {
    expect(check(managed)).toBeUndefined()
    expect(check({ appRef: { catalogId: "cluster-ops" }, mode: "placeholder" })).toBeUndefined()
  })

  it.each([
    [{ ...managed, appRef: { catalogId: " " } }, "spec.appRef.catalogId is required"],
    [{ ...managed, chart: undefined }, "spec.chart is required"],
    [{ ...managed, chart: { ...managed.chart!, url: "oci://x/y" } }, "spec.chart.url must start with http:// or https:// when sourceType is helm"],
    [{ ...managed, chart: { ...managed.chart!, sourceType: "oci" as const } }, "spec.chart.url must start with oci:// when sourceType is oci"],
    [{ ...managed, chart: { ...managed.chart!, version: "" } }, "spec.chart.version is required"],
    [{ ...managed, release: undefined }, "spec.release is required"],
    [{ ...managed, release: { name: "shop", namespace: "org-b" } }, "spec.release.namespace must match metadata.namespace"],
    [{ ...managed, values: undefined }, "spec.values is required"],
    [{ ...managed, values: { source: "inline" as const } }, "spec.values.inline is required when source is inline"],
    [
      { ...managed, values: { source: "secretRef" as const, secretRef: { name: "v", key: "" } } },
      "spec.values.secretRef name and key are required when source is secretRef"
    ],
    [{ ...managed, values: { source: "configMapRef" as const } }, "spec.values.configMapRef name and key are required when source is configMapRef"],
    [{ ...managed, integrations: { ingress: { enabled: true } } }, "spec.integrations.ingress.host is required when ingress is enabled"],
    [{ appRef: { catalogId: "x" }, mode: "placeholder" as const, chart: managed.chart }, "spec.chart must not be set in placeholder mode"],
    [{ appRef: { catalogId: "x" }, mode: "placeholder" as const, values: managed.values }, "spec.values must not be set in placeholder mode"],
    [
      { ...managed, values: { source: "inline" as const, inline: { db: { password: "hunter2" } } } },
      'inline secret material rejected at "db.password": use secretRef or configMapRef'
    ],
    [{ ...managed, appRef: { catalogId: "seaweedfs" } }, "spec.chart must not be set for native SeaweedFS workloads"],
    [{ ...managed, appRef: { catalogId: "seaweedfs" }, chart: undefined, values: undefined }, "spec.values is required"],
    [
      { appRef: { catalogId: "x" }, mode: "placeholder" as const, release: { name: "r", namespace: "elsewhere" } },
      "spec.release.namespace must match metadata.namespace"
    ]
  ])("rejects %#: %s", (spec, message) => {
    expect(check(spec as Spec)).toBe(message)
  })
})
