/**
 * Is a HelmRelease upgrade done, still going, or failed? The kstatus reading of helm-controller's
 * conditions, for the generation the HelmRelease is at now:
 *
 * - In progress: `Reconciling=True`. helm-controller sets it first thing in every reconcile and
 *   keeps it while it waits for prerequisites, so the `Ready=False` "HelmChart '…' is not ready:
 *   latest generation of object has not been reconciled" (reason `SourceNotReady`) it writes
 *   during every chart change is progress, not failure.
 * - Failed: `Stalled=True` (retries exhausted), `Remediated=True` (the upgrade failed and was
 *   rolled back or uninstalled), `Released=False` (the Helm action itself failed), or `Ready=False`
 *   while nothing is reconciling.
 * - Done: `Ready=True` with `status.observedGeneration` at the current generation and the latest
 *   release in `status.history` at the wanted chart version.
 *
 * Conditions carry the generation they were written for; older ones (a failure of an earlier
 * upgrade) are ignored.
 */
import type { ForeignCondition } from "../api/thirdParty/common.js"

export interface HelmReleaseView {
  readonly generation?: number
  readonly observedGeneration?: number
  readonly conditions: ReadonlyArray<ForeignCondition>
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

const describe = (c: ForeignCondition) => `${c.reason ?? c.type}: ${c.message ?? ""}`

export const upgradeProgress = (hr: HelmReleaseView, wantedVersion: string): UpgradeProgress => {
  const current = (c: ForeignCondition) =>
    hr.generation === undefined || c.observedGeneration === undefined || c.observedGeneration >= hr.generation
  const find = (type: string) => hr.conditions.find((c) => c.type === type && current(c))
  const ready = find("Ready")
  const reconciling = find("Reconciling")?.status === "True"

  const stalled = find("Stalled")
  if (stalled?.status === "True") return { _tag: "Failed", reason: "HelmUpgradeFailed", message: describe(stalled) }
  const remediated = find("Remediated")
  if (remediated?.status === "True") return { _tag: "Failed", reason: "RolledBack", message: describe(remediated) }
  const released = find("Released")
  if (released?.status === "False") return { _tag: "Failed", reason: "HelmUpgradeFailed", message: describe(released) }
  if (ready?.status === "False" && !reconciling) return { _tag: "Failed", reason: "HelmUpgradeFailed", message: describe(ready) }

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
