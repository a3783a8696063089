/**
 * Two operator processes (`vworkspace-operator run --leader-elect`, Pull mode) against the same
 * API server and the mock control plane: only the leader polls and drains the outbox (the mock
 * tells the processes apart by the User-Agent, which names the pid). kill -9 of the leader: the
 * other takes over, and no job and no event is lost.
 */
import { expect, layer } from "@effect/vitest"
import { Duration, Effect } from "effect"
import { KubeApi } from "../../src/kube/KubeApi.js"
import { Resources } from "../../src/kube/resources.js"
import { kubeLayer } from "../support/operator.js"
import { killOperator, type OperatorProcess } from "../support/operatorProcess.js"
import { clusterId, instanceTransitions, managedInstance, readyIs, startPullOperators } from "../support/pullAgent.js"
import { waitFor } from "../support/wait.js"

/** Process starts (tsx compiles src/) and a lease expiry (15 s) on a loaded machine. */
const within = Duration.seconds(120)

const configMapJob = (id: string, namespace: string) => ({
  id,
  kind: "apply",
  payload: { apiVersion: "v1", kind: "ConfigMap", metadata: { name: id, namespace }, data: { job: id } },
  idempotencyKey: `replicas/${id}@1`,
  createdAt: new Date().toISOString()
})

const leads = (p: OperatorProcess) => p.output().includes("leader election: acquired lease")

layer(kubeLayer(), { excludeTestServices: true })("two operator replicas with leader election", (it) => {
  it.scoped(
    "only the leader polls and drains the outbox; kill -9 of the leader → the other takes over, no job and no event lost",
    () =>
      Effect.gen(function* () {
        const api = yield* KubeApi
        const f = yield* startPullOperators({ mock: { resultTimeoutMillis: 3000, redeliverAfterMillis: 3000 } })
        yield* Effect.addFinalizer((exit) => (exit._tag === "Failure" ? Effect.sync(() => console.log(f.outputs())) : Effect.void))
        const a = yield* f.start(["--leader-elect"])
        yield* waitFor("the first process to lead", Effect.sync(() => (leads(a) ? true : undefined)), { timeout: within })
        const b = yield* f.start(["--leader-elect"])
        yield* waitFor("the second process to stand by", Effect.sync(() => (b.output().includes("waiting to acquire lease") ? true : undefined)), {
          timeout: within
        })

        const { observe, helm: playHelmController, waitDelivered } = yield* instanceTransitions(f, within)

        // --- the leader alone works -----------------------------------------------------------
        const names = ["app-0", "app-1"]
        for (const name of names) yield* api.apply(Resources.ApplicationInstance, managedInstance(f.appNamespace, name), { fieldManager: "test-control-plane", force: true })
        for (const name of names) yield* playHelmController(name, "True")
        for (const name of names) yield* observe(name, readyIs("True"))
        const before = ["j-0", "j-1", "j-2", "j-3", "j-4"]
        for (const id of before) yield* f.admin.enqueue(clusterId, configMapJob(id, f.appNamespace))
        for (const id of before) expect((yield* f.admin.waitForResult(id, within)).outcome).toBe("succeeded")
        yield* waitDelivered("the leader's events")
        const fromA = yield* f.requestsOf(a)
        expect(fromA.some((r) => r.route === "jobs")).toBe(true)
        expect(fromA.some((r) => r.route === "events")).toBe(true)
        expect(yield* f.requestsOf(b)).toEqual([])

        // --- kill -9 of the leader, with a transition just raised and jobs queued --------------
        yield* playHelmController("app-1", "False")
        yield* killOperator(a)
        const killedAt = Date.now()
        const after = ["j-5", "j-6", "j-7", "j-8", "j-9"]
        for (const id of after) yield* f.admin.enqueue(clusterId, configMapJob(id, f.appNamespace))
        yield* playHelmController("app-0", "False")

        yield* waitFor("the second process to lead", Effect.sync(() => (leads(b) ? true : undefined)), { timeout: within })
        for (const id of [...before, ...after]) {
          const result = yield* f.admin.waitForResult(id, within)
          expect(result.outcome).toBe("succeeded")
          expect((yield* f.admin.job(id)).duplicateResults).toBe(0)
        }
        for (const name of names) yield* observe(name, readyIs("False"))
        const final = yield* waitDelivered("every transition, before and after the failover")
        // An event accepted but not yet marked delivered when the leader died is sent once more at most.
        expect(Object.entries(final.duplicates).filter(([, n]) => n > 1)).toEqual([])
        const fromB = yield* f.requestsOf(b)
        expect(fromB.some((r) => r.route === "jobs")).toBe(true)
        expect(fromB.some((r) => r.route === "events")).toBe(true)
        // After the kill, only the new leader talks to the control plane.
        const late = (yield* f.admin.requests).filter((r) => Date.parse(r.at) > killedAt + 1000)
        expect(late.length).toBeGreaterThan(0)
        expect(late.every((r) => r.userAgent.endsWith(`pid ${b.pid})`))).toBe(true)
        const cms = yield* api.list(Resources.ConfigMap, { namespace: f.appNamespace })
        expect(cms.items.filter((o) => o.metadata.name?.startsWith("j-")).length).toBe(10)
      }),
    360_000
  )
})
