/**
 * Admission in two layers against the real API server: the chart's ValidatingAdmissionPolicies
 * (rendered by the real helm) and a ValidatingWebhookConfiguration pointing at the webhook server
 * on https://127.0.0.1:<port> with the CA the operator manages. Every message is asserted as the
 * API server returns it (what `kubectl` prints after "Error from server (...)").
 *
 * The API server is shared with other test files, so the policy bindings and the webhooks are
 * narrowed to this file's namespaces (a label only they carry); everything else is the chart's.
 */
import { expect, layer } from "@effect/vitest"
import { Context, Duration, Effect, Exit, Layer, Logger, LogLevel, Redacted, Ref, Scope } from "effect"
import { X509Certificate } from "node:crypto"
import { ValidatingWebhookConfigurations, syncCertificates } from "../../src/admission/certificates.js"
import { runWebhookServer } from "../../src/admission/index.js"
import { admissionLookupLive } from "../../src/admission/judge.js"
import type { WebhookSettings } from "../../src/admission/settings.js"
import { defaultLifetimes } from "../../src/admission/certificateRotation.js"
import { operatorConfigLayer } from "../../src/config.js"
import { KubeApi } from "../../src/kube/KubeApi.js"
import type { ResourceType } from "../../src/kube/object.js"
import { Resources } from "../../src/kube/resources.js"
import { auditToEventsLive } from "../../src/observability/audit.js"
import { eventRecorderLive } from "../../src/observability/events.js"
import { issueClaim } from "../../src/validation/approvalClaim.js"
import { aiPath, asKubeObject, createCleanly, createLoopbackWebhooks, isRecord, opPath, releaseWebhookSettings, runCommandOp, send } from "../support/admission.js"
import { servedCertificate } from "../support/tls.js"
import { adminRequest, createTestNamespace, testNamespaceName } from "../support/cluster.js"
import { plantedSecret } from "../support/logScan.js"
import { renderChart } from "../support/helm.js"
import { placeholderTarget, waitForEvent } from "../support/operations.js"
import { kubeLayer } from "../support/operator.js"
import { waitFor } from "../support/wait.js"

const claimSecret = plantedSecret("approval claim secret", "admission-claim-secret")
const clusterId = "cluster-a"

const ValidatingAdmissionPolicies: ResourceType = {
  group: "admissionregistration.k8s.io",
  version: "v1",
  kind: "ValidatingAdmissionPolicy",
  plural: "validatingadmissionpolicies",
  namespaced: false
}
const ValidatingAdmissionPolicyBindings: ResourceType = { ...ValidatingAdmissionPolicies, kind: "ValidatingAdmissionPolicyBinding", plural: "validatingadmissionpolicybindings" }

interface EnvShape {
  readonly release: string
  readonly fullname: string
  readonly operatorNamespace: string
  readonly gated: string
  readonly ungated: string
  readonly restricted: string
  readonly settings: WebhookSettings
  readonly port: number
  /** Stops the webhook server (the operator going down). */
  readonly stopServer: Effect.Effect<void>
}
class Env extends Context.Tag("test/AdmissionEnv")<Env, EnvShape>() {}

const managed = (ns: string, name: string, overrides: { readonly values?: unknown; readonly chartUrl?: string; readonly releaseNamespace?: string; readonly labels?: Record<string, string> } = {}) => ({
  apiVersion: "apps.vworkspace.io/v1alpha1",
  kind: "ApplicationInstance",
  metadata: { name, namespace: ns, ...(overrides.labels ? { labels: overrides.labels } : {}) },
  spec: {
    appRef: { catalogId: "nextcloud" },
    mode: "managed",
    chart: { sourceType: "oci", url: overrides.chartUrl ?? "oci://charts.example.test/nextcloud", name: "nextcloud", version: "1.0.0" },
    release: { name, namespace: overrides.releaseNamespace ?? ns },
    values: { source: "inline", inline: overrides.values ?? { replicas: 1 } }
  }
})

