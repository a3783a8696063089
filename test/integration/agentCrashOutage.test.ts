/**
 * The outage scenario with a real process: the control plane is down for 2 minutes
 * (every agent route answers 503) while ApplicationInstances change, and the operator process
 * (`vworkspace-operator run`, Pull mode) is killed with SIGKILL in the middle and started again.
 * After both recover every transition is delivered (0 lost) and no accepted event is re-sent more
 * than once. One long test: run it alone when changing the outbox.
 */
import { expect, layer } from "@effect/vitest"
import { Duration, Effect, Option } from "effect"
import { appliedRefOf } from "../../src/api/agentProtocol.js"
import { conditionEventKey, conditionsOf } from "../../src/connectivity/outbox/transitions.js"
import { KubeApi } from "../../src/kube/KubeApi.js"
import type { KubeObject } from "../../src/kube/object.js"
import { Resources } from "../../src/kube/resources.js"
import { writeFluxStatus } from "../support/flux.js"
import { kubeLayer } from "../support/operator.js"
import { killOperator } from "../support/operatorProcess.js"
import { clusterId, startPullOperators } from "../support/pullAgent.js"
import { waitFor } from "../support/wait.js"

const OUTAGE = Duration.minutes(2)
const within = Duration.seconds(120)
const names = ["app-0", "app-1", "app-2"]

const instance = (namespace: string, name: string): KubeObject => ({
  apiVersion: "apps.vworkspace.io/v1alpha1",
  kind: "ApplicationInstance",
  metadata: { namespace, name },
  spec: {
    appRef: { catalogId: "nextcloud" },
    chart: { sourceType: "helm", url: "https://charts.example.test/stable", name: "nextcloud", version: "6.6.0" },
    release: { name, namespace },
    values: { source: "inline", inline: {} }
  }
})

layer(kubeLayer(), { excludeTestServices: true })("2-minute control-plane outage with a SIGKILL in the middle", (it) => {
  it.scoped(
    "every transition delivered after the outage and the restart; none re-sent more than once",
    () =>
      Effect.gen(function* () {
        const api = yield* KubeApi
        const f = yield* startPullOperators()
        yield* Effect.addFinalizer((exit) => (exit._tag === "Failure" ? Effect.sync(() => console.log(f.outputs())) : Effect.void))
        const expected = new Set<string>()
        const readyIs = (status: string) => (o: KubeObject) => conditionsOf(o).some((c) => c.type === "Ready" && c.status === status)
        /** Waits for the instance to reach the state; its conditions are transitions the control plane must get. */
        const observe = (name: string, ready: (o: KubeObject) => boolean) =>
          Effect.gen(function* () {
            const o = yield* waitFor(
              `${name} to reach the state`,
              Effect.map(api.get(Resources.ApplicationInstance, name, f.appNamespace), (o) => (ready(o) ? o : undefined)),
              { timeout: within }
            )
            for (const c of conditionsOf(o)) expected.add(conditionEventKey(appliedRefOf(o), c))
          })
        /** Playing helm-controller: install succeeded, or an upgrade failed. */
        const helm = (name: string, ready: "True" | "False") =>
          Effect.gen(function* () {
            const hr = yield* waitFor(
              "the HelmRelease",
              Effect.map(
                api.get(Resources.HelmRelease, name, f.appNamespace).pipe(
                  Effect.map(Option.some),
                  Effect.catchTag("NotFound", () => Effect.succeed(Option.none()))
                ),
                Option.getOrUndefined
              ),
              { timeout: within }
            )
            yield* writeFluxStatus(
              hr,
              ready === "True"
                ? [
                    { type: "Ready", status: "True", reason: "InstallSucceeded", message: `Helm install succeeded for release ${f.appNamespace}/${name}.v1` },
                    { type: "Released", status: "True", reason: "InstallSucceeded", message: "Helm install succeeded" }
                  ]
                : [
                    { type: "Ready", status: "False", reason: "UpgradeFailed", message: `Helm upgrade failed for release ${f.appNamespace}/${name}` },
                    { type: "Released", status: "False", reason: "UpgradeFailed", message: "Helm upgrade failed" }
                  ]
            )
          })
        const delivered = Effect.map(f.admin.events(clusterId), (v) => ({
          keys: new Set(v.events.map((e) => e.event.eventKey ?? "")),
          duplicates: v.duplicatePosts
        }))

        const first = yield* f.start()
        for (const name of names) {
          yield* api.apply(Resources.ApplicationInstance, instance(f.appNamespace, name), { fieldManager: "test-control-plane", force: true })
        }
        for (const name of names) yield* observe(name, (o) => conditionsOf(o).some((c) => c.type === "Ready"))
        yield* waitFor("round 0 delivered", Effect.map(delivered, (d) => ([...expected].every((k) => d.keys.has(k)) ? d : undefined)), { timeout: within })
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

        const result = yield* waitFor(
          "every transition delivered",
          Effect.map(delivered, (d) => ([...expected].every((k) => d.keys.has(k)) ? d : undefined)),
          { timeout: within, interval: Duration.millis(500) }
        )
        expect([...expected].filter((k) => !result.keys.has(k))).toEqual([])
        expect(Object.entries(result.duplicates).filter(([, n]) => n > 1)).toEqual([])
      }),
    600_000
  )
})
