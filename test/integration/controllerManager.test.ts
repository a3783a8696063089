/**
 * The test cluster runs kube-controller-manager: ownerReference cascades, Background propagation,
 * namespace deletion, the Job controller and the TTL-after-finished controller really happen.
 */
import { expect, layer } from "@effect/vitest"
import { Effect, Option } from "effect"
import { KubeApi } from "../../src/kube/KubeApi.js"
import { Resources } from "../../src/kube/resources.js"
import { createNamespace, uniqueName } from "../../src/devcluster/index.js"
import { adminTarget, createTestNamespace, deleteNamespace } from "../support/cluster.js"
import { runJobPod } from "../support/kubelet.js"
import { getObject, waitGone } from "../support/operations.js"
import { kubeLayer } from "../support/operator.js"
import { waitFor } from "../support/wait.js"

const job = (namespace: string, name: string, ttl?: number) => ({
  apiVersion: "batch/v1",
  kind: "Job",
  metadata: { name, namespace },
  spec: {
    backoffLimit: 0,
    ...(ttl === undefined ? {} : { ttlSecondsAfterFinished: ttl }),
    template: { spec: { restartPolicy: "Never", containers: [{ name: "main", image: "busybox" }] } }
  }
})

layer(kubeLayer(), { timeout: "90 seconds", excludeTestServices: true })("kube-controller-manager in the test cluster", (it) => {
  it.scoped("a deleted namespace is emptied and goes away", () =>
    Effect.gen(function* () {
      const name = uniqueName("kcm-ns")
      yield* createNamespace(yield* adminTarget, name, {})
      const api = yield* KubeApi
      yield* api.create(Resources.ConfigMap, { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "c", namespace: name }, data: { a: "1" } })
      // The serviceaccount controller gives every namespace its default ServiceAccount.
      yield* waitFor("the default ServiceAccount", Effect.map(getObject(Resources.ServiceAccount, name, "default"), Option.getOrUndefined))
      yield* deleteNamespace(name)
      yield* waitGone(Resources.Namespace, undefined, name)
    })
  )

  it.scoped("the Job controller runs pods and completes the Job; Background deletion removes its pods; TTL removes a finished Job", () =>
    Effect.gen(function* () {
      const ns = yield* createTestNamespace("kcm-job")
      const api = yield* KubeApi
      yield* api.create(Resources.Job, job(ns, "once"))
      const pod = yield* runJobPod(ns, "once", 0)
      const complete = yield* waitFor(
        "Job once Complete=True",
        Effect.map(getObject(Resources.Job, ns, "once"), (o) => {
          const conditions = (Option.getOrUndefined(o)?.["status"] as { conditions?: ReadonlyArray<{ type: string; status: string }> } | undefined)?.conditions
          return conditions?.some((c) => c.type === "Complete" && c.status === "True") ? true : undefined
        })
      )
      expect(complete).toBe(true)
      yield* api.delete(Resources.Job, "once", ns, { propagationPolicy: "Background" })
      yield* waitGone(Resources.Pod, ns, pod.metadata.name ?? "")

      yield* api.create(Resources.Job, job(ns, "short-lived", 0))
      yield* runJobPod(ns, "short-lived", 0)
      yield* waitGone(Resources.Job, ns, "short-lived")
    })
  )
})