const policyDenied = (env: EnvShape, policy: "applicationinstance" | "operation", resource: string, name: string, message: string) =>
  `${resource} "${name}" is forbidden: ValidatingAdmissionPolicy '${env.fullname}-${policy}' with binding '${env.fullname}-${policy}' denied request: ${message}`
const webhookDenied = (webhook: string, message: string) => `admission webhook "${webhook}" denied the request: ${message}`

const setup = Effect.gen(function* () {
  const testLabel = { "admission-test": testNamespaceName("adm").slice(-10) }
  const operatorNamespace = yield* createTestNamespace("adm-system")
  const gated = yield* createTestNamespace("adm-gated", { "managed-by": "vworkspace", ...testLabel })
  const ungated = yield* createTestNamespace("adm-ungated", testLabel)
  const restricted = yield* createTestNamespace("adm-restricted", { "managed-by": "vworkspace", ...testLabel })
  const api = yield* KubeApi
  yield* api.patch(Resources.Namespace, restricted, undefined, "merge", { metadata: { annotations: { "ops.vworkspace.io/allowed-types": "Backup" } } })

  const release = testNamespaceName("adm").slice(0, 20)
  const fullname = `${release}-vworkspace-operator`
  const rendered = renderChart({ releaseName: release, namespace: operatorNamespace, values: { manager: { clusterId } } })
  const ofKind = (kind: string) => rendered.objects.filter((o) => o["kind"] === kind).map(asKubeObject)
  const narrowed = { matchLabels: testLabel }

  for (const params of ofKind("ConfigMap").filter((c) => c.metadata.name === `${fullname}-admission-params`)) {
    yield* createCleanly(Resources.ConfigMap, params)
  }
  for (const policy of ofKind("ValidatingAdmissionPolicy")) yield* createCleanly(ValidatingAdmissionPolicies, policy)
  for (const binding of ofKind("ValidatingAdmissionPolicyBinding")) {
    const spec = isRecord(binding["spec"]) ? binding["spec"] : {}
    yield* createCleanly(ValidatingAdmissionPolicyBindings, { ...binding, spec: { ...spec, matchResources: { namespaceSelector: narrowed } } })
  }

  const settings = releaseWebhookSettings(fullname, { extraHosts: ["127.0.0.1"] })
  const serverScope = yield* Scope.make()
  yield* Effect.addFinalizer(() => Scope.close(serverScope, Exit.void))
  const server = yield* runWebhookServer(settings, operatorNamespace, { host: "127.0.0.1", port: 0 }).pipe(Scope.extend(serverScope))
  const [configuration] = ofKind("ValidatingWebhookConfiguration")
  yield* createLoopbackWebhooks(configuration!, server.port, testLabel)
  // The operator's first pass: CA, serving certificate, caBundle.
  yield* syncCertificates(settings, operatorNamespace, new Date())

  // Both layers are active once each rejects a probe (policies take a moment to load).
  yield* waitFor(
    "the policies to be active",
    Effect.map(send("POST", aiPath(ungated), placeholderTarget(ungated, "probe", {})), (r) => (r.message.includes("ValidatingAdmissionPolicy") ? r : undefined)),
    { timeout: "60 seconds", interval: "250 millis" }
  )
  yield* waitFor(
    "the webhook to answer",
    Effect.map(send("POST", opPath(gated), runCommandOp(gated, "probe", { target: "absent" })), (r) => (r.message.includes("denied the request") ? r : undefined)),
    { timeout: "60 seconds", interval: "250 millis" }
  )
  return {
    release,
    fullname,
    operatorNamespace,
    gated,
    ungated,
    restricted,
    settings,
    port: server.port,
    stopServer: Scope.close(serverScope, Exit.void)
  } satisfies EnvShape
})

const kube = kubeLayer()
const admissionServices = Layer.mergeAll(
  admissionLookupLive,
  auditToEventsLive.pipe(Layer.provide(eventRecorderLive)),
  operatorConfigLayer({ approvalClaimSecret: Redacted.make(claimSecret), clusterId })
).pipe(Layer.provide(kube))
const quiet = Logger.minimumLogLevel(process.env["VWORKSPACE_TEST_LOG"] === "debug" ? LogLevel.Debug : LogLevel.Warning)
const envLayer = Layer.scoped(Env, setup).pipe(Layer.provideMerge(Layer.mergeAll(admissionServices, kube, quiet)))

