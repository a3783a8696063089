import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Option, Schema } from "effect"
import { ApplicationInstance } from "../../src/api/applicationInstance.js"
import { desiredRelease } from "../../src/helm/desiredRelease.js"
import { releaseHealth } from "../../src/helm/fluxStatus.js"
import { ObjectCache } from "../../src/kube/cache.js"
import { KubeApi, type KubeApiService } from "../../src/kube/KubeApi.js"
import type { KubeObject } from "../../src/kube/object.js"
import { Resources } from "../../src/kube/resources.js"
import { LAST_APPLIED } from "../../src/kube/transforms.js"
import { applicationInstanceInformers } from "../../src/reconcilers/applicationInstanceSources.js"
import { applyIfChanged } from "../../src/reconcilers/writes.js"

const transformOf = (kind: (typeof Resources)[keyof typeof Resources]) =>
  applicationInstanceInformers.find((i) => i.kind === kind)!.transform

const ai = Schema.decodeUnknownSync(ApplicationInstance)({
  apiVersion: "apps.vworkspace.io/v1alpha1",
  kind: "ApplicationInstance",
  metadata: { name: "shop", namespace: "org-a", uid: "uid-1", generation: 3 },
  spec: {
    appRef: { catalogId: "shop" },
    chart: { sourceType: "helm", url: "https://charts.example.test", name: "shop", version: "2.0.0" },
    release: { name: "shop", namespace: "org-a" },
    values: { source: "inline", inline: { replicaCount: 2, ingress: { hosts: ["a.example.test"] } } }
  },
  status: { observedGeneration: 3, conditions: [] }
})

/** What the API server and helm-controller add to an applied object. */
const asServed = (o: KubeObject): KubeObject => ({
  ...o,
  metadata: {
    ...o.metadata,
    uid: "child-uid",
    resourceVersion: "42",
    generation: 2,
    annotations: { ...o.metadata.annotations, [LAST_APPLIED]: JSON.stringify(o) },
    managedFields: [{ manager: "vworkspace-operator", operation: "Apply", fieldsV1: { "f:spec": {} } }]
  },
  status: {
    observedGeneration: 2,
    conditions: [{ type: "Ready", status: "True", reason: "UpgradeSucceeded", message: "Helm upgrade succeeded" }],
    history: Array.from({ length: 10 }, (_, i) => ({ chartVersion: `1.${i}.0`, status: "superseded", digest: "x".repeat(64) })),
    lastAttemptedRevision: "2.0.0",
    lastAttemptedConfigDigest: "sha256:abc",
    storageNamespace: "org-a"
  }
})

/** A client that answers an apply with the object as served, and fails on anything else. */
const servingApi: KubeApiService = new Proxy({} as KubeApiService, {
  get: (_t, property) =>
    property === "apply"
      ? (_type: unknown, object: KubeObject) => Effect.succeed(asServed(object))
      : () => Effect.dieMessage(`KubeApi.${String(property)} must not be called`)
})

const cached = (kind: (typeof Resources)[keyof typeof Resources], o: KubeObject): KubeObject => {
  const cache = new ObjectCache(transformOf(kind))
  cache.upsert(o)
  return cache.list()[0]!
}

describe("the AI controller's cache transforms", () => {
  it.effect("a cached HelmRelease and source still carry all the reconciler compares: an unchanged intent writes nothing", () =>
    Effect.gen(function* () {
      const desired = desiredRelease(ai)
      for (const [kind, object] of [
        [Resources.HelmRelease, desired.helmRelease],
        [Resources.HelmRepository, desired.source]
      ] as const) {
        const served = (yield* applyIfChanged(kind, object, Option.none())).object
        const copy = cached(kind, served)
        expect(copy.metadata.managedFields).toBeUndefined()
        expect(copy.metadata.annotations?.[LAST_APPLIED]).toBeUndefined()
        expect(copy.metadata.ownerReferences).toEqual(served.metadata.ownerReferences)
        expect(copy.metadata.labels).toEqual(served.metadata.labels)
        // Same intent, same cached fields: no write (the client would die on a second apply).
        const again = yield* applyIfChanged(kind, object, Option.some(copy)).pipe(
          Effect.provide(Layer.succeed(KubeApi, { ...servingApi, apply: () => Effect.dieMessage("no write expected") }))
        )
        expect(again.written).toBe(false)
      }
    }).pipe(Effect.provide(Layer.succeed(KubeApi, servingApi)))
  )

  it("a cached HelmRelease keeps what releaseHealth and the upgrade.helm engine read and drops the rest of its status", () => {
    const served = asServed(desiredRelease(ai).helmRelease)
    const copy = cached(Resources.HelmRelease, served)
    const read = (o: KubeObject) =>
      releaseHealth({
        generation: o.metadata.generation,
        observedGeneration: (o["status"] as { observedGeneration?: number }).observedGeneration,
        conditions: (o["status"] as { conditions: [] }).conditions
      })
    expect(read(copy)).toEqual(read(served))
    expect(Object.keys(copy["status"] as object).sort()).toEqual([
      "conditions",
      "history",
      "lastAttemptedRevision",
      "observedGeneration"
    ])
  })

  it("a cached instance decodes to the same instance; a namespace keeps its labels", () => {
    const served: KubeObject = {
      ...ai,
      metadata: { ...ai.metadata, annotations: { [LAST_APPLIED]: "{}", "apps.vworkspace.io/reconcile": "disabled" } }
    }
    const copy = cached(Resources.ApplicationInstance, served)
    expect(Schema.decodeUnknownSync(ApplicationInstance)(copy)).toEqual({
      ...ai,
      metadata: { ...ai.metadata, annotations: { "apps.vworkspace.io/reconcile": "disabled" } }
    })
    const ns = cached(Resources.Namespace, {
      apiVersion: "v1",
      kind: "Namespace",
      metadata: { name: "org-a", labels: { "managed-by": "vworkspace" } },
      spec: { finalizers: ["kubernetes"] },
      status: { phase: "Active" }
    })
    expect(ns).toEqual({ apiVersion: "v1", kind: "Namespace", metadata: { name: "org-a", labels: { "managed-by": "vworkspace" } } })
  })
})
