/**
 * Destructive faults: restarting kube-apiserver and compacting etcd. They run on a cluster of
 * their own (etcd + kube-apiserver started for this file and stopped after it), never on the
 * run's shared cluster. The operator runs in-process behind a loopback TCP proxy; the control
 * plane (the test's own client) talks to the API server directly.
 */
import { expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import { uniqueName } from "../../src/devcluster/index.js"
import { KubeApi } from "../../src/kube/KubeApi.js"
import { withKubeRetry } from "../../src/kube/retry.js"
import { Resources } from "../../src/kube/resources.js"
import {
  Fleet,
  type ProxiedOperator,
  PrivateCluster,
  createNamespace,
  metricValue,
  privateClusterLayer,
  proxyTo,
  startProxiedOperator,
  waitConverged
} from "../support/faultCluster.js"

const AI_INFORMER = "applicationinstances.apps.vworkspace.io"
const HR_INFORMER = "helmreleases.helm.toolkit.fluxcd.io"

/** The informer counters of one kind. */
const informerCounters = (operator: ProxiedOperator, kind: string) =>
  Effect.all({
    gone: metricValue(operator.metrics, "vworkspace_operator_informer_watch_gone_total", { kind }),
    relists: metricValue(operator.metrics, "vworkspace_operator_informer_relists_total", { kind }),
    reconnects: metricValue(operator.metrics, "vworkspace_operator_informer_watch_reconnects_total", { kind })
  })

/** A namespace, a proxy to the private cluster's API server, and the operator behind the proxy. */
const setUp = (prefix: string) =>
  Effect.gen(function* () {
    const cluster = yield* PrivateCluster
    const ns = yield* createNamespace(uniqueName(prefix))
    const proxy = yield* proxyTo(cluster.kubeconfigPath)
    const operator = yield* startProxiedOperator({ kubeconfigPath: cluster.kubeconfigPath, proxyPort: proxy.port, namespace: ns })
    return { cluster, proxy, operator, fleet: new Fleet(ns) }
  })

layer(privateClusterLayer(), { timeout: "180 seconds", excludeTestServices: true })("faults on a private cluster", (it) => {
  it.scoped(
    "kube-apiserver killed and restarted mid-run (same etcd, port and certificates): instances from before and during converge",
    () =>
      Effect.gen(function* () {
        const { cluster, proxy, operator, fleet } = yield* setUp("fault-restart")
        yield* fleet.createMany("before", 4)
        yield* waitConverged(fleet, { operators: [operator] })
        const before = yield* informerCounters(operator, AI_INFORMER)

        // The operator is held off the restarted server until the first writes are in, so they
        // certainly happen while it is disconnected; the rest race its reconnection.
        yield* proxy.setRefusing(true)
        yield* cluster.restartApiServer({ signal: "SIGKILL" })
        yield* fleet.createMany("during", 2, "6.9.0")
        yield* fleet.delete("before-0")
        yield* fleet.apply("before-1", { version: "6.7.0", replicas: 9 })
        yield* proxy.setRefusing(false)
        yield* fleet.apply("late-0", { version: "7.0.0", replicas: 5 })
        yield* fleet.delete("before-2")
        yield* fleet.apply("before-3", { version: "6.7.1", replicas: 8 })

        yield* waitConverged(fleet, { operators: [operator] })
        const after = yield* informerCounters(operator, AI_INFORMER)
        expect(after.reconnects).toBeGreaterThan(before.reconnects)
        yield* Effect.logInfo(
          `apiserver restart: ApplicationInstance informer saw ${after.gone - before.gone} 410s and relisted ${after.relists - before.relists} times`
        )
      }),
    120_000
  )

  it.scoped(
    "etcd compacted while the operator is disconnected: its watches get 410, the informers relist, and deletions made meanwhile are seen",
    () =>
      Effect.gen(function* () {
        // The API server's watch cache would answer old resourceVersions from memory; without it
        // watches are served by etcd, where the compaction expires them.
        const cluster = yield* PrivateCluster
        yield* cluster.restartApiServer({ signal: "SIGKILL", extraArgs: ["--watch-cache=false"] })
        const { proxy, operator, fleet } = yield* setUp("fault-compact")
        yield* fleet.createMany("before", 5)
        yield* waitConverged(fleet, { operators: [operator] })
        const aiBefore = yield* informerCounters(operator, AI_INFORMER)
        const hrBefore = yield* informerCounters(operator, HR_INFORMER)

        yield* proxy.setRefusing(true)
        yield* proxy.killAll
        yield* fleet.createMany("during", 3, "6.9.0")
        // Deleted instances wait for the operator's finalizer; it must learn of the deletion.
        yield* fleet.delete("before-0")
        yield* fleet.delete("before-1")
        yield* fleet.apply("before-2", { version: "6.7.0", replicas: 9 })
        // A child that vanishes for good while unseen: only a relist can reveal it, and the
        // operator must then put it back.
        yield* Effect.flatMap(KubeApi, (api) => withKubeRetry(api.delete(Resources.HelmRelease, "before-3-rel", fleet.namespace)))
        const compactedTo = yield* cluster.compactEtcd
        expect(compactedTo).toBeGreaterThan(0)
        yield* proxy.setRefusing(false)

        yield* waitConverged(fleet, { operators: [operator] })
        const aiAfter = yield* informerCounters(operator, AI_INFORMER)
        const hrAfter = yield* informerCounters(operator, HR_INFORMER)
        expect(aiAfter.gone).toBeGreaterThan(aiBefore.gone)
        expect(aiAfter.relists).toBeGreaterThan(aiBefore.relists)
        expect(hrAfter.gone).toBeGreaterThan(hrBefore.gone)
        expect(hrAfter.relists).toBeGreaterThan(hrBefore.relists)
      }),
    120_000
  )
})
