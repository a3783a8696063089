/**
 * The shared status writer against a real API server: a status computed from a copy older than
 * the server's (an informer cache that has not seen this manager's last write yet) is refused,
 * so SSA never drops the fields that write owned nor re-asserts the stale conditions; the pass
 * is requeued, not failed.
 */
import { expect, layer } from "@effect/vitest"
import { Effect, Layer, Schema } from "effect"
import { Cluster } from "../../src/api/cluster.js"
import { findCondition } from "../../src/api/conditions.js"
import { KubeApi } from "../../src/kube/KubeApi.js"
import { Resources } from "../../src/kube/resources.js"
import { EventRecorder } from "../../src/observability/events.js"
import { ReconcileResult } from "../../src/runtime/controller.js"
import { writeStatus } from "../../src/reconcilers/statusWriter.js"
import { confirmCurrent, requeueOnConflict } from "../../src/reconcilers/writes.js"
import { createTestNamespace } from "../support/cluster.js"
import { kubeLayer } from "../support/operator.js"

/** Events are not what these tests look at. */
const noEvents = Layer.succeed(EventRecorder, { record: () => Effect.void })

const cluster = (name: string) =>
  Effect.flatMap(KubeApi, (api) =>
    Effect.acquireRelease(
      api.apply(
        Resources.Cluster,
        { apiVersion: "ops.vworkspace.io/v1alpha1", kind: "Cluster", metadata: { name }, spec: {} },
        { fieldManager: "test-admin", force: true }
      ),
      () => Effect.ignore(Effect.flatMap(KubeApi, (api) => api.delete(Resources.Cluster, name)))
    )
  )

const connected = { type: "Connected", status: "True" as const, reason: "RoundTripOK", message: "ok" }
const pending = { type: "Connected", status: "False" as const, reason: "RegistrationPending", message: "waiting" }

layer(Layer.merge(kubeLayer(), noEvents), { timeout: "60 seconds", excludeTestServices: true })("shared status writer", (it) => {
  it.scoped("a status computed from a stale copy is refused with Conflict; the newer status stays whole", () =>
    Effect.gen(function* () {
      const name = yield* createTestNamespace("status-stale")
      const read = yield* cluster(name)
      const first = yield* writeStatus(
        Resources.Cluster,
        read,
        { fields: { phase: "Connected", observedToken: "fp-1" }, conditions: [connected], stampReconcileTime: false },
        () => undefined
      )
      expect(first.metadata.resourceVersion).not.toBe(read.metadata.resourceVersion)

      // A second pass that still sees `read` (its cache lacks the write above) computes a status
      // without observedToken and with the old condition.
      const stale = yield* Effect.flip(
        writeStatus(
          Resources.Cluster,
          read,
          { fields: { phase: "Pending" }, conditions: [pending], stampReconcileTime: false },
          () => undefined
        )
      )
      expect(stale._tag).toBe("Conflict")
      const api = yield* KubeApi
      const server = yield* api.get(Resources.Cluster, name)
      expect(server["status"]).toMatchObject({ phase: "Connected", observedToken: "fp-1" })
      expect(findCondition(Schema.decodeUnknownSync(Cluster)(server).status?.conditions, "Connected")?.reason).toBe("RoundTripOK")

      // The pass is requeued, not counted as an error.
      const requeued = yield* requeueOnConflict(
        writeStatus(Resources.Cluster, read, { fields: { phase: "Pending" }, conditions: [pending], stampReconcileTime: false }, () => undefined).pipe(
          Effect.as(ReconcileResult.done)
        )
      )
      expect(requeued).toEqual(ReconcileResult.requeue)

      // From the current copy the same change goes through, and observedToken (not given) is removed by SSA.
      const next = yield* writeStatus(
        Resources.Cluster,
        server,
        { fields: { phase: "Pending" }, conditions: [pending], stampReconcileTime: false },
        () => undefined
      )
      expect(next["status"]).toMatchObject({ phase: "Pending" })
      expect(next["status"]).not.toHaveProperty("observedToken")
    }))

  it.scoped("confirmCurrent: passes for the server's version, Conflict for an older one", () =>
    Effect.gen(function* () {
      const name = yield* createTestNamespace("status-confirm")
      const read = yield* cluster(name)
      yield* confirmCurrent(Resources.Cluster, read)
      const api = yield* KubeApi
      yield* api.patch(Resources.Cluster, name, undefined, "merge", { spec: { rotateCredentials: false } })
      const stale = yield* Effect.flip(confirmCurrent(Resources.Cluster, read))
      expect(stale._tag).toBe("Conflict")
      expect(stale.message).toContain("changed since it was read")
    }))
})
