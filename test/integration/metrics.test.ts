/**
 * The secure /metrics endpoint against the real API server: HTTPS with the operator's
 * self-signed certificate (or a mounted one, as cert-manager provides it), TokenReview + SubjectAccessReview on every new bearer token, and an
 * exposition from a real run (reconciles, queue, informers, Operations) that promtool accepts.
 */
import { execFileSync } from "node:child_process"
import { X509Certificate } from "node:crypto"
import { request } from "node:https"
import { expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import { KubeApi } from "../../src/kube/KubeApi.js"
import { Resources } from "../../src/kube/resources.js"
import { createCertificateAuthority, issueServingCertificate } from "../../src/tls/certificates.js"
import { adminRequest, createTestNamespace } from "../support/cluster.js"
import { newServiceAccountToken } from "../support/serviceAccount.js"
import { kubeLayer, startTestOperator } from "../support/operator.js"
import { secretVolume, servedCertificate } from "../support/tls.js"
import { waitFor } from "../support/wait.js"

const gated = { "managed-by": "vworkspace" }

interface Scrape {
  readonly status: number
  readonly body: string
}

/** GET https://127.0.0.1:<port>/metrics, verifying the serving certificate against `ca`. */
const scrape = (port: number, ca: string, token?: string) =>
  Effect.async<Scrape, Error>((resume) => {
    const req = request(
      { host: "127.0.0.1", port, path: "/metrics", method: "GET", ca, headers: token ? { Authorization: `Bearer ${token}` } : {}, timeout: 10_000 },
      (res) => {
        const chunks: Array<Buffer> = []
        res.on("data", (c: Buffer) => chunks.push(c))
        res.on("end", () => resume(Effect.succeed({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") })))
      }
    )
    req.on("error", (e) => resume(Effect.fail(e)))
    req.on("timeout", () => req.destroy(new Error("scrape timed out")))
    req.end()
  })


/** The chart's metrics-reader ClusterRole, bound to one ServiceAccount; both removed with the scope. */
const grantMetricsReader = (namespace: string, serviceAccount: string) =>
  Effect.acquireRelease(
    Effect.gen(function* () {
      const name = `${namespace}-metrics-reader`
      const role = yield* adminRequest({
        method: "POST",
        path: "/apis/rbac.authorization.k8s.io/v1/clusterroles",
        body: JSON.stringify({
          apiVersion: "rbac.authorization.k8s.io/v1",
          kind: "ClusterRole",
          metadata: { name },
          rules: [{ nonResourceURLs: ["/metrics"], verbs: ["get"] }]
        })
      })
      expect(role.status).toBe(201)
      const binding = yield* adminRequest({
        method: "POST",
        path: "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
        body: JSON.stringify({
          apiVersion: "rbac.authorization.k8s.io/v1",
          kind: "ClusterRoleBinding",
          metadata: { name },
          roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name },
          subjects: [{ kind: "ServiceAccount", name: serviceAccount, namespace }]
        })
      })
      expect(binding.status).toBe(201)
      return name
    }),
    (name) =>
      Effect.ignore(
        Effect.zipRight(
          adminRequest({ method: "DELETE", path: `/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/${name}` }),
          adminRequest({ method: "DELETE", path: `/apis/rbac.authorization.k8s.io/v1/clusterroles/${name}` })
        )
      )
  )

const promtool = (text: string): string => {
  try {
    return execFileSync("/usr/bin/promtool", ["check", "metrics"], { input: text, encoding: "utf8", stdio: "pipe" })
  } catch (e) {
    const failure = e as { stdout?: string; stderr?: string }
    return `promtool failed: ${failure.stdout ?? ""}${failure.stderr ?? ""}`
  }
}

layer(kubeLayer(), { timeout: "90 seconds", excludeTestServices: true })("secure metrics", (it) => {
  it.scoped("401 without or with a bad token, 403 without the RBAC right, 200 and a promtool-clean exposition with it", () =>
    Effect.gen(function* () {
      const ns = yield* createTestNamespace("metrics", gated)
      const scraperToken = yield* newServiceAccountToken(ns, "scraper")
      const strangerToken = yield* newServiceAccountToken(ns, "stranger")
      yield* grantMetricsReader(ns, "scraper")
      const operator = yield* startTestOperator({
        namespace: ns,
        metrics: { address: { host: "127.0.0.1", port: 0 }, secure: true }
      })
      const server = operator.metrics
      expect(server?.secure).toBe(true)
      const port = server?.port ?? 0
      const ca = server?.caPem ?? ""

      // Real traffic: an instance to reconcile and an Operation that gets blocked (no target).
      const kube = yield* KubeApi
      yield* kube.apply(
        Resources.ApplicationInstance,
        {
          apiVersion: "apps.vworkspace.io/v1alpha1",
          kind: "ApplicationInstance",
          metadata: { name: "ops", namespace: ns },
          spec: { appRef: { catalogId: "cluster-ops" }, mode: "placeholder" }
        },
        { fieldManager: "metrics-test", force: true }
      )

      expect((yield* scrape(port, ca)).status).toBe(401)
      expect((yield* scrape(port, ca, "not-a-real-token")).status).toBe(401)
      expect((yield* scrape(port, ca, strangerToken)).status).toBe(403)

      const reconciled = yield* waitFor(
        "a successful applicationinstance reconcile in /metrics",
        Effect.map(scrape(port, ca, scraperToken), (r) =>
          r.status === 200 && /controller_runtime_reconcile_total\{controller="applicationinstance",result="success"\} [1-9]/.test(r.body)
            ? r
            : undefined
        )
      )
      const body = reconciled.body
      for (const series of [
        "controller_runtime_reconcile_time_seconds_bucket",
        "workqueue_adds_total",
        "workqueue_depth",
        "workqueue_queue_duration_seconds_bucket",
        "workqueue_work_duration_seconds_bucket",
        "vworkspace_operator_managed_namespaces",
        "vworkspace_operator_pull_job_lag_seconds",
        "vworkspace_operator_credential_age_seconds"
      ]) {
        expect(body).toContain(series)
      }
      expect(body).toMatch(/^vworkspace_operator_managed_namespaces [1-9]\d*$/m)
      expect(promtool(body)).toBe("")
      // A second scrape with the same token is answered from the decision cache, still 200.
      expect((yield* scrape(port, ca, scraperToken)).status).toBe(200)
    })
  )

  it.scoped("--metrics-cert-dir serves the mounted certificate, verified against its CA, and picks up a renewal", () =>
    Effect.gen(function* () {
      const ns = yield* createTestNamespace("metrics-cert", gated)
      const scraperToken = yield* newServiceAccountToken(ns, "scraper")
      yield* grantMetricsReader(ns, "scraper")
      // cert-manager's part: a CA and a leaf for the metrics Service (and 127.0.0.1, where the test scrapes).
      const day = 24 * 3600 * 1000
      const ca = createCertificateAuthority({ commonName: "metrics-ca", now: new Date(), validForMillis: 365 * day })
      const issue = () => issueServingCertificate(ca, { commonName: "metrics", now: new Date(), validForMillis: 90 * day, hosts: [`vworkspace-operator-metrics.${ns}.svc`, "127.0.0.1"] })
      const volume = yield* secretVolume
      const first = issue()
      yield* volume.write({ "tls.crt": first.certificatePem, "tls.key": first.privateKeyPem, "ca.crt": ca.certificatePem })

      const operator = yield* startTestOperator({
        namespace: ns,
        metrics: { address: { host: "127.0.0.1", port: 0 }, secure: true, certDir: volume.dir, reloadInterval: "100 millis" }
      })
      const port = operator.metrics?.port ?? 0
      // The mounted certificate, not a self-signed one: the scrape verifies it against cert-manager's CA.
      expect(operator.metrics?.caPem).toBeUndefined()
      expect((yield* scrape(port, ca.certificatePem, scraperToken)).status).toBe(200)
      const fingerprint = (pem: string) => new X509Certificate(pem).fingerprint256
      expect((yield* servedCertificate(port))?.fingerprint256).toBe(fingerprint(first.certificatePem))

      const renewed = issue()
      yield* volume.write({ "tls.crt": renewed.certificatePem, "tls.key": renewed.privateKeyPem, "ca.crt": ca.certificatePem })
      yield* waitFor(
        "the renewed metrics certificate to be served",
        Effect.map(servedCertificate(port), (c) => (c?.fingerprint256 === fingerprint(renewed.certificatePem) ? c : undefined))
      )
      expect((yield* scrape(port, ca.certificatePem, scraperToken)).status).toBe(200)
    })
  )

  it.scoped("--metrics-cert-dir with a key that is not the certificate's fails the start with a typed error", () =>
    Effect.gen(function* () {
      const ns = yield* createTestNamespace("metrics-mismatch", gated)
      const day = 24 * 3600 * 1000
      const ca = createCertificateAuthority({ commonName: "metrics-ca", now: new Date(), validForMillis: day })
      const issue = () => issueServingCertificate(ca, { commonName: "metrics", now: new Date(), validForMillis: day, hosts: ["127.0.0.1"] })
      const volume = yield* secretVolume
      // A half-updated Secret: the certificate of one issue, the key of another.
      yield* volume.write({ "tls.crt": issue().certificatePem, "tls.key": issue().privateKeyPem })
      const error = yield* Effect.flip(
        startTestOperator({ namespace: ns, metrics: { address: { host: "127.0.0.1", port: 0 }, secure: true, certDir: volume.dir } })
      )
      expect(error).toMatchObject({
        _tag: "MetricsServerError",
        message: "metrics serving certificate: serving certificate rejected: the private key does not belong to the certificate"
      })
    })
  )

  it.scoped("--metrics-secure=false serves plain HTTP without authentication", () =>
    Effect.gen(function* () {
      const ns = yield* createTestNamespace("metrics-plain", gated)
      const operator = yield* startTestOperator({ namespace: ns, metrics: { address: { host: "127.0.0.1", port: 0 }, secure: false } })
      const response = yield* Effect.tryPromise(() => fetch(`http://127.0.0.1:${operator.metrics?.port ?? 0}/metrics`))
      expect(response.status).toBe(200)
      expect(yield* Effect.tryPromise(() => response.text())).toContain("# TYPE controller_runtime_reconcile_total counter")
    })
  )
})