layer(envLayer, { timeout: "180 seconds", excludeTestServices: true })("admission (policies + webhooks, real API server)", (it) => {
  it.effect("policies: namespace gate, cluster id and release namespace, for both kinds", () =>
    Effect.gen(function* () {
      const env = yield* Env
      const gate = `namespace "${env.ungated}" does not match the operator's namespace selector "managed-by=vworkspace"`
      expect(yield* send("POST", aiPath(env.ungated), placeholderTarget(env.ungated, "a1", {}))).toEqual({
        status: 403,
        message: policyDenied(env, "applicationinstance", "applicationinstances.apps.vworkspace.io", "a1", gate)
      })
      expect(yield* send("POST", opPath(env.ungated), runCommandOp(env.ungated, "o1"))).toEqual({
        status: 403,
        message: policyDenied(env, "operation", "operations.ops.vworkspace.io", "o1", gate)
      })
      const foreign = { ...placeholderTarget(env.gated, "a2", {}), metadata: { name: "a2", namespace: env.gated, labels: { "app.vworkspace.io/cluster-id": "cluster-b" } } }
      expect(yield* send("POST", aiPath(env.gated), foreign)).toEqual({
        status: 403,
        message: policyDenied(env, "applicationinstance", "applicationinstances.apps.vworkspace.io", "a2", 'label app.vworkspace.io/cluster-id="cluster-b" does not match this cluster ("cluster-a")')
      })
      const elsewhere = yield* send("POST", aiPath(env.gated), managed(env.gated, "a3", { releaseNamespace: "other" }))
      expect(elsewhere.message).toBe(
        policyDenied(env, "applicationinstance", "applicationinstances.apps.vworkspace.io", "a3", "spec.release.namespace must match metadata.namespace")
      )
      const noTemplate = yield* send("POST", opPath(env.gated), { ...runCommandOp(env.gated, "o2"), spec: { ...runCommandOp(env.gated, "o2").spec, type: "Backup" } })
      expect(noTemplate.message).toBe(
        policyDenied(
          env,
          "operation",
          "operations.ops.vworkspace.io",
          "o2",
          'no built-in operation template for type "Backup" and engine "job" (expected refs such as backup.velero, restore.velero, upgrade.helm, migration.helmHookJob, migration.workflow, runCommand.job, runbook.workflow, backup.volsync, restore.volsync, backup.snapshot, restore.snapshot)'
        )
      )
      // A matching cluster id passes.
      const own = { ...placeholderTarget(env.gated, "a4", {}), metadata: { name: "a4", namespace: env.gated, labels: { "app.vworkspace.io/cluster-id": clusterId } } }
      expect((yield* send("POST", aiPath(env.gated), own)).status).toBe(201)
    }))

  it.effect("managed → placeholder is refused for an instance that may own a Helm release", () =>
    Effect.gen(function* () {
      const env = yield* Env
      expect((yield* send("POST", aiPath(env.gated), managed(env.gated, "m1"))).status).toBe(201)
      const switched = yield* send("PATCH", aiPath(env.gated, "m1"), { spec: { mode: "placeholder", chart: null, values: null } }, "application/merge-patch+json")
      expect(switched.status).toBe(422)
      expect(switched.message).toContain(
        "cannot switch a managed instance that owns (or may own) a Helm release to placeholder mode; delete and recreate as a placeholder instead"
      )
    }))

  it.effect("webhook: inline secrets and chart URLs are refused; references and placeholders pass", () =>
    Effect.gen(function* () {
      const env = yield* Env
      const refused = (name: string, values: unknown, message: string) =>
        Effect.map(send("POST", aiPath(env.gated), managed(env.gated, name, { values })), (r) =>
          expect(r).toEqual({ status: 403, message: webhookDenied("vapplicationinstance.kb.io", message) })
        )
      yield* refused("s1", { postgresql: { auth: { password: "hunter2" } } }, 'inline secret material rejected at "postgresql.auth.password": use secretRef or configMapRef')
      yield* refused("s2", { s3: { accessKey: "AKIA0000" } }, 'inline secret material rejected at "s3.accessKey": use secretRef or configMapRef')
      yield* refused("s3", { api: { token: "t0ken" } }, 'inline secret material rejected at "api.token": use secretRef or configMapRef')
      yield* refused("s4", { oidc: { clientSecret: "x" } }, 'inline secret material rejected at "oidc.clientSecret": use secretRef or configMapRef')
      yield* refused("s5", { certs: [{ key: "-----BEGIN EC PRIVATE KEY-----\nMHc..." }] }, 'inline secret material rejected at "certs[0].key": PEM private key not allowed inline')
      const url = yield* send("POST", aiPath(env.gated), managed(env.gated, "u1", { chartUrl: "https://charts.example.test" }))
      expect(url).toEqual({ status: 403, message: webhookDenied("vapplicationinstance.kb.io", "spec.chart.url must start with oci:// when sourceType is oci") })

      const fine = yield* send(
        "POST",
        aiPath(env.gated),
        managed(env.gated, "ok1", { values: { auth: { existingSecret: "db-credentials", password: "<set via ExternalSecret>", passwordKey: "password" } } })
      )
      expect(fine.status).toBe(201)
      // Every denial is audited: a Warning Event on the object as submitted.
      const events = yield* waitForEvent(env.gated, "s1", "AdmissionDenied")
      expect(events.find((e) => e.reason === "AdmissionDenied")).toMatchObject({ type: "Warning", message: expect.stringContaining("postgresql.auth.password") })
      expect(JSON.stringify(events)).not.toContain("hunter2")
    }))

  it.effect("webhook: parameters, target, capability, allowed types and the approval claim", () =>
    Effect.gen(function* () {
      const env = yield* Env
      const ns = env.gated
      const opDenied = (message: string) => ({ status: 403, message: webhookDenied("voperation.kb.io", message) })
      expect(yield* send("POST", opPath(ns), runCommandOp(ns, "p0", { target: "absent" }))).toEqual(
        opDenied(`target ApplicationInstance "absent" not found in namespace "${ns}"`)
      )
      expect((yield* send("POST", aiPath(ns), placeholderTarget(ns, "bare", {}))).status).toBe(201)
      expect(yield* send("POST", opPath(ns), runCommandOp(ns, "p1", { target: "bare" }))).toEqual(
        opDenied('target "bare" missing capability annotation ops.vworkspace.io/runcommand="job" required for template runCommand.job')
      )
      expect((yield* send("POST", aiPath(ns), placeholderTarget(ns, "wrong", { runcommand: "workflow" }))).status).toBe(201)
      expect(yield* send("POST", opPath(ns), runCommandOp(ns, "p2", { target: "wrong" }))).toEqual(
        opDenied('target "wrong" capability ops.vworkspace.io/runcommand="workflow" does not match operation engine "job" (template runCommand.job)')
      )
      expect((yield* send("POST", aiPath(ns), placeholderTarget(ns, "app", { runcommand: "job" }))).status).toBe(201)
      const params = yield* send("POST", opPath(ns), runCommandOp(ns, "p3", { parameters: { image: "busybox", shell: "bash" } }))
      expect(params.status).toBe(403)
      expect(params.message).toMatch(/^admission webhook "voperation\.kb\.io" denied the request: parameters invalid for template runCommand\.job: .*shell/)
      expect(yield* send("POST", opPath(ns), runCommandOp(ns, "p4", { claim: "vws1.e30.0000" }))).toEqual(opDenied("spec.approvals.claim: approval claim signature mismatch"))
      const exp = Math.floor(Date.now() / 1000) + 3600
      const forOther = issueClaim(claimSecret, { op: "someone-else", by: "alice", at: "2026-12-02T00:00:00Z", exp, rid: 1 })
      expect(yield* send("POST", opPath(ns), runCommandOp(ns, "p5", { claim: forOther }))).toEqual(
        opDenied('spec.approvals.claim: approval claim operation "someone-else" does not match "p5"')
      )
      const good = issueClaim(claimSecret, { op: "p6", by: "alice", at: "2026-12-02T00:00:00Z", exp, rid: 1 })
      expect((yield* send("POST", opPath(ns), runCommandOp(ns, "p6", { claim: good }))).status).toBe(201)
      expect((yield* send("POST", opPath(ns), runCommandOp(ns, "p7"))).status).toBe(201)

      const r = env.restricted
      expect((yield* send("POST", aiPath(r), placeholderTarget(r, "app", { runcommand: "job" }))).status).toBe(201)
      expect(yield* send("POST", opPath(r), runCommandOp(r, "p8"))).toEqual(
        opDenied(`operation type "RunCommand" not allowed in namespace "${r}" (annotation ops.vworkspace.io/allowed-types)`)
      )
    }))

  it.effect("never stuck: metadata-only updates and the finalizer of a deleted Operation whose target is gone pass", () =>
    Effect.gen(function* () {
      const env = yield* Env
      const ns = env.gated
      expect((yield* send("POST", aiPath(ns), placeholderTarget(ns, "doomed", { runcommand: "job" }))).status).toBe(201)
      expect((yield* send("POST", opPath(ns), runCommandOp(ns, "held", { target: "doomed", finalizers: ["test.vworkspace.io/hold"] }))).status).toBe(201)
      expect((yield* adminRequest({ method: "DELETE", path: aiPath(ns, "doomed") })).status).toBe(200)
      // The target is gone: a spec change is refused, a label change is not.
      const specChange = yield* send("PATCH", opPath(ns, "held"), { spec: { parameters: { image: "alpine" } } }, "application/merge-patch+json")
      expect(specChange).toEqual({ status: 403, message: webhookDenied("voperation.kb.io", `target ApplicationInstance "doomed" not found in namespace "${ns}"`) })
      const labelled = yield* send("PATCH", opPath(ns, "held"), { metadata: { labels: { note: "x" } } }, "application/merge-patch+json")
      expect(labelled.status).toBe(200)
      expect((yield* adminRequest({ method: "DELETE", path: opPath(ns, "held") })).status).toBe(200)
      const released = yield* send("PATCH", opPath(ns, "held"), { metadata: { finalizers: null } }, "application/merge-patch+json")
      expect(released.status).toBe(200)
      yield* waitFor(
        "the operation to be gone",
        Effect.map(adminRequest({ method: "GET", path: opPath(ns, "held") }), (r) => (r.status === 404 ? true : undefined))
      )
    }))

  it.effect("certificate rotation (leaf, then CA) rejects no request", () =>
    Effect.gen(function* () {
      const env = yield* Env
      const ns = env.gated
      const outcomes = yield* Ref.make<ReadonlyArray<{ readonly status: number; readonly message: string }>>([])
      const stop = yield* Ref.make(false)
      // A stream of admission requests (dry runs: nothing is stored) while the certificates change.
      const stream = Effect.gen(function* () {
        let i = 0
        while (!(yield* Ref.get(stop)) && i < 5000) {
          const r = yield* send("POST", `${opPath(ns)}?dryRun=All`, runCommandOp(ns, `dry-${i++}`))
          yield* Ref.update(outcomes, (all) => [...all, r])
        }
      })
      const streaming = yield* Effect.fork(stream)
      const count = Effect.map(Ref.get(outcomes), (o) => o.length)
      const fingerprint = Effect.map(servedCertificate(env.port), (c) => c?.fingerprint256)
      const before = yield* servedCertificate(env.port)
      const issuedBefore = before!

      // Leaf renewal from the same CA (forced: renew-before longer than the lifetime).
      const atStart = yield* count
      yield* syncCertificates({ ...env.settings, lifetimes: { ...defaultLifetimes, leafRenewBefore: Duration.days(400) } }, env.operatorNamespace, new Date())
      yield* waitFor("the renewed leaf to be served", Effect.map(fingerprint, (f) => (f !== undefined && f !== issuedBefore.fingerprint256 ? f : undefined)))
      const afterLeaf = yield* servedCertificate(env.port)
      expect(afterLeaf!.issuer).toBe(issuedBefore.issuer)
      yield* waitFor("requests after the leaf renewal", Effect.map(count, (n) => (n > atStart + 3 ? n : undefined)))

      // CA renewal: the bundle first, the new CA's leaf only after the trust grace.
      const secret = yield* Effect.flatMap(KubeApi, (api) => api.get(Resources.Secret, env.settings.secretName, env.operatorNamespace))
      const secretData = isRecord(secret["data"]) ? secret["data"] : {}
      const oldCa = new X509Certificate(Buffer.from(String(secretData["ca.crt"]), "base64"))
      expect(afterLeaf!.verify(oldCa.publicKey)).toBe(true)
      const graceful = { ...env.settings, lifetimes: { ...defaultLifetimes, caTrustGrace: Duration.seconds(2) } }
      yield* syncCertificates({ ...graceful, lifetimes: { ...graceful.lifetimes, caRenewBefore: Duration.days(10 * 365) } }, env.operatorNamespace, new Date())
      const bundleCount = yield* waitFor(
        "the caBundle to carry both CAs",
        Effect.flatMap(KubeApi, (api) => api.get(ValidatingWebhookConfigurations, env.fullname)).pipe(
          Effect.map((vwc) => {
            const hooks = Array.isArray(vwc["webhooks"]) ? vwc["webhooks"].filter(isRecord) : []
            const bundle = hooks.map((h) => (isRecord(h["clientConfig"]) ? String(h["clientConfig"]["caBundle"] ?? "") : ""))
            const certs = bundle.map((b) => (Buffer.from(b, "base64").toString("utf8").match(/BEGIN CERTIFICATE/g) ?? []).length)
            return certs.length === 2 && certs.every((n) => n === 2) ? certs : undefined
          })
        )
      )
      expect(bundleCount).toEqual([2, 2])
      expect((yield* fingerprint)).toBe(afterLeaf!.fingerprint256)
      const atCa = yield* count
      yield* waitFor(
        "a leaf from the new CA to be served",
        Effect.gen(function* () {
          yield* syncCertificates(graceful, env.operatorNamespace, new Date())
          const served = yield* servedCertificate(env.port)
          return served !== undefined && served.fingerprint256 !== afterLeaf!.fingerprint256 && !served.verify(oldCa.publicKey)
            ? served
            : undefined
        }),
        { timeout: "30 seconds", interval: "300 millis" }
      )
      yield* waitFor("requests after the CA renewal", Effect.map(count, (n) => (n > atCa + 3 ? n : undefined)))
      yield* Ref.set(stop, true)
      yield* streaming.await
      const all = yield* Ref.get(outcomes)
      expect(all.filter((o) => o.status !== 201)).toEqual([])
      expect(all.length).toBeGreaterThan(6)
    }))

  it.effect("with the webhook server down the policies still refuse, and unrelated writes pass", () =>
    Effect.gen(function* () {
      const env = yield* Env
      yield* env.stopServer
      const gate = `namespace "${env.ungated}" does not match the operator's namespace selector "managed-by=vworkspace"`
      expect(yield* send("POST", aiPath(env.ungated), placeholderTarget(env.ungated, "down1", {}))).toEqual({
        status: 403,
        message: policyDenied(env, "applicationinstance", "applicationinstances.apps.vworkspace.io", "down1", gate)
      })
      const configMap = { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "unrelated", namespace: env.gated }, data: { a: "b" } }
      expect((yield* send("POST", `/api/v1/namespaces/${env.gated}/configmaps`, configMap)).status).toBe(201)
      // Our own kinds wait for the webhook (failurePolicy: Fail) rather than skip its checks.
      const judged = yield* send("POST", opPath(env.gated), runCommandOp(env.gated, "down2"))
      expect(judged.status).toBe(500)
      expect(judged.message).toContain('failed calling webhook "voperation.kb.io"')
    }))
})

