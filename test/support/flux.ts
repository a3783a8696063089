/** Playing helm-controller: tests write HelmRelease status the way Flux does. */
import { Effect, Schema } from "effect"
import { HelmRelease } from "../../src/api/thirdParty/flux.js"
import { KubeApi } from "../../src/kube/KubeApi.js"
import type { KubeObject } from "../../src/kube/object.js"
import { Resources } from "../../src/kube/resources.js"

/** Writes the HelmRelease's status under helm-controller's field manager. */
const applyHelmReleaseStatus = (hr: KubeObject, status: Record<string, unknown>) =>
  Effect.flatMap(KubeApi, (api) =>
    api.applyStatus(
      Resources.HelmRelease,
      { apiVersion: hr.apiVersion, kind: hr.kind, metadata: { name: hr.metadata.name, namespace: hr.metadata.namespace }, status },
      { fieldManager: "helm-controller", force: true }
    )
  )

/** Writes `status.conditions` (and observedGeneration = the HelmRelease's generation) under helm-controller's field manager. */
export const writeFluxStatus = (hr: KubeObject, conditions: ReadonlyArray<Record<string, string>>) =>
  applyHelmReleaseStatus(hr, {
    observedGeneration: hr.metadata.generation,
    conditions: conditions.map((c) => ({ lastTransitionTime: "2026-11-26T10:00:00Z", message: "", ...c }))
  })

/**
 * Playing helm-controller's install of a HelmRelease whose chart comes from a HelmRepository: it
 * keeps a HelmChart named `<namespace>-<name>` in the source's namespace, built from the release's
 * chart template (chart, version, sourceRef, interval falling back to the release's), under its
 * field manager. source-controller then fetches and packages it.
 */
export const helmChartFromTemplate = (object: KubeObject) =>
  Effect.flatMap(Schema.decodeUnknown(HelmRelease)(object), (hr) => {
    const template = hr.spec?.chart?.spec
    if (template === undefined || hr.spec === undefined) return Effect.dieMessage(`HelmRelease ${hr.metadata.name} has no chart template`)
    return Effect.succeed<KubeObject>({
      apiVersion: "source.toolkit.fluxcd.io/v1",
      kind: "HelmChart",
      metadata: {
        name: `${hr.metadata.namespace}-${hr.metadata.name}`,
        namespace: template.sourceRef.namespace ?? hr.metadata.namespace
      },
      spec: {
        chart: template.chart,
        ...(template.version === undefined ? {} : { version: template.version }),
        sourceRef: { kind: template.sourceRef.kind, name: template.sourceRef.name },
        interval: template.interval ?? hr.spec.interval,
        ...(template.reconcileStrategy === undefined ? {} : { reconcileStrategy: template.reconcileStrategy })
      }
    })
  })

/**
 * helm-controller's status after a first install: `Ready` and `Released` True with
 * InstallSucceeded, the HelmChart it used, and the chart version it attempted.
 */
export const writeHelmReleaseInstalled = (hr: KubeObject, chart: { readonly name: string; readonly version: string }) => {
  const message = `Helm install succeeded for release ${hr.metadata.namespace}/${hr.metadata.name}.v1 with chart ${chart.name}@${chart.version}`
  const at = new Date().toISOString().replace(/\.\d+Z$/, "Z")
  return applyHelmReleaseStatus(hr, {
    observedGeneration: hr.metadata.generation,
    helmChart: `${hr.metadata.namespace}/${hr.metadata.namespace}-${hr.metadata.name}`,
    lastAttemptedRevision: chart.version,
    lastAttemptedGeneration: hr.metadata.generation,
    conditions: [
      { type: "Ready", status: "True", reason: "InstallSucceeded", message, lastTransitionTime: at },
      { type: "Released", status: "True", reason: "InstallSucceeded", message, lastTransitionTime: at }
    ]
  })
}
