import { describe, expect, it } from "vitest"
import type { ApplicationInstance } from "../../src/api/applicationInstance.js"
import { desiredRelease } from "../../src/helm/desiredRelease.js"
import { integrationValues, mergeValues, releaseValues } from "../../src/helm/values.js"

type AI = typeof ApplicationInstance.Type

const ai = (spec: Partial<NonNullable<AI["spec"]>>, meta: Partial<AI["metadata"]> = {}): AI => ({
  apiVersion: "apps.vworkspace.io/v1alpha1",
  kind: "ApplicationInstance",
  metadata: { name: "shop", namespace: "org-a", uid: "uid-1", ...meta },
  spec: {
    appRef: { catalogId: "shop" },
    chart: { sourceType: "helm", url: "https://charts.example.test", name: "shop", version: "2.0.0" },
    release: { name: "shop", namespace: "org-a" },
    values: { source: "inline", inline: {} },
    ...spec
  }
})

describe("desiredRelease", () => {
  it("labels children, copies the cluster id, keeps the instance's managed-by", () => {
    const { source, helmRelease } = desiredRelease(
      ai({}, { labels: { "app.vworkspace.io/managed-by": "control-plane", "app.vworkspace.io/cluster-id": "c-1" } })
    )
    for (const o of [source, helmRelease]) {
      expect(o.metadata.labels).toEqual({
        "app.vworkspace.io/managed-by": "control-plane",
        "app.vworkspace.io/application-instance": "shop",
        "app.vworkspace.io/cluster-id": "c-1"
      })
      expect(o.metadata.ownerReferences).toEqual([
        {
          apiVersion: "apps.vworkspace.io/v1alpha1",
          kind: "ApplicationInstance",
          name: "shop",
          uid: "uid-1",
          controller: true,
          blockOwnerDeletion: true
        }
      ])
    }
  })

  it("an OCI chart keeps its oci:// URL, pins the tag and selects the Helm chart layer", () => {
    const { source, helmRelease } = desiredRelease(
      ai({ chart: { sourceType: "oci", url: "oci://registry.example.test/charts/shop", name: "shop", version: "2.0.0" } })
    )
    expect(source).toMatchObject({
      kind: "OCIRepository",
      metadata: { name: "shop-source" },
      spec: {
        url: "oci://registry.example.test/charts/shop",
        ref: { tag: "2.0.0" },
        layerSelector: { mediaType: "application/vnd.cncf.helm.chart.content.v1.tar+gzip", operation: "copy" }
      }
    })
    expect(helmRelease["spec"]).toMatchObject({ chartRef: { kind: "OCIRepository", name: "shop-source" } })
  })

  it("an OCI repository URL gets the chart name appended; an artifact URL is kept", () => {
    const oci = (url: string) =>
      desiredRelease(ai({ chart: { sourceType: "oci", url, name: "podinfo", version: "6.5.0" } })).source["spec"]
    expect(oci("oci://ghcr.io/stefanprodan/charts")).toMatchObject({ url: "oci://ghcr.io/stefanprodan/charts/podinfo" })
    expect(oci("oci://ghcr.io/stefanprodan/charts/")).toMatchObject({ url: "oci://ghcr.io/stefanprodan/charts/podinfo" })
    expect(oci("oci://ghcr.io/stefanprodan/charts/podinfo")).toMatchObject({ url: "oci://ghcr.io/stefanprodan/charts/podinfo" })
  })

  it("suspends the HelmRelease when reconcile is disabled", () => {
    const { helmRelease } = desiredRelease(ai({}, { annotations: { "apps.vworkspace.io/reconcile": "disabled" } }))
    expect(helmRelease["spec"]).toMatchObject({ suspend: true })
    expect(desiredRelease(ai({})).helmRelease["spec"]).toMatchObject({ suspend: false })
  })

  it("values from a Secret are a reference only", () => {
    const { helmRelease } = desiredRelease(ai({ values: { source: "secretRef", secretRef: { name: "v", key: "values.yaml" } } }))
    const spec = helmRelease["spec"] as Record<string, unknown>
    expect(spec["valuesFrom"]).toEqual([{ kind: "Secret", name: "v", valuesKey: "values.yaml" }])
    expect(spec["values"]).toBeUndefined()
  })
})

describe("values", () => {
  it("mergeValues: deep merge, the override wins, arrays are replaced", () => {
    expect(mergeValues({ a: { b: 1, c: [1, 2] }, d: 1 }, { a: { c: [3] }, e: 2 })).toEqual({ a: { b: 1, c: [3] }, d: 1, e: 2 })
  })

  it("integrations become values fragments; inline values take precedence", () => {
    const integrations = { ingress: { enabled: true, host: "shop.example.test" }, certManager: { enabled: true } }
    expect(integrationValues(integrations)).toMatchObject({
      ingress: { enabled: true, hostname: "shop.example.test" },
      global: { vworkspace: { integrations: { certManager: { enabled: true }, externalSecrets: { enabled: false } } } }
    })
    const merged = releaseValues({
      appRef: { catalogId: "shop" },
      values: { source: "inline", inline: { ingress: { hostname: "custom.example.test" } } },
      integrations
    })
    expect(merged).toMatchObject({ ingress: { enabled: true, hostname: "custom.example.test" } })
  })

  it("no integrations, no fragments", () => {
    expect(integrationValues(undefined)).toEqual({})
    expect(integrationValues({ ingress: { enabled: false } })).toEqual({})
  })
})
