/**
 * What wakes the ApplicationInstance controller, counted on the real API server: its own writes
 * (finalizer, children, status) do not, so a new instance converges in about one reconcile; a
 * foreign HelmRelease being deleted wakes the instance it blocked.
 */
import { expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import { findCondition } from "../../src/api/conditions.js"
import type { Condition } from "../../src/api/meta.js"
import { KubeApi } from "../../src/kube/KubeApi.js"
import type { KubeObject } from "../../src/kube/object.js"
import { Resources } from "../../src/kube/resources.js"
import { createTestNamespace, kubeconfigPath } from "../support/cluster.js"
import {
  Fleet,
  managedAi,
  metricValue,
  type ProxiedOperator,
  proxyTo,
  reconcileCount,
  startProxiedOperator,
  waitConverged
} from "../support/faultCluster.js"
import { kubeLayer } from "../support/operator.js"
import { waitFor } from "../support/wait.js"

const gated = { "managed-by": "vworkspace" }

const startOperator = (namespace: string) =>
  Effect.gen(function* () {
    const proxy = yield* proxyTo(kubeconfigPath())
    return yield* startProxiedOperator({ kubeconfigPath: kubeconfigPath(), proxyPort: proxy.port, namespace })
  })

/** No key queued and no reconcile running. */
const idle = (operator: ProxiedOperator) =>
  waitFor(
    "the controller to go idle",
    Effect.all([
      metricValue(operator.metrics, "workqueue_depth", { name: "applicationinstance" }),
      metricValue(operator.metrics, "controller_runtime_active_workers", { controller: "applicationinstance" })
    ]).pipe(Effect.map(([depth, active]) => (depth === 0 && active === 0 ? true : undefined)))
  )

const conditionsOf = (o: KubeObject): ReadonlyArray<Condition> =>
  (o["status"] as { conditions?: ReadonlyArray<Condition> } | undefined)?.conditions ?? []

layer(kubeLayer(), { timeout: "90 seconds", excludeTestServices: true })("what wakes the ApplicationInstance controller", (it) => {
  it.scoped("new instances converge in about one reconcile each: the controller's own writes do not wake it", () =>
    Effect.gen(function* () {
      const ns = yield* createTestNamespace("wake-new", gated)
      const operator = yield* startOperator(ns)
      const fleet = new Fleet(ns)
      const count = 6
      yield* fleet.createMany("new", count)
      yield* waitConverged(fleet, { operators: [operator] })
      yield* idle(operator)
      // Before: two per instance (the second woken by its own status write), often three.
      // A watch event that overtakes the answer to its own write may still wake one more.
      const reconciles = yield* reconcileCount(operator.metrics)
      expect(reconciles).toBeGreaterThanOrEqual(count)
      expect(reconciles).toBeLessThanOrEqual(count + 2)

      // A change by someone else still wakes it: a new spec is applied.
      yield* fleet.apply("new-0", { version: "7.0.0", replicas: 3 })
      yield* waitConverged(fleet, { operators: [operator] })
      expect(yield* reconcileCount(operator.metrics)).toBeGreaterThan(reconciles)
    }))

  it.scoped("an instance blocked by a foreign HelmRelease goes ahead as soon as that HelmRelease is deleted", () =>
    Effect.gen(function* () {
      const ns = yield* createTestNamespace("wake-conflict", gated)
      const api = yield* KubeApi
      // Someone else's HelmRelease under the release name the instance will ask for.
      yield* api.create(Resources.HelmRelease, {
        apiVersion: "helm.toolkit.fluxcd.io/v2",
        kind: "HelmRelease",
        metadata: { name: "app-rel", namespace: ns },
        spec: { interval: "5m", chart: { spec: { chart: "other", sourceRef: { kind: "HelmRepository", name: "other" } } } }
      })
      const operator = yield* startOperator(ns)
      yield* api.apply(Resources.ApplicationInstance, managedAi(ns, "app", { version: "6.6.0", replicas: 1 }), {
        fieldManager: "test-control-plane",
        force: true
      })
      yield* waitFor(
        "Blocked=True/ReleaseConflict",
        api.get(Resources.ApplicationInstance, "app", ns).pipe(
          Effect.map((o) => (findCondition(conditionsOf(o), "Blocked")?.reason === "ReleaseConflict" ? true : undefined))
        )
      )
      // The resync period is 10 minutes: only the deletion's watch event can wake it in time.
      yield* api.delete(Resources.HelmRelease, "app-rel", ns)
      const fleet = new Fleet(ns)
      fleet.live.set("app", { version: "6.6.0", replicas: 1 })
      yield* waitConverged(fleet, { operators: [operator] })
      const hr = yield* api.get(Resources.HelmRelease, "app-rel", ns)
      expect(hr.metadata.ownerReferences?.map((r) => r.name)).toEqual(["app"])
    }))
})
