/**
 * Flux kinds, modelled as far as the operator reads and writes them: helm-controller
 * `HelmRelease` (helm.toolkit.fluxcd.io/v2), source-controller `HelmRepository`, `OCIRepository`,
 * `GitRepository` (source.toolkit.fluxcd.io/v1) and kustomize-controller `Kustomization`
 * (kustomize.toolkit.fluxcd.io/v1).
 */
import { Schema } from "effect"
import { ObjectMeta, typeMeta } from "../meta.js"
import { FreeFormObject } from "../schemaKit.js"
import { ForeignCondition, KindNameRef, LocalObjectReference } from "./common.js"

/** A Go `metav1.Duration` string such as `5m0s`. */
const Duration = Schema.String

// ---------------------------------------------------------------------------------------------
// helm.toolkit.fluxcd.io/v2 HelmRelease
// ---------------------------------------------------------------------------------------------

export const HelmChartSourceKind = Schema.Literal("HelmRepository", "GitRepository", "Bucket")
export const HelmChartRefKind = Schema.Literal("OCIRepository", "HelmChart", "ExternalArtifact")

export const HelmChartTemplate = Schema.Struct({
  metadata: Schema.optional(
    Schema.Struct({
      labels: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.String })),
      annotations: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.String }))
    })
  ),
  spec: Schema.Struct({
    chart: Schema.String,
    version: Schema.optional(Schema.String),
    sourceRef: Schema.Struct({
      apiVersion: Schema.optional(Schema.String),
      kind: HelmChartSourceKind,
      name: Schema.String,
      namespace: Schema.optional(Schema.String)
    }),
    interval: Schema.optional(Duration),
    reconcileStrategy: Schema.optional(Schema.Literal("ChartVersion", "Revision")),
    valuesFiles: Schema.optional(Schema.Array(Schema.String))
  })
})

export const ValuesReference = Schema.Struct({
  kind: Schema.Literal("Secret", "ConfigMap"),
  name: Schema.String,
  valuesKey: Schema.optional(Schema.String),
  targetPath: Schema.optional(Schema.String),
  optional: Schema.optional(Schema.Boolean)
})
export type ValuesReference = typeof ValuesReference.Type

const Remediation = Schema.Struct({
  retries: Schema.optional(Schema.Number),
  ignoreTestFailures: Schema.optional(Schema.Boolean),
  remediateLastFailure: Schema.optional(Schema.Boolean),
  strategy: Schema.optional(Schema.Literal("rollback", "uninstall"))
})

const CrdsPolicy = Schema.Literal("Skip", "Create", "CreateReplace")

export const HelmReleaseSpec = Schema.Struct({
  chart: Schema.optional(HelmChartTemplate),
  chartRef: Schema.optional(
    Schema.Struct({
      apiVersion: Schema.optional(Schema.String),
      kind: HelmChartRefKind,
      name: Schema.String,
      namespace: Schema.optional(Schema.String)
    })
  ),
  interval: Duration,
  suspend: Schema.optional(Schema.Boolean),
  releaseName: Schema.optional(Schema.String),
  targetNamespace: Schema.optional(Schema.String),
  storageNamespace: Schema.optional(Schema.String),
  dependsOn: Schema.optional(Schema.Array(Schema.Struct({ name: Schema.String, namespace: Schema.optional(Schema.String) }))),
  timeout: Schema.optional(Duration),
  maxHistory: Schema.optional(Schema.Number),
  serviceAccountName: Schema.optional(Schema.String),
  driftDetection: Schema.optional(
    Schema.Struct({
      mode: Schema.optional(Schema.Literal("enabled", "warn", "disabled")),
      ignore: Schema.optional(Schema.Array(FreeFormObject))
    })
  ),
  install: Schema.optional(
    Schema.Struct({
      timeout: Schema.optional(Duration),
      remediation: Schema.optional(Remediation),
      createNamespace: Schema.optional(Schema.Boolean),
      crds: Schema.optional(CrdsPolicy),
      disableWait: Schema.optional(Schema.Boolean),
      disableWaitForJobs: Schema.optional(Schema.Boolean)
    })
  ),
  upgrade: Schema.optional(
    Schema.Struct({
      timeout: Schema.optional(Duration),
      remediation: Schema.optional(Remediation),
      cleanupOnFail: Schema.optional(Schema.Boolean),
      force: Schema.optional(Schema.Boolean),
      preserveValues: Schema.optional(Schema.Boolean),
      crds: Schema.optional(CrdsPolicy),
      disableWait: Schema.optional(Schema.Boolean),
      disableWaitForJobs: Schema.optional(Schema.Boolean)
    })
  ),
  test: Schema.optional(
    Schema.Struct({
      enable: Schema.optional(Schema.Boolean),
      ignoreFailures: Schema.optional(Schema.Boolean),
      timeout: Schema.optional(Duration)
    })
  ),
  rollback: Schema.optional(
    Schema.Struct({
      timeout: Schema.optional(Duration),
      cleanupOnFail: Schema.optional(Schema.Boolean),
      disableWait: Schema.optional(Schema.Boolean),
      disableWaitForJobs: Schema.optional(Schema.Boolean),
      disableHooks: Schema.optional(Schema.Boolean),
      recreate: Schema.optional(Schema.Boolean),
      force: Schema.optional(Schema.Boolean)
    })
  ),
  uninstall: Schema.optional(
    Schema.Struct({
      timeout: Schema.optional(Duration),
      disableHooks: Schema.optional(Schema.Boolean),
      keepHistory: Schema.optional(Schema.Boolean),
      disableWait: Schema.optional(Schema.Boolean),
      deletionPropagation: Schema.optional(Schema.Literal("background", "foreground", "orphan"))
    })
  ),
  valuesFrom: Schema.optional(Schema.Array(ValuesReference)),
  values: Schema.optional(FreeFormObject)
})
export type HelmReleaseSpec = typeof HelmReleaseSpec.Type

