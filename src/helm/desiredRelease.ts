/**
 * The Flux objects an ApplicationInstance in managed mode should have: a chart source named
 * `<release>-source` and a HelmRelease named `<release>`. Pure: the same instance always gives the
 * same objects, which is what lets the reconciler skip writes when nothing changed.
 */
import type { ApplicationInstance } from "../api/applicationInstance.js"
import { AnnotationValues, Annotations, Labels, ManagedBy } from "../api/wellKnown.js"
import type { KubeObject, OwnerReference } from "../kube/object.js"
import { apiVersionOf } from "../kube/object.js"
import { Resources } from "../kube/resources.js"
import { releaseValues } from "./values.js"

export interface DesiredRelease {
  readonly source: KubeObject
  readonly helmRelease: KubeObject
}

export const sourceName = (releaseName: string): string => `${releaseName}-source`

export const ownerLabels = (ai: ApplicationInstance): Record<string, string> => {
  const labels: Record<string, string> = {
    [Labels.managedBy]: ai.metadata.labels?.[Labels.managedBy] ?? ManagedBy.operator,
    [Labels.applicationInstance]: ai.metadata.name ?? ""
  }
  const clusterId = ai.metadata.labels?.[Labels.clusterId]
  if (clusterId) labels[Labels.clusterId] = clusterId
  return labels
}

export const controllerRef = (ai: ApplicationInstance): OwnerReference => ({
  apiVersion: apiVersionOf(Resources.ApplicationInstance),
  kind: Resources.ApplicationInstance.kind,
  name: ai.metadata.name ?? "",
  uid: ai.metadata.uid ?? "",
  controller: true,
  blockOwnerDeletion: true
})

/**
 * An OCIRepository points at one artifact, so its URL names the chart. `spec.chart.url` may be the
 * repository (`oci://host/charts`, as for `helm pull oci://host/charts/<name>`) or the artifact
 * itself; the chart name is appended only in the first case.
 */
export const ociArtifactUrl = (url: string, chartName: string): string => {
  const base = url.replace(/\/+$/, "")
  return base.endsWith(`/${chartName}`) ? base : `${base}/${chartName}`
}

export const isSuspended = (ai: ApplicationInstance): boolean =>
  ai.metadata.annotations?.[Annotations.reconcile] === AnnotationValues.reconcileDisabled

/**
 * Requires a valid managed instance (see validateSpec): chart, release and values are present.
 */
export const desiredRelease = (ai: ApplicationInstance): DesiredRelease => {
  const spec = ai.spec!
  const chart = spec.chart!
  const release = spec.release!
  const values = spec.values!
  const namespace = ai.metadata.namespace ?? ""
  const metadata = (name: string) => ({
    name,
    namespace,
    labels: ownerLabels(ai),
    ownerReferences: [controllerRef(ai)]
  })

  const source: KubeObject =
    chart.sourceType === "oci"
      ? {
          apiVersion: apiVersionOf(Resources.OCIRepository),
          kind: Resources.OCIRepository.kind,
          metadata: metadata(sourceName(release.name)),
          spec: {
            interval: "1m0s",
            url: ociArtifactUrl(chart.url, chart.name),
            ref: { tag: chart.version },
            // A Helm chart pushed to a registry is one gzip layer; Flux wants it copied, not unpacked.
            layerSelector: { mediaType: "application/vnd.cncf.helm.chart.content.v1.tar+gzip", operation: "copy" }
          }
        }
      : {
          apiVersion: apiVersionOf(Resources.HelmRepository),
          kind: Resources.HelmRepository.kind,
          metadata: metadata(sourceName(release.name)),
          spec: { interval: "1m0s", url: chart.url }
        }

  const chartSpec =
    chart.sourceType === "oci"
      ? { chartRef: { kind: Resources.OCIRepository.kind, name: sourceName(release.name) } }
      : {
          chart: {
            spec: {
              chart: chart.name,
              version: chart.version,
              sourceRef: { kind: Resources.HelmRepository.kind, name: sourceName(release.name) }
            }
          }
        }

  const merged = releaseValues(spec)
  const valuesFrom =
    values.source === "secretRef" && values.secretRef
      ? [{ kind: "Secret", name: values.secretRef.name, valuesKey: values.secretRef.key }]
      : values.source === "configMapRef" && values.configMapRef
        ? [{ kind: "ConfigMap", name: values.configMapRef.name, valuesKey: values.configMapRef.key }]
        : undefined

  const helmRelease: KubeObject = {
    apiVersion: apiVersionOf(Resources.HelmRelease),
    kind: Resources.HelmRelease.kind,
    metadata: metadata(release.name),
    spec: {
      interval: "5m0s",
      releaseName: release.name,
      ...chartSpec,
      suspend: isSuspended(ai),
      install: { remediation: { retries: 1 } },
      upgrade: { cleanupOnFail: true, remediation: { retries: 1, remediateLastFailure: true } },
      rollback: { cleanupOnFail: true },
      maxHistory: 10,
      driftDetection: { mode: "enabled" },
      ...(Object.keys(merged).length > 0 ? { values: merged } : {}),
      ...(valuesFrom ? { valuesFrom } : {})
    }
  }
  return { source, helmRelease }
}
