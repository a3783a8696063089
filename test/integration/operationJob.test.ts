/**
 * runCommand.job and migration.helmHookJob against a real API server and the real Job controller
 * of kube-controller-manager; the test plays only the kubelet (pod phases).
 */
import { expect, layer } from "@effect/vitest"
import { Effect, Option } from "effect"
import { Resources } from "../../src/kube/resources.js"
import { createTestNamespace } from "../support/cluster.js"
import { finishPod, runJobPod, startPod, waitForPendingPod } from "../support/kubelet.js"
import {
  applyAs,
  conditionOf,
  eventsFor,
  gated,
  getObject,
  operation,
  placeholderTarget,
  statusOf,
  waitPhase
} from "../support/operations.js"
import { kubeLayer, startTestOperator } from "../support/operator.js"
import { waitFor } from "../support/wait.js"

const setup = (prefix: string) =>
  Effect.gen(function* () {
    const ns = yield* createTestNamespace(prefix, gated)
    yield* startTestOperator({ namespace: ns })
    yield* applyAs(Resources.ApplicationInstance, placeholderTarget(ns, "ops", { runcommand: "job", migration: "helmHookJob" }))
    return ns
  })

layer(kubeLayer(), { timeout: "90 seconds", excludeTestServices: true })("job engines", (it) => {
  it.scoped("runCommand.job: Pending → Running → Succeeded with the real Job controller", () =>
    Effect.gen(function* () {
      const ns = yield* setup("op-job")
      const created = yield* applyAs(
        Resources.Operation,
        operation(ns, "hello", {
          type: "RunCommand",
          engine: "job",
          target: "ops",
          parameters: { image: "busybox:1.36", command: ["sh", "-c"], args: ["echo hi"], env: [{ name: "A", value: "1" }], backoffLimit: 0 }
        })
      )
      const running = yield* waitPhase(ns, "hello", "Running")
      const jobName = `${ns}--hello`
      expect(statusOf(running).engineRef).toEqual({ kind: "Job", name: jobName, namespace: ns })
      expect(statusOf(running).startedAt).toBeDefined()
      expect(conditionOf(running, "Accepted")).toMatchObject({ status: "True", reason: "AdmissionPassed", observedGeneration: 1 })

      const job = Option.getOrThrow(yield* getObject(Resources.Job, ns, jobName))
      expect(job.metadata.labels).toMatchObject({
        "app.vworkspace.io/managed-by": "vworkspace-operator",
        "ops.vworkspace.io/operation": created.metadata.uid
      })
      expect(job.metadata.ownerReferences).toEqual([
        expect.objectContaining({ kind: "Operation", name: "hello", uid: created.metadata.uid })
      ])
      expect(job["spec"]).toMatchObject({
        backoffLimit: 0,
        ttlSecondsAfterFinished: 86400,
        template: {
          metadata: { labels: { "ops.vworkspace.io/operation": created.metadata.uid } },
          spec: {
            restartPolicy: "Never",
            serviceAccountName: "vworkspace-operation-runner",
            containers: [{ name: "runner", image: "busybox:1.36", command: ["sh", "-c"], args: ["echo hi"], env: [{ name: "A", value: "1" }] }]
          }
        }
      })
      expect(Option.isSome(yield* getObject(Resources.ServiceAccount, ns, "vworkspace-operation-runner"))).toBe(true)

      const pod = yield* waitForPendingPod(ns, jobName)
      yield* startPod(pod)
      yield* waitPhase(ns, "hello", "Running", { type: "Running", reason: "JobPodActive" })
      yield* finishPod(pod, 0)

      const done = yield* waitPhase(ns, "hello", "Succeeded", { type: "Succeeded", reason: "JobSucceeded" })
      const status = statusOf(done)
      expect(status.finishedAt).toBeDefined()
      expect(status.outputs).toMatchObject({ jobName, succeededPods: 1 })
      expect(status.logsRef).toEqual({ kind: "Pod", name: pod.metadata.name, namespace: ns })
      expect(conditionOf(done, "Running")).toMatchObject({ status: "False", reason: "EngineNotStarted" })

      const events = yield* waitFor("the Succeeded event", Effect.map(eventsFor(ns, "hello"), (e) => (e.some((x) => x.reason === "JobSucceeded") ? e : undefined)))
      expect(events.map((e) => e.reason)).toEqual(["EngineStarted", "JobSucceeded"])
    })
  )

  it.scoped("runCommand.job: a failing pod fails the operation (BackoffLimitExceeded)", () =>
    Effect.gen(function* () {
      const ns = yield* setup("op-jobfail")
      yield* applyAs(Resources.Operation, operation(ns, "boom", { type: "RunCommand", engine: "job", target: "ops", parameters: { image: "busybox", backoffLimit: 0 } }))
      yield* waitPhase(ns, "boom", "Running")
      yield* runJobPod(ns, `${ns}--boom`, 1)
      const failed = yield* waitPhase(ns, "boom", "Failed", { type: "Failed", reason: "JobFailedBackoffExceeded" })
      expect(conditionOf(failed, "Failed")?.message).toMatch(/backoff limit/i)
      expect(statusOf(failed).outputs).toMatchObject({ jobName: `${ns}--boom`, failedPods: 1 })
    })
  )
})
