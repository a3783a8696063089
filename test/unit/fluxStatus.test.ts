import { describe, expect, it } from "vitest"
import { releaseHealth } from "../../src/helm/fluxStatus.js"
import { helmUpgradeSteps } from "../support/flux.js"

const hr = (conditions: Array<{ type: string; status: string; reason?: string; message?: string }>, gen = 1, observed = 1) => ({
  generation: gen,
  observedGeneration: observed,
  conditions
})

describe("releaseHealth: Flux HelmRelease status → ApplicationInstance conditions", () => {
  it("no conditions yet: Ready=Unknown/Reconciling", () => {
    expect(releaseHealth(hr([])).ready).toEqual({
      status: "Unknown",
      reason: "Reconciling",
      message: "HelmRelease status not yet available"
    })
  })

  it("Ready=True gives Ready=True/HelmReleaseReady with Flux's message and not degraded", () => {
    const h = releaseHealth(
      hr([
        { type: "Ready", status: "True", reason: "InstallSucceeded", message: "Helm install succeeded" },
        { type: "Released", status: "True", reason: "InstallSucceeded" }
      ])
    )
    expect(h.ready).toEqual({ status: "True", reason: "HelmReleaseReady", message: "Helm install succeeded" })
    expect(h.degraded.active).toBe(false)
    expect(h.reconciling).toMatchObject({ active: false, reason: "Stable" })
  })

  it("Ready=False gives Ready=False/HelmReleaseFailed (not Unknown as the original did)", () => {
    const h = releaseHealth(hr([{ type: "Ready", status: "False", reason: "InstallFailed", message: "boom" }]))
    expect(h.ready).toEqual({ status: "False", reason: "HelmReleaseFailed", message: "boom" })
  })

  it("Ready=Unknown with Reconciling=True relays Flux's reconciling reason", () => {
    const h = releaseHealth(
      hr([
        { type: "Reconciling", status: "True", reason: "Progressing", message: "Fulfilling prerequisites" },
        { type: "Ready", status: "Unknown", reason: "Progressing", message: "Fulfilling prerequisites" }
      ])
    )
    expect(h.ready).toMatchObject({ status: "Unknown", reason: "Progressing" })
    expect(h.reconciling).toMatchObject({ active: true, reason: "Progressing" })
  })

  it("Stalled=True is Degraded=True with Flux's reason", () => {
    const h = releaseHealth(
      hr([
        { type: "Ready", status: "False", reason: "InstallFailed", message: "failed" },
        { type: "Stalled", status: "True", reason: "RetriesExceeded", message: "no retries left" }
      ])
    )
    expect(h.degraded).toEqual({ active: true, reason: "RetriesExceeded", message: "no retries left" })
    expect(h.ready.status).toBe("False")
  })

  it("Released=False while not ready is Degraded=True/HelmReleaseDegraded", () => {
    const h = releaseHealth(
      hr([
        { type: "Ready", status: "False", reason: "UpgradeFailed", message: "upgrade failed" },
        { type: "Released", status: "False", reason: "UpgradeFailed", message: "release failed" }
      ])
    )
    expect(h.degraded).toEqual({ active: true, reason: "HelmReleaseDegraded", message: "release failed" })
  })

  it("a stale Ready=True from an older generation is not reported as ready", () => {
    const h = releaseHealth(hr([{ type: "Ready", status: "True", reason: "UpgradeSucceeded", message: "ok" }], 3, 2))
    expect(h.ready).toMatchObject({ status: "Unknown", reason: "Reconciling" })
  })

  it("a failure is reported even before helm-controller records the generation", () => {
    const h = releaseHealth(hr([{ type: "Ready", status: "False", reason: "ArtifactFailed", message: "no chart" }], 2, 1))
    expect(h.ready).toEqual({ status: "False", reason: "HelmReleaseFailed", message: "no chart" })
  })

  it("a reason that is not a valid condition reason is replaced", () => {
    const h = releaseHealth(
      hr([
        { type: "Ready", status: "False", message: "x" },
        { type: "Stalled", status: "True", reason: "not a reason!", message: "x" }
      ])
    )
    expect(h.degraded.reason).toBe("HelmReleaseDegraded")
  })

  it("helm-controller's in-between Ready=False/SourceNotReady with Reconciling=True is progress, not failure (kstatus)", () => {
    const steps = helmUpgradeSteps({ namespace: "team", release: "cloud", chart: "nextcloud", from: "6.6.0", to: "6.7.0", generation: 2 })
    const h = releaseHealth({ generation: 2, observedGeneration: 1, conditions: steps.sourceNotReady.conditions })
    expect(h.ready).toEqual({
      status: "Unknown",
      reason: "Progressing",
      message: "HelmChart 'team/team-cloud' is not ready: latest generation of object has not been reconciled"
    })
    expect(h.reconciling.active).toBe(true)
    expect(h.degraded.active).toBe(false)
  })

  it("an upgrade failure while helm-controller still reconciles (before its rollback) is a failure", () => {
    const steps = helmUpgradeSteps({ namespace: "team", release: "cloud", chart: "nextcloud", from: "6.6.0", to: "6.7.0", generation: 2 })
    const h = releaseHealth({ generation: 2, observedGeneration: 1, conditions: steps.upgradeFailed.conditions })
    expect(h.ready).toMatchObject({ status: "False", reason: "HelmReleaseFailed" })
  })
})
