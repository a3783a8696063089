/**
 * Webhooks with `webhooks.certManager.enabled`: cert-manager issues the serving certificate into
 * a Secret the kubelet mounts, cainjector copies its CA into the ValidatingWebhookConfiguration,
 * and the operator only reads the mounted files. The test plays cert-manager, cainjector and the
 * kubelet the way they behave: the Certificate the real helm renders names the hosts, a renewal
 * comes with a new private key (the chart asks for `rotationPolicy: Always`), and the kubelet
 * swaps the volume's `..data` symlink so both files change at once.
 *
 * Acceptance: renewals reject no admission request, the renewed certificate is served without a
 * restart, and a pair whose key does not match its certificate is never served (the previous one
 * stays until a matching pair arrives).
 */
import { expect, layer } from "@effect/vitest"
import { Duration, Effect, Layer, Logger, LogLevel, Option, Ref } from "effect"
import { X509Certificate } from "node:crypto"
import { SecretKeys, servingHosts } from "../../src/admission/certificates.js"
import { runWebhookServer } from "../../src/admission/index.js"
import { admissionLookupLive } from "../../src/admission/judge.js"
import { operatorConfigLayer } from "../../src/config.js"
import { auditToEventsLive } from "../../src/observability/audit.js"
import { eventRecorderLive } from "../../src/observability/events.js"
import { createCertificateAuthority, issueServingCertificate, type KeyAndCertificate } from "../../src/tls/certificates.js"
import { aiPath, asKubeObject, createLoopbackWebhooks, isRecord, opPath, releaseWebhookSettings, runCommandOp, send } from "../support/admission.js"
import { secretVolume, servedCertificate } from "../support/tls.js"
import { createTestNamespace, testNamespaceName } from "../support/cluster.js"
import { renderChart } from "../support/helm.js"
import { placeholderTarget } from "../support/operations.js"
import { kubeLayer } from "../support/operator.js"
import { waitFor } from "../support/wait.js"

const day = 24 * 60 * 60 * 1000

const pairFiles = (ca: KeyAndCertificate, leaf: { readonly certificatePem: string; readonly privateKeyPem: string }) => ({
  [SecretKeys.cert]: leaf.certificatePem,
  [SecretKeys.key]: leaf.privateKeyPem,
  [SecretKeys.ca]: ca.certificatePem
})

const kube = kubeLayer()
const services = Layer.mergeAll(
  admissionLookupLive,
  auditToEventsLive.pipe(Layer.provide(eventRecorderLive)),
  operatorConfigLayer({}),
  kube,
  Logger.minimumLogLevel(process.env["VWORKSPACE_TEST_LOG"] === "debug" ? LogLevel.Debug : LogLevel.Error)
).pipe(Layer.provideMerge(kube))

