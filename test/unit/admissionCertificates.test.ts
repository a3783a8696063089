/**
 * The certificate plan (src/admission/certificateRotation.ts): when the CA and the serving
 * certificate are renewed, and that a leaf from a new CA is never served before the caBundle has
 * trusted that CA for the grace period. Also: the chart's policy keeps the template list of
 * src/engines/templates.
 */
import { Duration } from "effect"
import { X509Certificate } from "node:crypto"
import { describe, expect, it } from "vitest"
import { type CertificateState, defaultLifetimes, type Plan, planCertificates } from "../../src/admission/certificateRotation.js"
import { builtinTemplates, noTemplateMessage } from "../../src/engines/templates/index.js"
import { renderChart } from "../support/helm.js"

const hosts = ["svc.ns.svc", "127.0.0.1"]
const t0 = new Date("2026-12-02T00:00:00Z")
const at = (days: number) => new Date(t0.getTime() + Duration.toMillis(Duration.days(days)))
const plan = (state: CertificateState | undefined, now: Date) => planCertificates(state, { commonName: "svc", hosts, lifetimes: defaultLifetimes, now })
const written = (p: Plan): CertificateState => {
  if (p._tag !== "Write") throw new Error("expected a write")
  return p.state
}
const cert = (pem: string) => new X509Certificate(pem)

describe("webhook certificate plan", () => {
  const first = written(plan(undefined, t0))

  it("starts with a CA and a leaf it issued, for the service names and loopback", () => {
    expect(first.bundle).toHaveLength(1)
    const leaf = cert(first.leaf.certificatePem)
    expect(leaf.verify(cert(first.bundle[0]!).publicKey)).toBe(true)
    expect(leaf.checkHost("svc.ns.svc")).toBe("svc.ns.svc")
    expect(leaf.checkIP("127.0.0.1")).toBe("127.0.0.1")
    expect(plan(first, at(1))).toEqual({ _tag: "Keep" })
  })

  it("renews the leaf from the same CA before it expires, leaving the bundle alone", () => {
    const renewed = written(plan(first, at(340)))
    expect(renewed.bundle).toEqual(first.bundle)
    expect(renewed.leaf.certificatePem).not.toBe(first.leaf.certificatePem)
    expect(cert(renewed.leaf.certificatePem).verify(cert(first.bundle[0]!).publicKey)).toBe(true)
  })

  it("renews the CA in two steps: the bundle first, the new leaf only after the grace period", () => {
    // Keep the leaf fresh up to the CA's renewal window (as the periodic check would have).
    let state = first
    for (let day = 30; day < 5 * 365 - 180; day += 30) {
      const next = plan(state, at(day))
      if (next._tag === "Write") state = next.state
    }
    const renewalDay = 5 * 365 - 179
    const step1 = written(plan(state, at(renewalDay)))
    expect(step1.bundle).toHaveLength(2)
    expect(step1.bundle[1]).toBe(first.bundle[0])
    expect(step1.leaf).toEqual(state.leaf)
    // The leaf is old-CA but still valid: the same day, nothing more happens.
    const stillOld = plan({ ...step1, leaf: state.leaf }, new Date(at(renewalDay).getTime() + 60_000))
    expect(stillOld).toEqual({ _tag: "Keep" })
  })

  it("issues a leaf from the new CA once the grace period has passed, and drops expired CAs", () => {
    const step1 = written(plan(first, at(5 * 365 - 179)))
    const afterGrace = new Date(at(5 * 365 - 179).getTime() + Duration.toMillis(defaultLifetimes.caTrustGrace))
    const step2 = written(plan(step1, afterGrace))
    expect(cert(step2.leaf.certificatePem).verify(cert(step1.bundle[0]!).publicKey)).toBe(true)
    expect(step2.bundle).toHaveLength(2)
    const pruned = written(plan(step2, at(5 * 365 + 1)))
    expect(pruned.bundle).toEqual([step1.bundle[0]])
  })

  it("starts over when the CA does not match its key", () => {
    const other = written(plan(undefined, t0))
    const broken = written(plan({ ...first, caKeyPem: other.caKeyPem }, at(1)))
    expect(broken.bundle).toHaveLength(1)
    expect(broken.bundle[0]).not.toBe(first.bundle[0])
  })
})

describe("the chart's Operation policy", () => {
  it("lists exactly the built-in templates, with the webhook's message", () => {
    const { objects } = renderChart({ releaseName: "ops", namespace: "vworkspace-system" })
    const policy = objects.find((o) => o["kind"] === "ValidatingAdmissionPolicy" && JSON.stringify(o).includes("ops-vworkspace-operator-operation"))
    const text = JSON.stringify(policy)
    const pairs = [...text.matchAll(/'([A-Za-z]+\.[A-Za-z]+)'/g)].map((m) => m[1])
    expect(pairs).toEqual(builtinTemplates.map((t) => `${t.type}.${t.engine}`))
    const refs = /expected refs such as ([^)]+)\)/.exec(text)?.[1]
    expect(noTemplateMessage("Backup", "job")).toContain(`(expected refs such as ${refs})`)
  })
})
