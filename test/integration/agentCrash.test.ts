/**
 * kill -9 of the operator process (`vworkspace-operator run`, Pull mode) at each step of a job,
 * against the real API server and the mock control plane over loopback. After a restart there is
 * exactly one effect on the cluster and exactly one accepted result:
 * - after the ack (the control plane took it; the answer never reached the agent),
 * - after the apply (the object exists; the agent is waiting for it to be Ready),
 * - before the result (applied and recorded; the result post never arrived).
 * The mock hands an acked job without a result out again after `resultTimeoutMillis`.
 */
import { expect, layer } from "@effect/vitest"
import { Duration, Effect, Option, Schema } from "effect"
import { KubeApi } from "../../src/kube/KubeApi.js"
import type { KubeObject, ResourceType } from "../../src/kube/object.js"
import { Resources } from "../../src/kube/resources.js"
import { writeFluxStatus } from "../support/flux.js"
import { kubeLayer } from "../support/operator.js"
import { killOperator } from "../support/operatorProcess.js"
import { clusterId, startPullOperators } from "../support/pullAgent.js"
import { waitFor } from "../support/wait.js"

/** A process start (tsx compiles src/) on a loaded machine, plus the job. */
const within = Duration.seconds(90)

const getOption = (type: ResourceType, name: string, namespace: string) =>
  Effect.flatMap(KubeApi, (api) =>
    api.get(type, name, namespace).pipe(
      Effect.map(Option.some),
      Effect.catchTag("NotFound", () => Effect.succeed(Option.none<KubeObject>()))
    )
  )

const configMapJob = (id: string, namespace: string, name: string) => ({
  id,
  kind: "apply",
  payload: { apiVersion: "v1", kind: "ConfigMap", metadata: { name, namespace }, data: { step: id } },
  idempotencyKey: `crash/${id}@1`,
  createdAt: new Date().toISOString()
})

const ManagedFields = Schema.Array(Schema.Struct({ manager: Schema.String, operation: Schema.String }))

/** The operations of the agent's field manager on the object (one SSA entry, however often it applied). */
const agentManagers = (o: KubeObject) =>
  Schema.decodeUnknownSync(ManagedFields)(o.metadata.managedFields ?? [])
    .filter((f) => f.manager === "vworkspace-agent")
    .map((f) => f.operation)