layer(services, { timeout: "180 seconds", excludeTestServices: true })("webhooks with cert-manager (real API server, real helm)", (it) => {
  it.scoped("renewals through the mounted Secret reject no request; a mismatched pair is never served", () =>
    Effect.gen(function* () {
      const testLabel = { "admission-cm-test": testNamespaceName("acm").slice(-10) }
      const operatorNamespace = yield* createTestNamespace("acm-system")
      const ns = yield* createTestNamespace("acm-gated", { "managed-by": "vworkspace", ...testLabel })
      const release = testNamespaceName("acm").slice(0, 20)
      const fullname = `${release}-vworkspace-operator`
      const rendered = renderChart({
        releaseName: release,
        namespace: operatorNamespace,
        values: { webhooks: { certManager: { enabled: true, issuerRef: { name: "vworkspace-ca", kind: "Issuer" } } } }
      })
      const ofKind = (kind: string) => rendered.objects.filter((o) => o["kind"] === kind).map(asKubeObject)

      // The chart's wiring: cainjector reads the Certificate the chart renders, into the Secret the pod mounts.
      const [certificate] = ofKind("Certificate")
      const [configuration] = ofKind("ValidatingWebhookConfiguration")
      const certificateSpec = isRecord(certificate?.["spec"]) ? certificate["spec"] : {}
      expect(configuration?.metadata.annotations?.["cert-manager.io/inject-ca-from"]).toBe(`${operatorNamespace}/${certificate?.metadata.name}`)
      expect(certificateSpec["secretName"]).toBe(`${fullname}-webhook-tls`)
      expect(certificateSpec["privateKey"]).toMatchObject({ rotationPolicy: "Always" })
      const settings = releaseWebhookSettings(fullname)
      expect(certificateSpec["dnsNames"]).toEqual(servingHosts(settings, operatorNamespace))
      // That the Deployment mounts this Secret where --webhook-cert-dir points: test/unit/chart.test.ts.

      // cert-manager's first issue (the test serves on 127.0.0.1, so that is in the names too).
      const now = new Date()
      const ca = createCertificateAuthority({ commonName: "vworkspace-ca", now, validForMillis: 365 * day })
      const issue = () =>
        issueServingCertificate(ca, { commonName: `${fullname}-webhook`, now: new Date(), validForMillis: 90 * day, hosts: [...servingHosts(settings, operatorNamespace), "127.0.0.1"] })
      const volume = yield* secretVolume
      const mount = volume.write
      const first = issue()
      yield* mount(pairFiles(ca, first))

      const server = yield* runWebhookServer({ ...settings, certDir: Option.some(volume.dir) }, operatorNamespace, { host: "127.0.0.1", port: 0 })
      // cainjector's part: the CA of the Certificate's Secret into every webhook's caBundle.
      yield* createLoopbackWebhooks(configuration!, server.port, testLabel, Buffer.from(ca.certificatePem).toString("base64"))
      yield* waitFor(
        "the webhook to answer",
        Effect.map(send("POST", opPath(ns), runCommandOp(ns, "probe", { target: "absent" })), (r) => (r.message.includes("denied the request") ? r : undefined)),
        { timeout: "60 seconds", interval: "250 millis" }
      )
      expect((yield* send("POST", aiPath(ns), placeholderTarget(ns, "app", { runcommand: "job" }))).status).toBe(201)

      // Admission requests all along (dry runs: nothing is stored) while the files change.
      const outcomes = yield* Ref.make<ReadonlyArray<{ readonly status: number; readonly message: string }>>([])
      const stop = yield* Ref.make(false)
      const streaming = yield* Effect.fork(
        Effect.gen(function* () {
          for (let i = 0; !(yield* Ref.get(stop)) && i < 5000; i++) {
            const r = yield* send("POST", `${opPath(ns)}?dryRun=All`, runCommandOp(ns, `dry-${i}`))
            yield* Ref.update(outcomes, (all) => [...all, r])
          }
        })
      )
      const count = Effect.map(Ref.get(outcomes), (o) => o.length)
      const moreRequests = (what: string) =>
        Effect.flatMap(count, (from) => waitFor(what, Effect.map(count, (n) => (n > from + 3 ? n : undefined))))
      const served = (leaf: KeyAndCertificate) => {
        const wanted = new X509Certificate(leaf.certificatePem).fingerprint256
        return waitFor(`the webhook to serve the certificate ${wanted.slice(0, 11)}…`, Effect.map(servedCertificate(server.port), (c) => (c?.fingerprint256 === wanted ? c : undefined)))
      }

      yield* served(first)
      yield* moreRequests("requests with the first certificate")

      // Renewal with a new key, as cert-manager does it: the kubelet swaps both files at once.
      const renewed = issue()
      yield* mount(pairFiles(ca, renewed))
      yield* served(renewed)
      yield* moreRequests("requests after the renewal")

      // A pair that does not belong together (the next certificate, the old key) is not served:
      // handshakes keep presenting the renewed certificate until the matching key arrives.
      const next = issue()
      yield* mount(pairFiles(ca, { certificatePem: next.certificatePem, privateKeyPem: renewed.privateKeyPem }))
      const during = yield* Effect.forEach(Array.from({ length: 10 }), () =>
        Effect.zipLeft(Effect.map(servedCertificate(server.port), (c) => c?.fingerprint256), Effect.sleep(Duration.millis(100)))
      )
      const renewedFingerprint = (yield* servedCertificate(server.port))?.fingerprint256
      expect(renewedFingerprint).toBeDefined()
      expect(new Set(during)).toEqual(new Set([renewedFingerprint]))
      yield* moreRequests("requests while the mounted pair does not match")
      yield* mount(pairFiles(ca, next))
      yield* served(next)
      yield* moreRequests("requests after the matching key arrived")

      yield* Ref.set(stop, true)
      yield* streaming.await
      const all = yield* Ref.get(outcomes)
      expect(all.filter((o) => o.status !== 201)).toEqual([])
      expect(all.length).toBeGreaterThan(12)
    })
  )
})
