/**
 * Logs never carry a secret: the operator and the Pull agent run at debug level with the real
 * pino JSON logger (src/observability/logger.ts) writing into memory, through a Pull lifecycle that
 * handles known secret values the test plants itself (the agent's bearer token, a Secret's value
 * sent in a job, in clear and base64, and the approval claim secret). Every line is then searched
 * for each of them.
 */
import { expect, layer } from "@effect/vitest"
import { Duration, Effect, Layer, LogLevel, Redacted } from "effect"
import { operatorConfigLayer } from "../../src/config.js"
import * as Log from "../../src/observability/logger.js"
import { Metrics } from "../../src/observability/metrics.js"
import { startOperator } from "../../src/operator.js"
import { createTestNamespace, deleteNamespace, testNamespaceName } from "../support/cluster.js"
import { placeholderTarget } from "../support/operations.js"
import { kubeLayer } from "../support/operator.js"
import { agentToken, clusterId, startPullHarness } from "../support/pullAgent.js"

const secretValue = "s3cr3t-value-planted-by-the-log-scan"
const claimSecret = "claim-hmac-planted-by-the-log-scan"

layer(kubeLayer(), { timeout: "120 seconds", excludeTestServices: true })("log scan", (it) => {
  it.scoped("no token, Secret value or claim secret in any log line of the operator and the Pull agent", () =>
    Effect.gen(function* () {
      const lines: Array<string> = []
      const logs = Log.layer({ level: LogLevel.Debug, destination: { write: (line: string) => void lines.push(line) } })
      const opNs = yield* createTestNamespace("scan-op")
      const target = yield* Effect.acquireRelease(Effect.sync(() => testNamespaceName("scan-apps")), (ns) => Effect.ignore(deleteNamespace(ns)))
      yield* startOperator({ healthProbe: { host: "127.0.0.1", port: 0 }, watchNamespace: target, clusterName: target }).pipe(
        Effect.provide(Layer.mergeAll(operatorConfigLayer({ podNamespace: opNs, approvalClaimSecret: Redacted.make(claimSecret) }), Metrics.test, logs))
      )
      const h = yield* startPullHarness()
      yield* h.startAgent({ namespace: opNs, waitSeconds: 1 }).pipe(Effect.provide(logs))
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

      const needles = [agentToken, secretValue, Buffer.from(secretValue).toString("base64"), claimSecret]
      // The scan is real: the operator and the agent did log (at debug level) about this lifecycle.
      expect(lines.some((l) => l.includes(target))).toBe(true)
      const leaks = lines.filter((line) => needles.some((n) => line.includes(n)))
      expect(leaks).toEqual([])
    }))
})
