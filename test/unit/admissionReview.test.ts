/**
 * The webhook server over real TLS on loopback, with in-memory lookups: AdmissionReview decoding
 * (bad bodies get a 400 and the server keeps answering), the never-stuck skip rules, verdicts
 * and their audit.
 */
import { expect, it } from "@effect/vitest"
import { Duration, Effect, Layer, Option, Redacted, Ref } from "effect"
import * as https from "node:https"
import { AdmissionLookup, needsJudgement } from "../../src/admission/judge.js"
import type { AdmissionRequest } from "../../src/admission/review.js"
import { serveWebhooks } from "../../src/admission/server.js"
import { Webhooks } from "../../src/api/wellKnown.js"
import { operatorConfigLayer } from "../../src/config.js"
import type { KubeObject } from "../../src/kube/object.js"
import { Audit, type AuditEntry } from "../../src/observability/audit.js"
import { createCertificateAuthority, issueServingCertificate } from "../../src/tls/certificates.js"

const now = new Date()
const ca = createCertificateAuthority({ commonName: "test-ca", now, validForMillis: 3_600_000 })
const leaf = issueServingCertificate(ca, { commonName: "webhook", hosts: ["127.0.0.1"], now, validForMillis: 3_600_000 })

const target: KubeObject = {
  apiVersion: "apps.vworkspace.io/v1alpha1",
  kind: "ApplicationInstance",
  metadata: { name: "app", namespace: "ns", annotations: { "ops.vworkspace.io/runcommand": "job" } },
  spec: { appRef: { catalogId: "ops" }, mode: "placeholder" }
}
const lookup = Layer.succeed(AdmissionLookup, {
  namespaceAnnotations: () => Effect.succeed(undefined),
  target: (_ns, name) => Effect.succeed(name === "app" ? Option.some(target) : Option.none())
})

const operation = (spec: Record<string, unknown> = {}, metadata: Record<string, unknown> = {}) => ({
  apiVersion: "ops.vworkspace.io/v1alpha1",
  kind: "Operation",
  metadata: { name: "op", namespace: "ns", ...metadata },
  spec: {
    targetRef: { apiVersion: "apps.vworkspace.io/v1alpha1", kind: "ApplicationInstance", name: "app" },
    type: "RunCommand",
    engine: "job",
    parameters: { image: "busybox" },
    ...spec
  }
})

const request = (overrides: Partial<AdmissionRequest> = {}): AdmissionRequest => ({
  uid: "0d8f-uid",
  kind: { group: "ops.vworkspace.io", version: "v1alpha1", kind: "Operation" },
  operation: "CREATE",
  name: "op",
  namespace: "ns",
  userInfo: { username: "alice" },
  object: operation(),
  ...overrides
})

const post = (port: number, path: string, body: string, method = "POST") =>
  Effect.async<{ readonly status: number; readonly body: string }, Error>((resume) => {
    const req = https.request(
      { host: "127.0.0.1", port, path, method, ca: ca.certificatePem, headers: { "Content-Type": "application/json" }, timeout: 5000 },
      (res) => {
        let text = ""
        res.on("data", (d: Buffer) => (text += d.toString()))
        res.on("end", () => resume(Effect.succeed({ status: res.statusCode ?? 0, body: text })))
      }
    )
    req.on("error", (e) => resume(Effect.fail(e)))
    req.end(body)
  })

