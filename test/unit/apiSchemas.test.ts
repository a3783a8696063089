import { Either, Schema } from "effect"
import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import YAML from "yaml"
import { ApplicationInstance } from "../../src/api/applicationInstance.js"
import { Cluster } from "../../src/api/cluster.js"
import { Operation } from "../../src/api/operation.js"
import { HelmRelease, OCIRepository } from "../../src/api/thirdParty/flux.js"
import { Job } from "../../src/api/thirdParty/core.js"
import {
  Annotations,
  AnnotationValues,
  capabilityAnnotation,
  FieldManagers,
  Finalizers,
  Labels,
  NamespaceGate
} from "../../src/api/wellKnown.js"
import type { KubeObject } from "../../src/kube/object.js"

const samplesDir = join(import.meta.dirname, "../fixtures/samples")

const loadSamples = (dir: string): Array<[string, unknown]> =>
  readdirSync(join(samplesDir, dir))
    .filter((f) => f.endsWith(".yaml"))
    .sort()
    .map((f) => [f, YAML.parse(readFileSync(join(samplesDir, dir, f), "utf8"))])

/** The decode error of a sample, or undefined when it decodes. */
const decodeError = (doc: unknown): string | undefined => {
  const kind = (doc as { kind?: unknown }).kind
  const result =
    kind === "ApplicationInstance"
      ? Either.map(Schema.decodeUnknownEither(ApplicationInstance)(doc), () => undefined)
      : kind === "Operation"
        ? Either.map(Schema.decodeUnknownEither(Operation)(doc), () => undefined)
        : Either.map(Schema.decodeUnknownEither(Cluster)(doc), () => undefined)
  return Either.isLeft(result) ? result.left.message : undefined
}

describe("valid samples", () => {
  const samples = loadSamples("valid")

  it("covers managed helm, managed oci, placeholder, Operation and Cluster", () => {
    expect(samples.map(([f]) => f)).toEqual(
      expect.arrayContaining([
        "applicationinstance-managed-helm.yaml",
        "applicationinstance-managed-oci.yaml",
        "applicationinstance-placeholder.yaml",
        "operation-backup.yaml",
        "cluster.yaml"
      ])
    )
  })

  for (const [file, doc] of samples) {
    it(`${file} decodes with its effect/Schema`, () => {
      expect(decodeError(doc)).toBeUndefined()
    })
  }

  it("keeps free-form inline values intact through decode and encode", () => {
    const [, doc] = samples.find(([f]) => f === "applicationinstance-managed-helm.yaml")!
    const decoded = Schema.decodeUnknownSync(ApplicationInstance)(doc)
    expect(decoded.spec.values?.inline).toEqual({
      replicaCount: 1,
      nextcloud: { host: "cloud.example.org" },
      persistence: { enabled: true, size: "8Gi" }
    })
    expect(Schema.encodeSync(ApplicationInstance)(decoded)).toEqual(doc)
  })
})

describe("invalid samples", () => {
  for (const [file, doc] of loadSamples("invalid")) {
    it(`${file} names the message the API server must answer with`, () => {
      const annotations = (doc as { metadata: { annotations?: Record<string, string> } }).metadata.annotations ?? {}
      expect(annotations["test.vworkspace.io/expected-error"]).toMatch(/spec\./)
    })
  }

  it("enum violations are also caught by the effect/Schema decoder", () => {
    const [, doc] = loadSamples("invalid").find(([f]) => f === "operation-unknown-engine.yaml")!
    expect(Either.isLeft(Schema.decodeUnknownEither(Operation)(doc))).toBe(true)
  })
})

describe("types", () => {
  it("decoded kinds are KubeObjects", () => {
    const ai: KubeObject = Schema.decodeUnknownSync(ApplicationInstance)({
      apiVersion: "apps.vworkspace.io/v1alpha1",
      kind: "ApplicationInstance",
      metadata: { name: "x", namespace: "y" },
      spec: { appRef: { catalogId: "cluster-ops" }, mode: "placeholder" }
    })
    expect(ai.kind).toBe("ApplicationInstance")
  })

  it("third-party kinds decode the fields the operator reads and drop the rest", () => {
    const hr = Schema.decodeUnknownSync(HelmRelease)({
      apiVersion: "helm.toolkit.fluxcd.io/v2",
      kind: "HelmRelease",
      metadata: { name: "nextcloud", namespace: "org-myteam" },
      spec: {
        interval: "5m0s",
        chartRef: { kind: "OCIRepository", name: "nextcloud-source" },
        maxHistory: 10,
        driftDetection: { mode: "enabled" },
        install: { remediation: { retries: 3 } },
        upgrade: { remediation: { retries: 3, remediateLastFailure: true }, cleanupOnFail: true },
        valuesFrom: [{ kind: "Secret", name: "values", valuesKey: "values.yaml" }],
        somethingNew: true
      },
      status: {
        observedGeneration: 2,
        conditions: [{ type: "Ready", status: "False", reason: "InstallFailed", message: "boom" }]
      }
    })
    expect(hr.spec?.chartRef?.kind).toBe("OCIRepository")
    expect(hr.status?.conditions?.[0]?.reason).toBe("InstallFailed")
    expect(hr.spec && "somethingNew" in hr.spec).toBe(false)

    const oci = Schema.decodeUnknownSync(OCIRepository)({
      apiVersion: "source.toolkit.fluxcd.io/v1",
      kind: "OCIRepository",
      metadata: { name: "nextcloud-source" },
      spec: { url: "oci://ghcr.io/example/charts/nextcloud", ref: { tag: "6.6.4" }, interval: "1m0s" }
    })
    expect(oci.spec?.ref?.tag).toBe("6.6.4")

    const job = Schema.decodeUnknownSync(Job)({
      apiVersion: "batch/v1",
      kind: "Job",
      metadata: { name: "j" },
      spec: {
        template: {
          spec: {
            restartPolicy: "Never",
            containers: [{ name: "runner", image: "busybox", env: [{ name: "A", valueFrom: { secretKeyRef: { name: "s", key: "k" } } }] }]
          }
        }
      },
      status: { conditions: [{ type: "Complete", status: "True" }] }
    })
    expect(job.status?.conditions?.[0]?.type).toBe("Complete")
  })
})

describe("well-known strings", () => {
  it("match the contract byte for byte", () => {
    expect(Finalizers).toEqual({
      applicationInstance: "apps.vworkspace.io/finalizer",
      operation: "ops.vworkspace.io/finalizer",
      cluster: "ops.vworkspace.io/cluster-cleanup"
    })
    expect(Labels.managedBy).toBe("app.vworkspace.io/managed-by")
    expect(Labels.operation).toBe("ops.vworkspace.io/operation")
    expect(NamespaceGate.selector).toBe("managed-by=vworkspace")
    expect(FieldManagers.operator).toBe("vworkspace-operator")
    expect(FieldManagers.agent).toBe("vworkspace-agent")
    expect([Annotations.reconcile, AnnotationValues.reconcileDisabled]).toEqual([
      "apps.vworkspace.io/reconcile",
      "disabled"
    ])
    expect(Annotations.cancel).toBe("ops.vworkspace.io/cancel")
    expect(capabilityAnnotation(" runcommand ")).toBe(Annotations.capabilityRunCommand)
  })
})
