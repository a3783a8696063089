/**
 * Connection faults between the operator and the API server: the operator runs in-process and
 * reaches the run's cluster only through a loopback TCP proxy, which cuts or freezes its
 * connections mid-run. The control plane (the test's own client) keeps writing directly. Every
 * instance created before and during the fault must converge and every deletion must complete;
 * with the resync at 10 min, only the informers' watches can deliver what happened.
 */
import { expect, layer } from "@effect/vitest"
import { Duration, Effect } from "effect"
import type { KubeError } from "../../src/kube/errors.js"
import type { KubeApi } from "../../src/kube/KubeApi.js"
import { createTestNamespace, kubeconfigPath } from "../support/cluster.js"
import { Fleet, gated, metricValue, proxyTo, startProxiedOperator, waitConverged } from "../support/faultCluster.js"
import { kubeLayer } from "../support/operator.js"

const AI_INFORMER = "applicationinstances.apps.vworkspace.io"

layer(kubeLayer(), { timeout: "60 seconds", excludeTestServices: true })("connection faults", (it) => {
  it.scoped(
    "every connection killed again and again mid-run: instances created before and during converge, deletions complete",
    () =>
      Effect.gen(function* () {
        const ns = yield* createTestNamespace("fault-kill", gated)
        const proxy = yield* proxyTo(kubeconfigPath())
        const operator = yield* startProxiedOperator({ kubeconfigPath: kubeconfigPath(), proxyPort: proxy.port, namespace: ns })
        const fleet = new Fleet(ns)
        yield* fleet.createMany("before", 4)
        yield* waitConverged(fleet, { operators: [operator] })
        const reconnects = () => metricValue(operator.metrics, "vworkspace_operator_informer_watch_reconnects_total", { kind: AI_INFORMER })
        const reconnectsBefore = yield* reconnects()

        // The fault: every connection is cut before each control-plane write, 12 times over a few
        // seconds, so writes land while the operator's watches are down or just re-established.
        const writes: ReadonlyArray<Effect.Effect<unknown, KubeError, KubeApi>> = [
          fleet.apply("during-0", { version: "6.6.0", replicas: 11 }),
          fleet.delete("before-0"),
          fleet.apply("during-1", { version: "6.6.1", replicas: 12 }),
          fleet.apply("before-2", { version: "6.7.0", replicas: 9 }),
          fleet.apply("during-2", { version: "6.6.2", replicas: 13 }),
          fleet.delete("before-1"),
          fleet.apply("during-3", { version: "6.6.3", replicas: 14 }),
          fleet.delete("during-1"),
          fleet.apply("during-4", { version: "6.6.4", replicas: 15 }),
          fleet.apply("during-0", { version: "6.8.0", replicas: 21 }),
          fleet.apply("during-5", { version: "6.6.5", replicas: 16 }),
          fleet.apply("before-3", { version: "7.0.0", replicas: 3 })
        ]
        const killed: Array<number> = []
        for (const write of writes) {
          killed.push(yield* proxy.killAll)
          yield* write
          // Paces the fault loop; nothing waits for a condition here.
          yield* Effect.sleep(Duration.millis(300))
        }
        // The first cut took down at least the five informers' watches.
        expect(killed[0]).toBeGreaterThanOrEqual(5)

        yield* waitConverged(fleet, { operators: [operator] })
        expect(fleet.live.size).toBe(7)
        expect(fleet.deleted.size).toBe(3)
        expect(yield* reconnects()).toBeGreaterThan(reconnectsBefore)
      }),
    120_000
  )

  it.scoped(
    "stalled connections (no bytes, no close): the watch idle timeout notices, and everything written meanwhile converges",
    () =>
      Effect.gen(function* () {
        const ns = yield* createTestNamespace("fault-stall", gated)
        const proxy = yield* proxyTo(kubeconfigPath())
        const operator = yield* startProxiedOperator({
          kubeconfigPath: kubeconfigPath(),
          proxyPort: proxy.port,
          namespace: ns,
          // A healthy watch is ended by the server every 2 s, well before 4 s of silence; only a
          // dead connection stays silent that long.
          informer: { watchTimeoutSeconds: 2, idleTimeout: Duration.seconds(4) },
          // Pooled keep-alive connections freeze too; requests on them give up after this.
          requestTimeout: Duration.seconds(5)
        })
        const fleet = new Fleet(ns)
        yield* fleet.createMany("before", 4)
        yield* waitConverged(fleet, { operators: [operator] })

        // The fault: every open connection (the watches among them) goes silent for good; new
        // connections work, so recovery depends on the operator giving up the dead ones.
        const stalled = yield* proxy.stall
        expect(stalled).toBeGreaterThan(0)
        yield* fleet.createMany("during", 3, "6.9.0")
        yield* fleet.delete("before-0")
        yield* fleet.delete("before-1")
        yield* fleet.apply("before-2", { version: "6.7.0", replicas: 9 })

        yield* waitConverged(fleet, { operators: [operator] })
        // The operator closed the frozen connections itself: nothing else could have told it.
        expect(yield* proxy.stalledClosedByClient).toBeGreaterThan(0)
        // Watches were abandoned by the idle timeout (not by a header timeout or an error).
        expect(operator.warnings.filter((w) => /informer \S+: watch failed \(Timeout\): .* watch: no data for/.test(w))).not.toHaveLength(0)
      }),
    120_000
  )
})
