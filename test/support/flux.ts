/**
 * Playing helm-controller: tests write HelmRelease status the way Flux does. One writer
 * (`writeFluxStatus`) and, for upgrades, helm-controller's real sequence of statuses
 * (`helmUpgradeSteps`), taken from its reconcile loop: `Reconciling=True` "Fulfilling
 * prerequisites" with `Ready=False/SourceNotReady` while the HelmChart catches up, then
 * "Running 'upgrade' action", then `Ready=True/UpgradeSucceeded`, or a failure with
 * `Released=False/UpgradeFailed` followed by a rollback (`Remediated=True/RollbackSucceeded`).
 */
import { Effect, Schema } from "effect"
import { HelmRelease } from "../../src/api/thirdParty/flux.js"
import { KubeApi } from "../../src/kube/KubeApi.js"
import type { KubeObject, ResourceType } from "../../src/kube/object.js"
import { Resources } from "../../src/kube/resources.js"

export interface FluxConditionInput {
  readonly type: string
  readonly status: string
  readonly reason?: string
  readonly message?: string
  /** helm-controller stamps every condition with the generation it was written for. */
  readonly observedGeneration?: number
}

/** The rest of `status` besides the conditions; absent fields are absent (SSA removes what a writer stops setting). */
export interface FluxStatusFields {
  /** Default: the HelmRelease's generation. helm-controller moves it only when an attempt ends. */
  readonly observedGeneration?: number
  readonly history?: ReadonlyArray<Record<string, unknown>>
  readonly lastAttemptedRevision?: string
  readonly lastAttemptedGeneration?: number
  readonly lastAttemptedReleaseAction?: string
  readonly failures?: number
  readonly upgradeFailures?: number
  readonly helmChart?: string
  readonly storageNamespace?: string
}

/** Writes the HelmRelease's whole `status` under helm-controller's field manager. */
export const writeFluxStatus = (
  hr: KubeObject,
  conditions: ReadonlyArray<FluxConditionInput>,
  fields: FluxStatusFields = {}
) =>
  Effect.flatMap(KubeApi, (api) =>
    api.applyStatus(
      Resources.HelmRelease,
      {
        apiVersion: hr.apiVersion,
        kind: hr.kind,
        metadata: { name: hr.metadata.name, namespace: hr.metadata.namespace },
        status: {
          ...fields,
          observedGeneration: fields.observedGeneration ?? hr.metadata.generation,
          conditions: conditions.map((c) => ({ lastTransitionTime: "2026-11-26T10:00:00Z", message: "", ...c }))
        }
      },
      { fieldManager: "helm-controller", force: true }
    )
  )

export interface UpgradeStory {
  readonly namespace: string
  readonly release: string
  readonly chart: string
  readonly from: string
  readonly to: string
  /** The HelmRelease generation that asks for `to`; the installed release is from `generation - 1`. */
  readonly generation: number
}

export interface FluxStatusStep {
  readonly conditions: ReadonlyArray<FluxConditionInput>
  readonly fields: FluxStatusFields
}

/**
 * helm-controller's statuses, in order, for an upgrade from `from` (installed, revision 1) to `to`.
 * `installed` is where it starts; an upgrade goes `fulfilling` → `sourceNotReady` → `upgrading`
 * and then `succeeded`, or `upgradeFailed` → `rollingBack` → `rolledBack`.
 */
