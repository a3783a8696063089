/**
 * Is a HelmRelease upgrade done, still going, or failed? The kstatus reading of helm-controller's
 * conditions, for the generation the HelmRelease is at now:
 *
 * - In progress: `Reconciling=True`. helm-controller sets it first thing in every reconcile and
 *   keeps it while it waits for prerequisites, so the `Ready=False` "HelmChart '…' is not ready:
 *   latest generation of object has not been reconciled" (reason `SourceNotReady`) it writes
 *   during every chart change is progress, not failure.
 * - Failed: what `releaseFailure` (src/helm/fluxStatus.ts, the same reading the
 *   ApplicationInstance uses) finds: `Stalled=True`, `Remediated=True` (rolled back: reason
 *   `RolledBack`), `Released=False`, or `Ready=False` while nothing is reconciling.
 * - Done: `Ready=True` with `status.observedGeneration` at the current generation and the latest
 *   release in `status.history` at the wanted chart version.
 *
 * Conditions carry the generation they were written for; older ones (a failure of an earlier
 * upgrade) are ignored.
 */
import { currentCondition, type FluxCondition, type ObservedHelmRelease, releaseFailure } from "../helm/fluxStatus.js"

export interface HelmReleaseView extends ObservedHelmRelease {
  /** Newest first, as helm-controller keeps it. */
  readonly history: ReadonlyArray<{ readonly chartVersion?: string; readonly version?: number; readonly name?: string }>
  readonly lastAttemptedRevision?: string
}

export type UpgradeProgress =
  | { readonly _tag: "InProgress"; readonly message: string }
  | { readonly _tag: "Failed"; readonly reason: string; readonly message: string }
  | { readonly _tag: "Succeeded"; readonly message: string; readonly chartVersion: string; readonly revision?: number }

/** The chart version without build metadata: OCI charts carry `+<digest>` (e.g. `6.7.0+0a1b2c3d4e5f`). */
export const baseVersion = (version: string): string => version.split("+")[0] ?? version

const describe = (c: FluxCondition) => `${c.reason ?? c.type}: ${c.message ?? ""}`

export const upgradeProgress = (hr: HelmReleaseView, wantedVersion: string): UpgradeProgress => {
  const failure = releaseFailure(hr)
  if (failure !== undefined) {
    return { _tag: "Failed", reason: failure.type === "Remediated" ? "RolledBack" : "HelmUpgradeFailed", message: describe(failure) }
  }
  const find = (type: string) => currentCondition(hr, type)
  const ready = find("Ready")
  const reconciling = find("Reconciling")?.status === "True"

  const latest = hr.history[0]
  const observed = hr.generation === undefined || (hr.observedGeneration ?? 0) >= hr.generation
  if (ready?.status === "True" && observed && latest?.chartVersion !== undefined && baseVersion(latest.chartVersion) === wantedVersion) {
    return {
      _tag: "Succeeded",
      message: ready.message ?? "",
      chartVersion: latest.chartVersion,
      ...(latest.version !== undefined ? { revision: latest.version } : {})
    }
  }
  const said = reconciling ? find("Reconciling") : ready
  return {
    _tag: "InProgress",
    message: said !== undefined && said.message ? said.message : `waiting for helm-controller to upgrade to chart version ${wantedVersion}`
  }
}
