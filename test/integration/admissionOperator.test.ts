/**
 * The admission wiring of the real operator program: with a webhook port set, the leader writes
 * the CA and serving certificate into the Secret, and the webhook server of the same process
 * loads it and answers AdmissionReviews over TLS that the Secret's CA verifies.
 */
import { expect, layer } from "@effect/vitest"
import { Duration, Effect, Either } from "effect"
import * as https from "node:https"
import * as net from "node:net"
import { defaultWebhookSettings } from "../../src/admission/settings.js"
import { Webhooks } from "../../src/api/wellKnown.js"
import { KubeApi } from "../../src/kube/KubeApi.js"
import { Resources } from "../../src/kube/resources.js"
import { createTestNamespace } from "../support/cluster.js"
import { plantedSecret } from "../support/logScan.js"
import { kubeLayer, startTestOperator } from "../support/operator.js"
import { waitFor } from "../support/wait.js"

/** A loopback port that was free a moment ago (the operator binds it next). */
const freePort = Effect.async<number>((resume) => {
  const probe = net.createServer()
  probe.listen(0, "127.0.0.1", () => {
    const address = probe.address()
    const port = typeof address === "object" && address !== null ? address.port : 0
    probe.close(() => resume(Effect.succeed(port)))
  })
})

const postReview = (port: number, ca: string, body: string) =>
  Effect.async<string, Error>((resume) => {
    const req = https.request(
      { host: "127.0.0.1", port, path: Webhooks.applicationInstance.path, method: "POST", ca, timeout: 5000, headers: { "Content-Type": "application/json" } },
      (res) => {
        let text = ""
        res.on("data", (d: Buffer) => (text += d.toString()))
        res.on("end", () => resume(Effect.succeed(text)))
      }
    )
    req.on("error", (e) => resume(Effect.fail(e)))
    req.end(body)
  })

layer(kubeLayer(), { timeout: "120 seconds", excludeTestServices: true })("operator admission wiring", (it) => {
  it.scoped("the operator writes its webhook certificate and serves the webhooks with it", () =>
    Effect.gen(function* () {
      const ns = yield* createTestNamespace("adm-op")
      const port = yield* freePort
      const secretName = "test-webhook-tls"
      yield* startTestOperator({
        namespace: ns,
        config: {
          podNamespace: ns,
          webhook: { ...defaultWebhookSettings, port, host: "127.0.0.1", secretName, configurationName: `${ns}-absent`, extraHosts: ["127.0.0.1"], reloadInterval: Duration.millis(200) }
        }
      })
      const api = yield* KubeApi
      const ca = yield* waitFor(
        "the webhook Secret",
        api.get(Resources.Secret, secretName, ns).pipe(
          Effect.map((s) => {
            const data = s["data"]
            if (typeof data !== "object" || data === null || !("ca.crt" in data)) return undefined
            if ("tls.key" in data) plantedSecret("webhook TLS private key", Buffer.from(String(data["tls.key"]), "base64").toString("utf8"))
            return Buffer.from(String(data["ca.crt"]), "base64").toString("utf8")
          }),
          Effect.catchTag("NotFound", () => Effect.succeed(undefined))
        )
      )
      const review = JSON.stringify({
        apiVersion: "admission.k8s.io/v1",
        kind: "AdmissionReview",
        request: { uid: "u1", kind: { group: "apps.vworkspace.io", version: "v1alpha1", kind: "ApplicationInstance" }, operation: "DELETE", namespace: ns, name: "x" }
      })
      const answer = yield* waitFor(
        "the webhook to answer with the Secret's certificate",
        Effect.map(Effect.either(postReview(port, ca, review)), (r) => (Either.isRight(r) ? r.right : undefined))
      )
      expect(JSON.parse(answer)).toEqual({ apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview", response: { uid: "u1", allowed: true } })
    }))
})