export const helmUpgradeSteps = (s: UpgradeStory) => {
  const g = s.generation
  const full = `${s.namespace}/${s.release}`
  const helmChart = `${s.namespace}/${s.namespace}-${s.release}`
  const rev = (version: number, chartVersion: string, status: string) => ({
    name: s.release,
    namespace: s.namespace,
    version,
    status,
    chartName: s.chart,
    chartVersion,
    digest: `sha256:${String(version).padStart(64, "a")}`,
    configDigest: "sha256:1d3c8b1e7a7b4f0e",
    firstDeployed: "2026-11-26T10:00:00Z",
    lastDeployed: "2026-11-26T10:00:00Z"
  })
  const installedMsg = `Helm install succeeded for release ${full}.v1 with chart ${s.chart}@${s.from}`
  const installedFields: FluxStatusFields = {
    observedGeneration: g - 1,
    history: [rev(1, s.from, "deployed")],
    lastAttemptedRevision: s.from,
    lastAttemptedGeneration: g - 1,
    lastAttemptedReleaseAction: "install",
    helmChart,
    storageNamespace: s.namespace
  }
  const released = { type: "Released", status: "True", reason: "InstallSucceeded", message: installedMsg, observedGeneration: g - 1 }
  const attempting: FluxStatusFields = {
    ...installedFields,
    lastAttemptedRevision: s.to,
    lastAttemptedGeneration: g,
    lastAttemptedReleaseAction: "upgrade"
  }
  const upgradeMsg = "Running 'upgrade' action with timeout of 5m0s"
  const failedMsg = `Helm upgrade failed for release ${full} with chart ${s.chart}@${s.to}: context deadline exceeded`
  const rolledBackMsg = `Helm rollback to previous release ${full}.v1 with chart ${s.chart}@${s.from} succeeded`
  const succeededMsg = `Helm upgrade succeeded for release ${full}.v2 with chart ${s.chart}@${s.to}`
  const failedFields: FluxStatusFields = {
    ...attempting,
    history: [rev(2, s.to, "failed"), rev(1, s.from, "deployed")],
    failures: 1,
    upgradeFailures: 1
  }
  return {
    installed: {
      conditions: [
        { type: "Ready", status: "True", reason: "InstallSucceeded", message: installedMsg, observedGeneration: g - 1 },
        released
      ],
      fields: installedFields
    },
    fulfilling: {
      conditions: [
        { type: "Reconciling", status: "True", reason: "Progressing", message: "Fulfilling prerequisites", observedGeneration: g },
        { type: "Ready", status: "True", reason: "InstallSucceeded", message: installedMsg, observedGeneration: g - 1 },
        released
      ],
      fields: installedFields
    },
    sourceNotReady: {
      conditions: [
        { type: "Reconciling", status: "True", reason: "Progressing", message: "Fulfilling prerequisites", observedGeneration: g },
        {
          type: "Ready",
          status: "False",
          reason: "SourceNotReady",
          message: `HelmChart '${helmChart}' is not ready: latest generation of object has not been reconciled`,
          observedGeneration: g
        },
        released
      ],
      fields: installedFields
    },
    upgrading: {
      conditions: [
        { type: "Reconciling", status: "True", reason: "Progressing", message: upgradeMsg, observedGeneration: g },
        { type: "Ready", status: "Unknown", reason: "Progressing", message: upgradeMsg, observedGeneration: g },
        released
      ],
      fields: attempting
    },
    succeeded: {
      conditions: [
        { type: "Ready", status: "True", reason: "UpgradeSucceeded", message: succeededMsg, observedGeneration: g },
        { type: "Released", status: "True", reason: "UpgradeSucceeded", message: succeededMsg, observedGeneration: g }
      ],
      fields: { ...attempting, observedGeneration: g, history: [rev(2, s.to, "deployed"), rev(1, s.from, "superseded")] }
    },
    upgradeFailed: {
      conditions: [
        { type: "Reconciling", status: "True", reason: "Progressing", message: upgradeMsg, observedGeneration: g },
        { type: "Ready", status: "False", reason: "UpgradeFailed", message: failedMsg, observedGeneration: g },
        { type: "Released", status: "False", reason: "UpgradeFailed", message: failedMsg, observedGeneration: g }
      ],
      fields: failedFields
    },
    rolledBack: {
      conditions: [
        { type: "Reconciling", status: "True", reason: "ProgressingWithRetry", message: rolledBackMsg, observedGeneration: g },
        { type: "Ready", status: "False", reason: "RollbackSucceeded", message: rolledBackMsg, observedGeneration: g },
        { type: "Released", status: "False", reason: "UpgradeFailed", message: failedMsg, observedGeneration: g },
        { type: "Remediated", status: "True", reason: "RollbackSucceeded", message: rolledBackMsg, observedGeneration: g }
      ],
      fields: { ...failedFields, history: [rev(3, s.from, "deployed"), rev(2, s.to, "superseded"), rev(1, s.from, "superseded")] }
    }
  } satisfies Record<string, FluxStatusStep>
}

/** Writes one of `helmUpgradeSteps`. */
export const writeFluxStep = (hr: KubeObject, step: FluxStatusStep) => writeFluxStatus(hr, step.conditions, step.fields)

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
  return writeFluxStatus(
    hr,
    [
      { type: "Ready", status: "True", reason: "InstallSucceeded", message },
      { type: "Released", status: "True", reason: "InstallSucceeded", message }
    ],
    {
      helmChart: `${hr.metadata.namespace}/${hr.metadata.namespace}-${hr.metadata.name}`,
      lastAttemptedRevision: chart.version,
      lastAttemptedGeneration: hr.metadata.generation
    }
  )
}