export const HelmReleaseStatus = Schema.Struct({
  observedGeneration: Schema.optional(Schema.Number),
  lastAttemptedGeneration: Schema.optional(Schema.Number),
  conditions: Schema.optional(Schema.Array(ForeignCondition)),
  helmChart: Schema.optional(Schema.String),
  storageNamespace: Schema.optional(Schema.String),
  history: Schema.optional(
    Schema.Array(
      Schema.Struct({
        name: Schema.optional(Schema.String),
        namespace: Schema.optional(Schema.String),
        version: Schema.optional(Schema.Number),
        status: Schema.optional(Schema.String),
        chartName: Schema.optional(Schema.String),
        chartVersion: Schema.optional(Schema.String),
        appVersion: Schema.optional(Schema.String),
        configDigest: Schema.optional(Schema.String),
        firstDeployed: Schema.optional(Schema.String),
        lastDeployed: Schema.optional(Schema.String)
      })
    )
  ),
  lastAttemptedReleaseAction: Schema.optional(Schema.String),
  failures: Schema.optional(Schema.Number),
  installFailures: Schema.optional(Schema.Number),
  upgradeFailures: Schema.optional(Schema.Number),
  lastAttemptedRevision: Schema.optional(Schema.String),
  lastAttemptedRevisionDigest: Schema.optional(Schema.String),
  lastAttemptedValuesChecksum: Schema.optional(Schema.String),
  lastAttemptedConfigDigest: Schema.optional(Schema.String),
  lastReleaseRevision: Schema.optional(Schema.Number),
  lastHandledReconcileAt: Schema.optional(Schema.String)
})
export type HelmReleaseStatus = typeof HelmReleaseStatus.Type

export const HelmRelease = Schema.Struct({
  ...typeMeta("helm.toolkit.fluxcd.io/v2", "HelmRelease"),
  metadata: ObjectMeta,
  spec: Schema.optional(HelmReleaseSpec),
  status: Schema.optional(HelmReleaseStatus)
})
export type HelmRelease = typeof HelmRelease.Type

// ---------------------------------------------------------------------------------------------
// source.toolkit.fluxcd.io/v1 sources
// ---------------------------------------------------------------------------------------------

export const Artifact = Schema.Struct({
  revision: Schema.optional(Schema.String),
  digest: Schema.optional(Schema.String),
  path: Schema.optional(Schema.String),
  url: Schema.optional(Schema.String),
  lastUpdateTime: Schema.optional(Schema.String)
})

const SourceStatus = Schema.Struct({
  observedGeneration: Schema.optional(Schema.Number),
  conditions: Schema.optional(Schema.Array(ForeignCondition)),
  artifact: Schema.optional(Artifact),
  url: Schema.optional(Schema.String),
  lastHandledReconcileAt: Schema.optional(Schema.String)
})
export type SourceStatus = typeof SourceStatus.Type

export const HelmRepositorySpec = Schema.Struct({
  url: Schema.String,
  type: Schema.optional(Schema.Literal("default", "oci")),
  interval: Schema.optional(Duration),
  timeout: Schema.optional(Duration),
  secretRef: Schema.optional(LocalObjectReference),
  certSecretRef: Schema.optional(LocalObjectReference),
  passCredentials: Schema.optional(Schema.Boolean),
  insecure: Schema.optional(Schema.Boolean),
  provider: Schema.optional(Schema.String),
  suspend: Schema.optional(Schema.Boolean)
})