const review = (r: AdmissionRequest) => JSON.stringify({ apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview", request: r })

const withServer = <A, E>(use: (port: number, audited: Ref.Ref<ReadonlyArray<AuditEntry>>) => Effect.Effect<A, E>) =>
  Effect.gen(function* () {
    const audited = yield* Ref.make<ReadonlyArray<AuditEntry>>([])
    const audit = Layer.succeed(Audit, { record: (entry) => Ref.update(audited, (all) => [...all, entry]) })
    const server = yield* serveWebhooks({ host: "127.0.0.1", port: 0 }).pipe(
      Effect.provide(Layer.mergeAll(lookup, audit, operatorConfigLayer({ approvalClaimSecret: Redacted.make("s") })))
    )
    yield* server.setCertificate(leaf)
    return yield* use(server.port, audited)
  }).pipe(Effect.scoped, Effect.timeout(Duration.seconds(20)))

it.effect("a denial is allowed=false with 403 Forbidden and the plain message, and is audited", () =>
  withServer((port, audited) =>
    Effect.gen(function* () {
      const toGone = operation({ targetRef: { apiVersion: "apps.vworkspace.io/v1alpha1", kind: "ApplicationInstance", name: "gone" } })
      const r = yield* post(port, Webhooks.operation.path, review(request({ object: toGone })))
      expect(r.status).toBe(200)
      expect(JSON.parse(r.body)).toEqual({
        apiVersion: "admission.k8s.io/v1",
        kind: "AdmissionReview",
        response: { uid: "0d8f-uid", allowed: false, status: { code: 403, reason: "Forbidden", message: 'target ApplicationInstance "gone" not found in namespace "ns"' } }
      })
      expect(yield* Ref.get(audited)).toEqual([
        {
          action: "AdmissionDenied",
          actor: "alice",
          message: 'target ApplicationInstance "gone" not found in namespace "ns"',
          object: { apiVersion: "ops.vworkspace.io/v1alpha1", kind: "Operation", metadata: { name: "op", namespace: "ns" } }
        }
      ])
      const allowed = yield* post(port, Webhooks.operation.path, review(request()))
      expect(JSON.parse(allowed.body)).toMatchObject({ response: { uid: "0d8f-uid", allowed: true } })
      // A dry run is judged the same, but leaves no audit Event behind.
      yield* post(port, Webhooks.operation.path, review(request({ dryRun: true, object: operation({ type: "Backup" }) })))
      expect((yield* Ref.get(audited)).length).toBe(1)
    })
  ))

it.effect("bad bodies get a clear 400 and the server keeps answering; unknown paths and methods are refused", () =>
  withServer((port) =>
    Effect.gen(function* () {
      const garbage = yield* post(port, Webhooks.operation.path, "{not json")
      expect(garbage.status).toBe(400)
      expect(garbage.body).toMatch(/^invalid AdmissionReview v1: /)
      const wrongShape = yield* post(port, Webhooks.operation.path, JSON.stringify({ apiVersion: "admission.k8s.io/v1beta1", kind: "AdmissionReview", request: {} }))
      expect(wrongShape.status).toBe(400)
      expect(wrongShape.body).toContain("admission.k8s.io/v1")
      expect((yield* post(port, "/elsewhere", review(request()))).status).toBe(404)
      expect((yield* post(port, Webhooks.operation.path, "", "GET")).status).toBe(405)
      const wrongKind = yield* post(port, Webhooks.applicationInstance.path, review(request()))
      expect(JSON.parse(wrongKind.body)).toMatchObject({
        response: { allowed: false, status: { message: "this webhook judges ApplicationInstance.apps.vworkspace.io, not Operation.ops.vworkspace.io" } }
      })
      expect(JSON.parse((yield* post(port, Webhooks.operation.path, review(request()))).body)).toMatchObject({ response: { allowed: true } })
    })
  ))

it.effect("the ApplicationInstance webhook refuses inline secrets", () =>
  withServer((port) =>
    Effect.gen(function* () {
      const ai = {
        apiVersion: "apps.vworkspace.io/v1alpha1",
        kind: "ApplicationInstance",
        metadata: { name: "a", namespace: "ns" },
        spec: {
          appRef: { catalogId: "nextcloud" },
          chart: { sourceType: "helm", url: "https://charts.example.test", name: "nextcloud", version: "1.0.0" },
          release: { name: "a", namespace: "ns" },
          values: { source: "inline", inline: { admin: { password: "x" } } }
        }
      }
      const r = yield* post(
        port,
        Webhooks.applicationInstance.path,
        review(request({ kind: { group: "apps.vworkspace.io", version: "v1alpha1", kind: "ApplicationInstance" }, object: ai }))
      )
      expect(JSON.parse(r.body)).toMatchObject({
        response: { allowed: false, status: { message: 'inline secret material rejected at "admin.password": use secretRef or configMapRef' } }
      })
    })
  ))

it("never stuck: deletes, objects being deleted, subresources and metadata-only updates skip the checks", () => {
  const bad = operation({ type: "Backup" })
  expect(needsJudgement(request({ object: bad }))).toBe(true)
  expect(needsJudgement(request({ operation: "DELETE", object: null, oldObject: bad }))).toBe(false)
  expect(needsJudgement(request({ operation: "UPDATE", object: operation({ type: "Backup" }, { deletionTimestamp: "2026-12-02T00:00:00Z" }), oldObject: bad }))).toBe(false)
  expect(needsJudgement(request({ operation: "UPDATE", subResource: "status", object: bad, oldObject: bad }))).toBe(false)
  expect(needsJudgement(request({ operation: "UPDATE", object: operation({ type: "Backup" }, { finalizers: [], labels: { a: "b" } }), oldObject: bad }))).toBe(false)
  expect(needsJudgement(request({ operation: "UPDATE", object: operation({ type: "Backup", parameters: {} }), oldObject: bad }))).toBe(true)
})