/**
 * Playing source-controller and kustomize-controller for the GitOps mode: the statuses they write
 * on a `GitRepository` and a `Kustomization` (flux2 v2.x, API v1), in their order. Each controller
 * first marks the object `Reconciling=True` with `Ready=Unknown/Progressing`, then ends with
 * `Ready=True` (`Succeeded` / `ReconciliationSucceeded`) or `Ready=False` with the failure's reason.
 * The Kustomization keeps `lastAppliedRevision` from the last success while
 * `lastAttemptedRevision` moves on.
 */
export const writeFluxObjectStatus = (
  type: ResourceType,
  object: KubeObject,
  manager: "source-controller" | "kustomize-controller",
  status: Record<string, unknown>
) =>
  Effect.flatMap(KubeApi, (api) =>
    api.applyStatus(
      type,
      { apiVersion: object.apiVersion, kind: object.kind, metadata: { name: object.metadata.name, namespace: object.metadata.namespace }, status },
      { fieldManager: manager, force: true }
    )
  )

const at = (t: string) => ({ lastTransitionTime: t })

export const sourceControllerSteps = (repository: KubeObject, revision: string) => {
  const g = repository.metadata.generation ?? 1
  const progressing = (message: string) => [
    { type: "Reconciling", status: "True", reason: "Progressing", message, observedGeneration: g, ...at("2026-11-26T10:00:00Z") },
    { type: "Ready", status: "Unknown", reason: "Progressing", message, observedGeneration: g, ...at("2026-11-26T10:00:00Z") }
  ]
  const sha = revision.split(":").at(-1) ?? ""
  return {
    reconciling: { conditions: progressing("reconciliation in progress") },
    building: { conditions: progressing(`building artifact: new upstream revision '${revision}'`) },
    stored: {
      observedGeneration: g,
      artifact: {
        path: `gitrepository/${repository.metadata.namespace}/${repository.metadata.name}/${sha}.tar.gz`,
        url: `http://source-controller.flux-system.svc.cluster.local./gitrepository/${repository.metadata.namespace}/${repository.metadata.name}/${sha}.tar.gz`,
        revision,
        digest: `sha256:${sha.padEnd(64, "0").slice(0, 64)}`,
        lastUpdateTime: "2026-11-26T10:00:05Z",
        size: 1024
      },
      conditions: [
        { type: "Ready", status: "True", reason: "Succeeded", message: `stored artifact for revision '${revision}'`, observedGeneration: g, ...at("2026-11-26T10:00:05Z") },
        { type: "ArtifactInStorage", status: "True", reason: "Succeeded", message: `stored artifact for revision '${revision}'`, observedGeneration: g, ...at("2026-11-26T10:00:05Z") }
      ]
    }
  }
}

export const kustomizeControllerSteps = (kustomization: KubeObject, applied: string | undefined, attempted: string, time: string) => {
  const g = kustomization.metadata.generation ?? 1
  const kept = applied === undefined ? {} : { lastAppliedRevision: applied }
  return {
    progressing: {
      ...kept,
      conditions: [
        { type: "Reconciling", status: "True", reason: "Progressing", message: "Reconciliation in progress", observedGeneration: g, lastTransitionTime: time },
        { type: "Ready", status: "Unknown", reason: "Progressing", message: "Reconciliation in progress", observedGeneration: g, lastTransitionTime: time }
      ]
    },
    succeeded: {
      observedGeneration: g,
      lastAppliedRevision: attempted,
      lastAttemptedRevision: attempted,
      conditions: [
        { type: "Ready", status: "True", reason: "ReconciliationSucceeded", message: `Applied revision: ${attempted}`, observedGeneration: g, lastTransitionTime: time }
      ]
    },
    failed: (path: string) => ({
      observedGeneration: g,
      ...kept,
      lastAttemptedRevision: attempted,
      conditions: [
        {
          type: "Ready",
          status: "False",
          reason: "BuildFailed",
          message: `kustomization path not found: stat /tmp/kustomization-1832741/${path.replace(/^\.\//, "")}: no such file or directory`,
          observedGeneration: g,
          lastTransitionTime: time
        }
      ]
    })
  }
}
