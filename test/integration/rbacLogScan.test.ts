/**
 * Logs never carry a secret: a Pull lifecycle that handles secret values this test plants (a
 * Secret's value sent in a job, the approval claim secret configured in the operator; the agent's
 * bearer token is planted by the harness), with a replay and a malformed Secret whose refusal must
 * not echo the value. The operator and the agent log at debug level into the suite-wide log scan
 * (test/support/logScan.ts), which searches every line for them, clear and base64, at the run's end.
 */
import { expect, layer } from "@effect/vitest"
import { Duration, Effect, Layer, Redacted } from "effect"
import { operatorConfigLayer } from "../../src/config.js"
import { Metrics } from "../../src/observability/metrics.js"
import { startOperator } from "../../src/operator.js"
import { createTestNamespace, deleteNamespace, testNamespaceName } from "../support/cluster.js"
import { collectLogs } from "../support/collectedLogs.js"
import { plantedSecret } from "../support/logScan.js"
import { placeholderTarget } from "../support/operations.js"
import { kubeLayer } from "../support/operator.js"
import { clusterId, startPullHarness } from "../support/pullAgent.js"

const secretValue = plantedSecret("Secret value sent in a job", "s3cr3t-value-planted-by-the-log-scan")
const claimSecret = plantedSecret("approval claim secret", "claim-hmac-planted-by-the-log-scan")

layer(kubeLayer(), { timeout: "120 seconds", excludeTestServices: true })("log scan", (it) => {
  it.scoped("no token, Secret value or claim secret in any log line of the operator and the Pull agent", () =>
    Effect.gen(function* () {
      const opNs = yield* createTestNamespace("scan-op")
      const target = yield* Effect.acquireRelease(Effect.sync(() => testNamespaceName("scan-apps")), (ns) => Effect.ignore(deleteNamespace(ns)))
      yield* startOperator({ healthProbe: { host: "127.0.0.1", port: 0 }, watchNamespace: target, clusterName: target }).pipe(
        Effect.provide(Layer.mergeAll(operatorConfigLayer({ podNamespace: opNs, approvalClaimSecret: Redacted.make(claimSecret) }), Metrics.test)),
        collectLogs()
      )
      const h = yield* startPullHarness()
      yield* h.startAgent({ namespace: opNs, waitSeconds: 1 })
      const run = (id: string, kind: string, payload: unknown) =>
        Effect.zipRight(
          h.admin.enqueue(clusterId, { id, kind, payload, idempotencyKey: `scan/${id}`, createdAt: new Date().toISOString() }),
          h.admin.waitForResult(id, Duration.seconds(40))
        )
      const secret = { apiVersion: "v1", kind: "Secret", metadata: { name: "db", namespace: target }, stringData: { password: secretValue } }
      expect(yield* run("secret", "apply", secret)).toMatchObject({ outcome: "succeeded" })
      // The same again: the idempotency store's replay path logs too.
      expect(yield* run("secret-again", "apply", secret)).toMatchObject({ outcome: "succeeded" })
      // A malformed Secret: the refusal's message must not echo the value.
      expect(yield* run("secret-bad", "apply", { ...secret, metadata: { namespace: target } })).toMatchObject({ outcome: "failed" })
      expect(yield* run("ai", "intent", { intent: "ensure-application-instance", applicationInstance: placeholderTarget(target, "site", {}) })).toMatchObject({
        outcome: "succeeded"
      })
    }))
})
