/**
 * Folds the status of a Flux HelmRelease into what the ApplicationInstance reports.
 *
 * Differences from the original (see DESIGN.md): Flux `Ready=False` gives `Ready=False` (not Unknown),
 * `Stalled=True` gives `Degraded=True` with Flux's own reason, and a `Ready=True` from an older
 * generation (`status.observedGeneration` behind `metadata.generation`) is not trusted, so a stale
 * success is never reported after a spec change. A `Ready=False` is reported at once: helm-controller
 * moves observedGeneration only when an attempt ends, and its failures matter before that.
 */

export type ConditionStatus = "True" | "False" | "Unknown"

export interface FluxCondition {
  readonly type: string
  readonly status: string
  readonly reason?: string
  readonly message?: string
  /** helm-controller stamps each condition with the generation it was written for. */
  readonly observedGeneration?: number
}

export interface ObservedHelmRelease {
  readonly generation?: number
  readonly observedGeneration?: number
  readonly conditions: ReadonlyArray<FluxCondition>
}

export interface ReleaseHealth {
  readonly ready: { readonly status: ConditionStatus; readonly reason: string; readonly message: string }
  readonly reconciling: { readonly active: boolean; readonly reason: string; readonly message: string }
  readonly degraded: { readonly active: boolean; readonly reason: string; readonly message: string }
}

/** Condition reasons must be CamelCase identifiers; anything else from a third party is replaced. */
const reasonPattern = /^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$/
const safeReason = (reason: string | undefined, fallback: string): string =>
  reason !== undefined && reasonPattern.test(reason) ? reason : fallback

const find = (conditions: ReadonlyArray<FluxCondition>, type: string) => conditions.find((c) => c.type === type)

/** The condition of `type`, unless it was written for an older generation than the current one. */
export const currentCondition = (hr: ObservedHelmRelease, type: string): FluxCondition | undefined =>
  hr.conditions.find(
    (c) => c.type === type && (hr.generation === undefined || c.observedGeneration === undefined || c.observedGeneration >= hr.generation)
  )

/**
 * kstatus: the failure helm-controller reports for the generation the HelmRelease is at now, if
 * any. `Stalled=True`, `Remediated=True` (the release action failed and was rolled back or
 * uninstalled), `Released=False`, or `Ready=False` while nothing reconciles. `Ready=False` with
 * `Reconciling=True` is progress: helm-controller writes "HelmChart '…' is not ready: latest
 * generation of object has not been reconciled" during every chart change. Conditions written
 * for an older generation do not count.
 */
export const releaseFailure = (hr: ObservedHelmRelease): FluxCondition | undefined => {
  const at = (type: string) => currentCondition(hr, type)
  const reconciling = at("Reconciling")?.status === "True"
  const failed = [at("Stalled"), at("Remediated")].find((c) => c?.status === "True")
  if (failed !== undefined) return failed
  const released = at("Released")
  if (released?.status === "False") return released
  const ready = at("Ready")
  return ready?.status === "False" && !reconciling ? ready : undefined
}

export const releaseHealth = (hr: ObservedHelmRelease): ReleaseHealth => {
  const ready = find(hr.conditions, "Ready")
  const reconcilingCond = find(hr.conditions, "Reconciling")
  const stalled = find(hr.conditions, "Stalled")
  const released = find(hr.conditions, "Released")
  const lagging =
    hr.generation !== undefined && (hr.observedGeneration === undefined || hr.observedGeneration < hr.generation)

  const degraded =
    stalled?.status === "True"
      ? { active: true, reason: safeReason(stalled.reason, "HelmReleaseDegraded"), message: stalled.message ?? "" }
      : released?.status === "False" && ready?.status !== "True"
        ? { active: true, reason: "HelmReleaseDegraded", message: released.message ?? "" }
        : { active: false, reason: "Recovered", message: "Release is healthy" }

  if (ready === undefined || (lagging && ready.status === "True")) {
    const message = ready === undefined
      ? "HelmRelease status not yet available"
      : `Waiting for helm-controller to observe generation ${hr.generation ?? 0}`
    return {
      ready: { status: "Unknown", reason: "Reconciling", message },
      reconciling: { active: true, reason: "HelmReleaseInstalling", message },
      degraded
    }
  }

  const reconciling =
    reconcilingCond?.status === "True"
      ? {
          active: true,
          reason: safeReason(reconcilingCond.reason, "HelmReleaseInstalling"),
          message: reconcilingCond.message ?? ""
        }
      : { active: false, reason: "Stable", message: "No reconciliation in flight" }

  switch (ready.status) {
    case "True":
      return {
        ready: { status: "True", reason: "HelmReleaseReady", message: ready.message ?? "" },
        reconciling,
        degraded: { active: false, reason: "Recovered", message: "Release is healthy" }
      }
    case "False":
      return releaseFailure(hr) === undefined && reconciling.active
        ? // In progress (kstatus): not a failure, and not worth a Warning.
          { ready: { status: "Unknown", reason: reconciling.reason, message: ready.message ?? "" }, reconciling, degraded }
        : { ready: { status: "False", reason: "HelmReleaseFailed", message: ready.message ?? "" }, reconciling, degraded }
    default:
      return {
        ready: {
          status: "Unknown",
          reason: reconciling.active ? reconciling.reason : "HelmReleaseInstalling",
          message: ready.message ?? ""
        },
        reconciling: reconciling.active
          ? reconciling
          : { active: true, reason: "HelmReleaseInstalling", message: ready.message ?? "" },
        degraded
      }
  }
}
