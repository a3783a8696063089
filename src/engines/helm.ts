/**
 * The helm engine (`upgrade.helm`). It upgrades through the ApplicationInstance, never around it:
 * it sets the instance's `spec.chart.version` to `targetVersion` and replaces the top-level keys of
 * `spec.values.inline` named in `valuesPatch` (a shallow merge, as the template says; `null`
 * removes a key), and the instance's own reconciler carries the change to the Flux
 * HelmRelease. Patching the HelmRelease directly (as the original did) is undone by the next
 * instance reconcile.
 *
 * Field ownership: the change is a JSON patch (an Update) under the operator's field manager
 * `vworkspace-operator`, touching only those fields. The operator then owns exactly them; the rest
 * of the spec stays with whoever applied it (`vworkspace-agent` in Pull mode). Server-side apply
 * would be wrong here: one manager applying different field sets over a series of upgrades
 * removes whatever the previous apply set and this one omits (SSA treats omission as removal), so
 * a values-only upgrade would drop the version of the one before. When the control plane
 * re-applies its intent (the agent applies with force), its values win again: it is the source of
 * intent and should record the new version once the Operation has succeeded.
 *
 * The upgrade is done when the HelmRelease is Ready at the new chart version for its current
 * generation; see helmProgress.ts for the reading of helm-controller's conditions.
 */
import { Effect, Option } from "effect"
import type { ApplicationInstance } from "../api/applicationInstance.js"
import { UpgradeHelmParameters } from "../api/operationParameters.js"
import { HelmRelease } from "../api/thirdParty/flux.js"
import { FieldManagers } from "../api/wellKnown.js"
import { isJsonObject, type JsonObject } from "../helm/values.js"
import { KubeApi } from "../kube/KubeApi.js"
import { Resources } from "../kube/resources.js"
import { jsonEqual } from "../reconcilers/writes.js"
import { EngineError, EngineObservation, type OperationEngineService, registerEngine, type WorkloadRef } from "./engine.js"
import { upgradeProgress } from "./helmProgress.js"
import { decodeParameters, kubeFailure, readCached } from "./workload.js"

export const HelmReason = {
  InProgress: "HelmUpgradeInProgress",
  Succeeded: "HelmUpgradeSucceeded",
  Failed: "HelmUpgradeFailed",
  RolledBack: "RolledBack"
} as const

/** A managed instance with a release: the only kind of target an upgrade means anything for. */
interface Upgradable {
  readonly namespace: string
  readonly releaseName: string
  readonly version: string
  readonly inline: JsonObject | undefined
  readonly valuesSource: string | undefined
}

const upgradable = (target: ApplicationInstance): Effect.Effect<Upgradable, EngineError> => {
  const spec = target.spec
  if (spec?.mode === "placeholder" || spec?.release === undefined || spec.chart === undefined) {
    return Effect.fail(
      new EngineError({
        reason: "ValidationFailed",
        message: `target "${target.metadata.name ?? ""}" has no release (placeholder instances do not support helm upgrade)`
      })
    )
  }
  return Effect.succeed({
    namespace: target.metadata.namespace ?? "",
    releaseName: spec.release.name,
    version: spec.chart.version,
    inline: isJsonObject(spec.values?.inline) ? spec.values.inline : undefined,
    valuesSource: spec.values?.source
  })
}

/** What the upgrade asks of the instance's spec; `wantedVersion` is what must end up released. */
interface Change {
  readonly wantedVersion: string
  readonly version: string | undefined
  /** Top-level keys of `spec.values.inline` to replace whole (`null` removes the key). */
  readonly values: Readonly<Record<string, unknown>>
}

const changeOf = (target: Upgradable, p: UpgradeHelmParameters): Effect.Effect<Change, EngineError> => {
  if (p.targetVersion === undefined && p.valuesPatch === undefined) {
    return Effect.fail(new EngineError({ reason: "ValidationFailed", message: "parameters.targetVersion or parameters.valuesPatch is required" }))
  }
  if (p.valuesPatch !== undefined && target.valuesSource !== "inline") {
    return Effect.fail(
      new EngineError({
        reason: "ValidationFailed",
        message: `parameters.valuesPatch needs spec.values.source "inline" on the target (it is "${target.valuesSource ?? "unset"}"): values held in a Secret or ConfigMap are changed there`
      })
    )
  }
  return Effect.succeed({ wantedVersion: p.targetVersion ?? target.version, version: p.targetVersion, values: p.valuesPatch ?? {} })
}

/** The instance's spec already says what the upgrade asks. */
const applied = (t: Upgradable, change: Change): boolean =>
  (change.version === undefined || t.version === change.version) &&
  Object.entries(change.values).every(([k, v]) => (v === null ? t.inline?.[k] === undefined : jsonEqual(t.inline?.[k], v)))