layer(kubeLayer(), { timeout: "300 seconds", excludeTestServices: true })("Pull agent process killed mid-job", (it) => {
  const fixture = startPullOperators({ mock: { resultTimeoutMillis: 2000, redeliverAfterMillis: 2000 } })
  /** Each test starts two processes; a failure shows their output. */
  const timeout = 240_000

  it.scoped("after the ack: not applied yet; after the restart applied once, one result", () =>
    Effect.gen(function* () {
      const f = yield* fixture
      yield* Effect.addFinalizer((exit) => (exit._tag === "Failure" ? Effect.sync(() => console.log(f.outputs())) : Effect.void))
      // Acks are recorded by the control plane, but their answers are cut: the agent never applies.
      yield* f.admin.addFaults([{ status: "dropAnswer", routes: ["ack"] }])
      const first = yield* f.start()
      yield* f.admin.enqueue(clusterId, configMapJob("after-ack", f.appNamespace, "after-ack"))
      yield* waitFor("the ack recorded", Effect.map(f.admin.job("after-ack"), (j) => (j.acked ? j : undefined)), { timeout: within })
      yield* killOperator(first)
      expect(Option.isNone(yield* getOption(Resources.ConfigMap, "after-ack", f.appNamespace))).toBe(true)

      yield* f.admin.clearFaults
      const second = yield* f.start()
      const result = yield* f.admin.waitForResult("after-ack", within)
      expect(result.outcome).toBe("succeeded")
      const live = Option.getOrThrow(yield* getOption(Resources.ConfigMap, "after-ack", f.appNamespace))
      expect(agentManagers(live)).toEqual(["Apply"])
      expect(result.appliedRef?.uid).toBe(live.metadata.uid)
      const view = yield* f.admin.job("after-ack")
      expect(view.deliveries).toBeGreaterThanOrEqual(2)
      expect(view.duplicateResults).toBe(0)
      expect((yield* f.requestsOf(second)).filter((r) => r.route === "result").length).toBe(1)
    }), timeout)

  it.scoped("after the apply (waiting for Ready): the object is kept, not made again; one result once Ready", () =>
    Effect.gen(function* () {
      const f = yield* fixture
      yield* Effect.addFinalizer((exit) => (exit._tag === "Failure" ? Effect.sync(() => console.log(f.outputs())) : Effect.void))
      const first = yield* f.start()
      const ai = {
        apiVersion: "apps.vworkspace.io/v1alpha1",
        kind: "ApplicationInstance",
        metadata: { name: "cloud", namespace: f.appNamespace },
        spec: {
          appRef: { catalogId: "nextcloud" },
          chart: { sourceType: "helm", url: "https://charts.example.test/stable", name: "nextcloud", version: "6.6.0" },
          release: { name: "cloud", namespace: f.appNamespace },
          values: { source: "inline", inline: { replicaCount: 1 } }
        }
      }
      yield* f.admin.enqueue(clusterId, {
        id: "after-apply",
        kind: "intent",
        payload: { intent: "ensure-application-instance", applicationInstance: ai },
        idempotencyKey: "crash/after-apply@1",
        createdAt: new Date().toISOString()
      })
      // An interim status: the instance is applied and the agent waits for it to be Ready.
      yield* waitFor("an interim status", Effect.map(f.admin.job("after-apply"), (j) => (j.statuses.length > 0 ? j : undefined)), {
        timeout: within
      })
      yield* killOperator(first)
      const applied = Option.getOrThrow(yield* getOption(Resources.ApplicationInstance, "cloud", f.appNamespace))
      expect((yield* f.admin.job("after-apply")).result).toBeUndefined()

      yield* f.start()
      yield* waitFor("the job handed out again", Effect.map(f.admin.job("after-apply"), (j) => (j.deliveries >= 2 ? j : undefined)), {
        timeout: within
      })
      // Playing helm-controller: the release is installed.
      const hr = yield* waitFor("the HelmRelease", Effect.map(getOption(Resources.HelmRelease, "cloud", f.appNamespace), Option.getOrUndefined), {
        timeout: within
      })
      yield* writeFluxStatus(hr, [{ type: "Reconciling", status: "True", reason: "Progressing", message: "Running 'install' action with timeout of 5m0s" }])
      yield* writeFluxStatus(hr, [
        { type: "Ready", status: "True", reason: "InstallSucceeded", message: "Helm install succeeded" },
        { type: "Released", status: "True", reason: "InstallSucceeded", message: "Helm install succeeded" }
      ])
      const result = yield* f.admin.waitForResult("after-apply", within)
      const live = Option.getOrThrow(yield* getOption(Resources.ApplicationInstance, "cloud", f.appNamespace))
      expect(result).toMatchObject({ outcome: "succeeded", appliedRef: { uid: applied.metadata.uid, generation: 1 } })
      expect(live.metadata.uid).toBe(applied.metadata.uid)
      expect(live.metadata.generation).toBe(1)
      expect((yield* f.admin.job("after-apply")).duplicateResults).toBe(0)
    }), timeout)

  it.scoped("before the result: applied and recorded; after the restart a replay (noop), the object untouched, one result", () =>
    Effect.gen(function* () {
      const f = yield* fixture
      yield* Effect.addFinalizer((exit) => (exit._tag === "Failure" ? Effect.sync(() => console.log(f.outputs())) : Effect.void))
      // Result posts are cut before the control plane sees them.
      yield* f.admin.addFaults([{ status: "drop", routes: ["result"] }])
      const first = yield* f.start()
      yield* f.admin.enqueue(clusterId, configMapJob("before-result", f.appNamespace, "before-result"))
      yield* waitFor(
        "a result post",
        Effect.map(f.requestsOf(first), (rs) => (rs.some((r) => r.route === "result") ? true : undefined)),
        { timeout: within }
      )
      yield* killOperator(first)
      const applied = Option.getOrThrow(yield* getOption(Resources.ConfigMap, "before-result", f.appNamespace))
      expect((yield* f.admin.job("before-result")).result).toBeUndefined()

      yield* f.admin.clearFaults
      yield* f.start()
      const result = yield* f.admin.waitForResult("before-result", within)
      expect(result.outcome).toBe("noop")
      const live = Option.getOrThrow(yield* getOption(Resources.ConfigMap, "before-result", f.appNamespace))
      expect(live.metadata.resourceVersion).toBe(applied.metadata.resourceVersion)
      expect(agentManagers(live)).toEqual(["Apply"])
      const view = yield* f.admin.job("before-result")
      expect(view.deliveries).toBeGreaterThanOrEqual(2)
      expect(view.duplicateResults).toBe(0)
    }), timeout)
})