export const HelmRepository = Schema.Struct({
  ...typeMeta("source.toolkit.fluxcd.io/v1", "HelmRepository"),
  metadata: ObjectMeta,
  spec: Schema.optional(HelmRepositorySpec),
  status: Schema.optional(SourceStatus)
})
export type HelmRepository = typeof HelmRepository.Type

export const OCIRepositorySpec = Schema.Struct({
  url: Schema.String,
  ref: Schema.optional(
    Schema.Struct({
      tag: Schema.optional(Schema.String),
      semver: Schema.optional(Schema.String),
      semverFilter: Schema.optional(Schema.String),
      digest: Schema.optional(Schema.String)
    })
  ),
  interval: Schema.optional(Duration),
  timeout: Schema.optional(Duration),
  layerSelector: Schema.optional(
    Schema.Struct({
      mediaType: Schema.optional(Schema.String),
      operation: Schema.optional(Schema.Literal("extract", "copy"))
    })
  ),
  provider: Schema.optional(Schema.String),
  secretRef: Schema.optional(LocalObjectReference),
  certSecretRef: Schema.optional(LocalObjectReference),
  serviceAccountName: Schema.optional(Schema.String),
  insecure: Schema.optional(Schema.Boolean),
  suspend: Schema.optional(Schema.Boolean)
})

export const OCIRepository = Schema.Struct({
  ...typeMeta("source.toolkit.fluxcd.io/v1", "OCIRepository"),
  metadata: ObjectMeta,
  spec: Schema.optional(OCIRepositorySpec),
  status: Schema.optional(SourceStatus)
})
export type OCIRepository = typeof OCIRepository.Type

export const GitRepositorySpec = Schema.Struct({
  url: Schema.String,
  interval: Duration,
  ref: Schema.optional(
    Schema.Struct({
      branch: Schema.optional(Schema.String),
      tag: Schema.optional(Schema.String),
      semver: Schema.optional(Schema.String),
      name: Schema.optional(Schema.String),
      commit: Schema.optional(Schema.String)
    })
  ),
  secretRef: Schema.optional(LocalObjectReference),
  timeout: Schema.optional(Duration),
  provider: Schema.optional(Schema.String),
  ignore: Schema.optional(Schema.String),
  suspend: Schema.optional(Schema.Boolean)
})

export const GitRepository = Schema.Struct({
  ...typeMeta("source.toolkit.fluxcd.io/v1", "GitRepository"),
  metadata: ObjectMeta,
  spec: Schema.optional(GitRepositorySpec),
  status: Schema.optional(SourceStatus)
})
export type GitRepository = typeof GitRepository.Type

// ---------------------------------------------------------------------------------------------
// kustomize.toolkit.fluxcd.io/v1 Kustomization
// ---------------------------------------------------------------------------------------------

export const KustomizationSpec = Schema.Struct({
  interval: Duration,
  prune: Schema.Boolean,
  sourceRef: KindNameRef,
  path: Schema.optional(Schema.String),
  targetNamespace: Schema.optional(Schema.String),
  serviceAccountName: Schema.optional(Schema.String),
  retryInterval: Schema.optional(Duration),
  timeout: Schema.optional(Duration),
  wait: Schema.optional(Schema.Boolean),
  force: Schema.optional(Schema.Boolean),
  suspend: Schema.optional(Schema.Boolean),
  dependsOn: Schema.optional(Schema.Array(Schema.Struct({ name: Schema.String, namespace: Schema.optional(Schema.String) })))
})

export const KustomizationStatus = Schema.Struct({
  observedGeneration: Schema.optional(Schema.Number),
  conditions: Schema.optional(Schema.Array(ForeignCondition)),
  lastAppliedRevision: Schema.optional(Schema.String),
  lastAttemptedRevision: Schema.optional(Schema.String),
  lastAppliedOriginRevision: Schema.optional(Schema.String),
  lastHandledReconcileAt: Schema.optional(Schema.String)
})

export const Kustomization = Schema.Struct({
  ...typeMeta("kustomize.toolkit.fluxcd.io/v1", "Kustomization"),
  metadata: ObjectMeta,
  spec: Schema.optional(KustomizationSpec),
  status: Schema.optional(KustomizationStatus)
})
export type Kustomization = typeof Kustomization.Type
