/**
 * The outage scenario with a real process: the control plane is down for 2 minutes
 * (every agent route answers 503) while ApplicationInstances change, and the operator process
 * (`vworkspace-operator run`, Pull mode) is killed with SIGKILL in the middle and started again.
 * After both recover every transition is delivered (0 lost) and no accepted event is re-sent more
 * than once. One long test: run it alone when changing the outbox.
 */
import { expect, layer } from "@effect/vitest"
import { Duration, Effect } from "effect"
import { conditionsOf } from "../../src/connectivity/outbox/transitions.js"
import { KubeApi } from "../../src/kube/KubeApi.js"
import { Resources } from "../../src/kube/resources.js"
import { kubeLayer } from "../support/operator.js"
import { killOperator } from "../support/operatorProcess.js"
import { instanceTransitions, managedInstance, readyIs, startPullOperators } from "../support/pullAgent.js"
import { waitFor } from "../support/wait.js"

const OUTAGE = Duration.minutes(2)
const within = Duration.seconds(120)
const names = ["app-0", "app-1", "app-2"]

layer(kubeLayer(), { excludeTestServices: true })("2-minute control-plane outage with a SIGKILL in the middle", (it) => {
  it.scoped(
    "every transition delivered after the outage and the restart; none re-sent more than once",
    () =>
      Effect.gen(function* () {
        const api = yield* KubeApi
        const f = yield* startPullOperators()
        yield* Effect.addFinalizer((exit) => (exit._tag === "Failure" ? Effect.sync(() => console.log(f.outputs())) : Effect.void))
        const { expected, observe, helm, delivered, waitDelivered } = yield* instanceTransitions(f, within)

        const first = yield* f.start()
        for (const name of names) {
          yield* api.apply(Resources.ApplicationInstance, managedInstance(f.appNamespace, name), { fieldManager: "test-control-plane", force: true })
        }
        for (const name of names) yield* observe(name, (o) => conditionsOf(o).some((c) => c.type === "Ready"))
        yield* waitDelivered("round 0 delivered")
        const beforeOutage = (yield* delivered).keys.size

        // --- the control plane goes down ---------------------------------------------------------
        yield* f.admin.addFaults([{ status: 503, code: "ServiceUnavailable", message: "outage" }])
        const outageEnds = Date.now() + Duration.toMillis(OUTAGE)
        for (const name of names) yield* helm(name, "True")
        for (const name of names) yield* observe(name, readyIs("True"))
        // Round 1 is journaled (undelivered events go to ConfigMap segments) before the kill.
        yield* waitFor(
          "round 1 journaled",
          Effect.map(api.list(Resources.ConfigMap, { namespace: f.podNamespace, labelSelector: "app.vworkspace.io/outbox=segment" }), (l) =>
            l.items.length > 0 ? l : undefined
          ),
          { timeout: within }
        )
        // Round 2 is raised and the process dies right after.
        yield* helm("app-0", "False")
        yield* killOperator(first)

        yield* f.start()
        yield* observe("app-0", readyIs("False"))
        yield* helm("app-1", "False")
        yield* observe("app-1", readyIs("False"))
        for (const name of ["app-1", "app-2"]) yield* observe(name, () => true)

        // Until the outage ends nothing new arrives; then it recovers.
        yield* waitFor("the outage to end", Effect.sync(() => (Date.now() >= outageEnds ? true : undefined)), {
          timeout: Duration.sum(OUTAGE, Duration.seconds(30)),
          interval: Duration.seconds(1)
        })
        expect((yield* delivered).keys.size).toBe(beforeOutage)
        yield* f.admin.clearFaults

        const result = yield* waitDelivered("every transition delivered")
        expect([...expected].filter((k) => !result.keys.has(k))).toEqual([])
        expect(Object.entries(result.duplicates).filter(([, n]) => n > 1)).toEqual([])
      }),
    600_000
  )
})