/** RFC 6902 path segment. */
const pointer = (key: string) => key.replace(/~/g, "~0").replace(/\//g, "~1")

/**
 * A JSON patch of exactly the fields the upgrade changes: `test` on the uid (never a re-created
 * instance of the same name), the chart version, and each top-level values key replaced whole
 * (the template's shallow merge).
 */
const patchOf = (target: ApplicationInstance, t: Upgradable, change: Change): ReadonlyArray<Record<string, unknown>> => [
  { op: "test", path: "/metadata/uid", value: target.metadata.uid },
  ...(change.version === undefined ? [] : [{ op: "replace", path: "/spec/chart/version", value: change.version }]),
  ...(Object.keys(change.values).length > 0 && t.inline === undefined ? [{ op: "add", path: "/spec/values/inline", value: {} }] : []),
  ...Object.entries(change.values).flatMap(([k, v]) =>
    v === null
      ? t.inline?.[k] === undefined
        ? []
        : [{ op: "remove", path: `/spec/values/inline/${pointer(k)}` }]
      : [{ op: "add", path: `/spec/values/inline/${pointer(k)}`, value: v }]
  )
]

const helmReleaseRef = (t: Upgradable): WorkloadRef => ({ kind: Resources.HelmRelease.kind, name: t.releaseName, namespace: t.namespace })

const plan = (target: ApplicationInstance, parameters: unknown) =>
  Effect.gen(function* () {
    const t = yield* upgradable(target)
    const p = yield* decodeParameters(UpgradeHelmParameters, parameters)
    return { t, change: yield* changeOf(t, p) }
  })

export const helmEngine: OperationEngineService = {
  name: "helm",
  childKinds: [Resources.HelmRelease],
  materialize: ({ target, parameters }) =>
    Effect.gen(function* () {
      const { t, change } = yield* plan(target, parameters)
      if (!applied(t, change)) {
        const api = yield* KubeApi
        yield* api
          .patch(Resources.ApplicationInstance, target.metadata.name ?? "", t.namespace, "json", patchOf(target, t, change), {
            fieldManager: FieldManagers.operator
          })
          .pipe(Effect.mapError(kubeFailure(`patch ApplicationInstance ${t.namespace}/${target.metadata.name ?? ""}`)))
      }
      return helmReleaseRef(t)
    }),
  observe: ({ target, parameters }) =>
    Effect.gen(function* () {
      const { t, change } = yield* plan(target, parameters)
      const workload = helmReleaseRef(t)
      const waiting = (message: string) => EngineObservation.Running({ reason: HelmReason.InProgress, message, workload, logsRef: workload })
      if (!applied(t, change)) return waiting(`waiting for ApplicationInstance ${t.namespace}/${target.metadata.name ?? ""} to carry the upgrade`)
      const status = target.status
      if (status?.observedGeneration !== target.metadata.generation || status?.lastAppliedChart?.version !== change.wantedVersion) {
        return waiting(`waiting for the ApplicationInstance reconciler to apply chart version ${change.wantedVersion} to the HelmRelease`)
      }
      const found = yield* readCached(Resources.HelmRelease, HelmRelease, t.namespace, t.releaseName)
      if (Option.isNone(found)) return waiting(`waiting for HelmRelease ${t.namespace}/${t.releaseName}`)
      const hr = found.value
      const specVersion = hr.spec?.chart?.spec.version
      if (specVersion !== undefined && specVersion !== change.wantedVersion) {
        return waiting(`waiting for HelmRelease ${t.namespace}/${t.releaseName} to ask for chart version ${change.wantedVersion}`)
      }
      const progress = upgradeProgress(
        {
          generation: hr.metadata.generation,
          observedGeneration: hr.status?.observedGeneration,
          conditions: hr.status?.conditions ?? [],
          history: hr.status?.history ?? [],
          lastAttemptedRevision: hr.status?.lastAttemptedRevision
        },
        change.wantedVersion
      )
      switch (progress._tag) {
        case "InProgress":
          return waiting(progress.message)
        case "Failed":
          return EngineObservation.Failed({
            reason: progress.reason,
            message: progress.message,
            workload,
            logsRef: workload,
            outputs: { releaseName: t.releaseName, chartVersion: change.wantedVersion }
          })
        case "Succeeded":
          return EngineObservation.Succeeded({
            reason: HelmReason.Succeeded,
            message: progress.message,
            workload,
            logsRef: workload,
            outputs: {
              releaseName: t.releaseName,
              chartVersion: progress.chartVersion,
              ...(progress.revision !== undefined ? { releaseRevision: String(progress.revision) } : {})
            }
          })
      }
    }),
  // Flux cannot abort a Helm action; cancelling stops the Operation from waiting. To go back, run
  // another upgrade with the previous version.
  cancel: () => Effect.void
}

/** Registers the helm engine. */
export const helmEngineLayer = registerEngine(helmEngine)

