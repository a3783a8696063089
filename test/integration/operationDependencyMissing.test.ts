/**
 * An engine whose CRD is not installed, as a new user meets it: on a private cluster (the shared
 * one keeps every CRD for the other test files) the Velero CRDs are absent. A backup.velero
 * Operation waits as `Blocked=True/DependencyMissing`, naming the CRD and what to install; once
 * the CRDs are installed it goes ahead by itself, with the operator never restarted.
 */
import { expect, layer } from "@effect/vitest"
import { Context, Duration, Effect, Layer, Option } from "effect"
import {
  type CrdDoc,
  allCrds,
  applyCrds,
  scopedCluster,
  targetFromKubeconfig,
  uniqueName
} from "../../src/devcluster/index.js"
import { KubeApiLive } from "../../src/kube/KubeApiLive.js"
import { Resources } from "../../src/kube/resources.js"
import { createNamespace } from "../support/faultCluster.js"
import { applyAs, conditionOf, eventsFor, getObject, operation, placeholderTarget, statusOf, waitPhase } from "../support/operations.js"
import { startTestOperator } from "../support/operator.js"
import { veleroServer } from "../support/velero.js"
import { waitFor } from "../support/wait.js"

class WithoutVelero extends Context.Tag("test/ClusterWithoutVelero")<
  WithoutVelero,
  { readonly kubeconfigPath: string; readonly velero: ReadonlyArray<CrdDoc> }
>() {}

const veleroGroup = ".velero.io"

/** A private cluster with every CRD but Velero's; Velero's are handed to the test. */
const clusterWithoutVelero = Layer.scoped(
  WithoutVelero,
  Effect.gen(function* () {
    const started = yield* scopedCluster()
    const target = yield* targetFromKubeconfig(started.kubeconfigPath)
    const crds = yield* allCrds()
    yield* applyCrds(target, crds.filter((c) => !c.name.endsWith(veleroGroup)))
    return { kubeconfigPath: started.kubeconfigPath, velero: crds.filter((c) => c.name.endsWith(veleroGroup)) }
  })
)

const testLayer = Layer.provideMerge(
  Layer.unwrapEffect(Effect.map(WithoutVelero, (c) => KubeApiLive.fromKubeconfigFile(c.kubeconfigPath))),
  clusterWithoutVelero
)

const blockedOn = (ns: string, name: string) =>
  waitFor(
    `Operation ${ns}/${name} Blocked=True/DependencyMissing`,
    getObject(Resources.Operation, ns, name).pipe(
      Effect.map((o) => {
        if (Option.isNone(o)) return undefined
        const blocked = conditionOf(o.value, "Blocked")
        return blocked?.status === "True" && blocked.reason === "DependencyMissing" ? o.value : undefined
      })
    )
  )

layer(testLayer, { timeout: "240 seconds", excludeTestServices: true })("an engine whose CRD is not installed", (it) => {
  it.scoped(
    "a backup.velero Operation is Blocked/DependencyMissing naming backups.velero.io and Velero, and runs to Succeeded once the CRDs are installed",
    () =>
      Effect.gen(function* () {
        const cluster = yield* WithoutVelero
        expect(cluster.velero.map((c) => c.name)).toContain("backups.velero.io")
        const ns = yield* createNamespace(uniqueName("no-velero"))
        yield* startTestOperator({
          namespace: ns,
          config: { veleroNamespace: ns },
          // The Backup informer looks again soon; finding the CRD installed wakes the blocked Operation.
          informer: { backoff: { initial: Duration.millis(200), max: Duration.seconds(2) } }
        })
        yield* applyAs(Resources.ApplicationInstance, placeholderTarget(ns, "ops", { backup: "velero" }))
        yield* applyAs(Resources.Operation, operation(ns, "nightly", { type: "Backup", engine: "velero", target: "ops" }))

        const blocked = yield* blockedOn(ns, "nightly")
        expect(statusOf(blocked).phase).toBe("Pending")
        const condition = conditionOf(blocked, "Blocked")
        expect(condition?.message).toBe(
          "the Backup kind (backups.velero.io/v1) is not installed in this cluster: install Velero (the velero.io CRDs and the Velero server, e.g. `velero install`)"
        )
        expect(conditionOf(blocked, "Accepted")).toMatchObject({ status: "False", reason: "DependencyMissing" })
        expect(statusOf(blocked).engineRef).toBeUndefined()
        const events = yield* waitFor(
          "a DependencyMissing Event",
          Effect.map(eventsFor(ns, "nightly"), (es) => (es.some((e) => e.reason === "DependencyMissing") ? es : undefined))
        )
        expect(events.find((e) => e.reason === "DependencyMissing")).toMatchObject({ type: "Warning", message: condition?.message })

        // Velero is installed: nobody touches the Operation, and it starts by itself.
        yield* applyCrds(yield* targetFromKubeconfig(cluster.kubeconfigPath), cluster.velero)
        const running = yield* waitPhase(ns, "nightly", "Running", undefined, Duration.seconds(90))
        expect(conditionOf(running, "Blocked")).toMatchObject({ status: "False", reason: "Unblocked" })
        expect(statusOf(running).engineRef).toEqual({ kind: "Backup", name: `${ns}--nightly`, namespace: ns })
        const backup = yield* waitFor(
          "the Velero Backup",
          Effect.map(getObject(Resources.VeleroBackup, ns, `${ns}--nightly`), Option.getOrUndefined)
        )

        // And its progress is observed through the Backup informer that started with the CRD.
        yield* veleroServer.inProgress(backup, 5)
        yield* waitPhase(ns, "nightly", "Running", { type: "Running", reason: "VeleroBackupInProgress" })
        yield* veleroServer.completed(backup)
        yield* waitPhase(ns, "nightly", "Succeeded", { type: "Succeeded", reason: "VeleroBackupCompleted" })
      }),
    200_000
  )
})
