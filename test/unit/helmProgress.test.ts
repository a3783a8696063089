import { describe, expect, it } from "vitest"
import { type HelmReleaseView, upgradeProgress } from "../../src/engines/helmProgress.js"
import { type FluxStatusStep, helmUpgradeSteps } from "../support/flux.js"

const story = { namespace: "team", release: "cloud", chart: "nextcloud", from: "6.6.0", to: "6.7.0", generation: 3 }
const steps = helmUpgradeSteps(story)

const view = (step: FluxStatusStep, generation = story.generation): HelmReleaseView => ({
  generation,
  observedGeneration: step.fields.observedGeneration,
  conditions: step.conditions,
  history: (step.fields.history ?? []).map((h) => ({
    chartVersion: typeof h["chartVersion"] === "string" ? h["chartVersion"] : undefined,
    version: typeof h["version"] === "number" ? h["version"] : undefined
  })),
  lastAttemptedRevision: step.fields.lastAttemptedRevision
})

describe("upgradeProgress: helm-controller's upgrade sequence, read the kstatus way", () => {
  it("the installed release at the previous generation is not the upgrade's success", () => {
    expect(upgradeProgress(view(steps.installed), "6.7.0")._tag).toBe("InProgress")
  })

  it("Reconciling=True with Ready=False/SourceNotReady (HelmChart not reconciled yet) is progress, not failure", () => {
    const p = upgradeProgress(view(steps.sourceNotReady), "6.7.0")
    expect(p).toEqual({ _tag: "InProgress", message: "Fulfilling prerequisites" })
  })

  it("every in-between step is progress", () => {
    for (const step of [steps.fulfilling, steps.sourceNotReady, steps.upgrading]) {
      expect(upgradeProgress(view(step), "6.7.0")._tag).toBe("InProgress")
    }
    expect(upgradeProgress(view(steps.upgrading), "6.7.0")).toMatchObject({ message: "Running 'upgrade' action with timeout of 5m0s" })
  })

  it("Ready=True at the current generation with the new chart in history is success", () => {
    expect(upgradeProgress(view(steps.succeeded), "6.7.0")).toEqual({
      _tag: "Succeeded",
      message: "Helm upgrade succeeded for release team/cloud.v2 with chart nextcloud@6.7.0",
      chartVersion: "6.7.0",
      revision: 2
    })
  })

  it("Ready=True at another chart version is not success", () => {
    expect(upgradeProgress(view(steps.succeeded), "6.8.0")._tag).toBe("InProgress")
  })

  it("an OCI chart's version carries the artifact digest as build metadata", () => {
    const oci = { ...view(steps.succeeded), history: [{ chartVersion: "6.7.0+0a1b2c3d4e5f", version: 2 }] }
    expect(upgradeProgress(oci, "6.7.0")).toMatchObject({ _tag: "Succeeded", chartVersion: "6.7.0+0a1b2c3d4e5f" })
  })

  it("Released=False/UpgradeFailed fails, even while helm-controller still reconciles (it goes on to roll back)", () => {
    expect(upgradeProgress(view(steps.upgradeFailed), "6.7.0")).toEqual({
      _tag: "Failed",
      reason: "HelmUpgradeFailed",
      message: "UpgradeFailed: Helm upgrade failed for release team/cloud with chart nextcloud@6.7.0: context deadline exceeded"
    })
  })

  it("a rollback remediation is RolledBack", () => {
    expect(upgradeProgress(view(steps.rolledBack), "6.7.0")).toMatchObject({ _tag: "Failed", reason: "RolledBack" })
  })

  it("Stalled=True fails with Flux's message", () => {
    const stalled = {
      ...view(steps.rolledBack),
      conditions: [
        { type: "Stalled", status: "True", reason: "RetriesExceeded", message: "Failed to upgrade after 2 attempt(s)", observedGeneration: 3 }
      ]
    }
    expect(upgradeProgress(stalled, "6.7.0")).toEqual({
      _tag: "Failed",
      reason: "HelmUpgradeFailed",
      message: "RetriesExceeded: Failed to upgrade after 2 attempt(s)"
    })
  })

  it("Ready=False with nothing reconciling is a failure", () => {
    const idle = {
      ...view(steps.installed),
      conditions: [{ type: "Ready", status: "False", reason: "ValuesError", message: "missing key", observedGeneration: 3 }]
    }
    expect(upgradeProgress(idle, "6.7.0")).toMatchObject({ _tag: "Failed", message: "ValuesError: missing key" })
  })

  it("a failure of an earlier generation does not fail this upgrade", () => {
    const earlier = view(steps.upgradeFailed, story.generation + 1)
    expect(upgradeProgress(earlier, "6.7.0")._tag).toBe("InProgress")
  })
})
