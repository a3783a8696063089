import { describe, expect, it } from "vitest"
import { collectionPath, objectPath, queryString } from "../../src/kube/paths.js"
import { Resources } from "../../src/kube/resources.js"

describe("paths", () => {
  it("core kinds live under /api/v1, others under /apis/<group>/<version>", () => {
    expect(collectionPath(Resources.ConfigMap, "ns1")).toBe("/api/v1/namespaces/ns1/configmaps")
    expect(collectionPath(Resources.Lease, "kube-system")).toBe(
      "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases"
    )
  })

  it("a namespaced collection without a namespace spans all namespaces", () => {
    expect(collectionPath(Resources.ConfigMap)).toBe("/api/v1/configmaps")
  })

  it("cluster-scoped kinds ignore the namespace", () => {
    expect(objectPath(Resources.Namespace, "team-a", "ignored")).toBe("/api/v1/namespaces/team-a")
    expect(objectPath(Resources.Cluster, "c1")).toBe("/apis/ops.vworkspace.io/v1alpha1/clusters/c1")
  })

  it("objects and subresources; names are escaped", () => {
    expect(objectPath(Resources.ApplicationInstance, "app", "ns", "status")).toBe(
      "/apis/apps.vworkspace.io/v1alpha1/namespaces/ns/applicationinstances/app/status"
    )
    expect(objectPath(Resources.ConfigMap, "a/b?c", "ns")).toBe("/api/v1/namespaces/ns/configmaps/a%2Fb%3Fc")
  })

  it("query strings keep only defined values and escape them", () => {
    expect(queryString({})).toBe("")
    expect(queryString({ a: undefined })).toBe("")
    expect(queryString({ watch: 1, labelSelector: "app=x,tier in (a,b)", force: false, continue: undefined })).toBe(
      "?watch=1&labelSelector=app%3Dx%2Ctier+in+%28a%2Cb%29&force=false"
    )
  })
})
