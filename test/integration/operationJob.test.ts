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
  annotate,
  applyAs,
  conditionOf,
  deleteObject,
  gated,
  getObject,
  operation,
  placeholderTarget,
  statusOf,
  waitForEvent,
  waitGone,
  waitPhase
} from "../support/operations.js"
import { kubeLayer, startTestOperator } from "../support/operator.js"

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

      const events = yield* waitForEvent(ns, "hello", "JobSucceeded")
      // One Event per phase transition (list order is by generated name, not by time).
      expect(events.map((e) => e.reason).sort()).toEqual(["EngineStarted", "JobSucceeded"])
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

  it.scoped("migration.helmHookJob: the hook Job carries the hook name; success and failure", () =>
    Effect.gen(function* () {
      const ns = yield* setup("op-hook")
      const params = { hookName: "db-migrate", image: "migrate:2", command: ["/migrate"], backoffLimit: 0 }
      yield* applyAs(Resources.Operation, operation(ns, "mig-ok", { type: "Migration", engine: "helmHookJob", target: "ops", parameters: params }))
      yield* applyAs(Resources.Operation, operation(ns, "mig-bad", { type: "Migration", engine: "helmHookJob", target: "ops", parameters: params }))
      yield* waitPhase(ns, "mig-ok", "Running")
      const job = Option.getOrThrow(yield* getObject(Resources.Job, ns, `${ns}--mig-ok`))
      expect(job.metadata.labels).toMatchObject({ "ops.vworkspace.io/hook-name": "db-migrate" })
      expect(job.metadata.annotations).toMatchObject({ "helm.sh/hook": "db-migrate" })
      expect(job["spec"]).toMatchObject({
        template: {
          metadata: { labels: { "ops.vworkspace.io/hook-name": "db-migrate" } },
          spec: { containers: [{ name: "runner", image: "migrate:2", command: ["/migrate"] }] }
        }
      })
      yield* runJobPod(ns, `${ns}--mig-ok`, 0)
      yield* waitPhase(ns, "mig-ok", "Succeeded", { type: "Succeeded", reason: "HelmHookJobSucceeded" })
      yield* waitPhase(ns, "mig-bad", "Running")
      yield* runJobPod(ns, `${ns}--mig-bad`, 2)
      yield* waitPhase(ns, "mig-bad", "Failed", { type: "Failed", reason: "HelmHookJobFailed" })
    })
  )

  it.scoped("cancel: a running operation's Job and pods are deleted and the phase is Cancelled/UserCancelled", () =>
    Effect.gen(function* () {
      const ns = yield* setup("op-cancel")
      yield* applyAs(Resources.Operation, operation(ns, "long", { type: "RunCommand", engine: "job", target: "ops", parameters: { image: "busybox" } }))
      yield* waitPhase(ns, "long", "Running")
      const pod = yield* waitForPendingPod(ns, `${ns}--long`)
      yield* startPod(pod)
      yield* annotate(Resources.Operation, ns, "long", { "ops.vworkspace.io/cancel": "true" })
      const cancelled = yield* waitPhase(ns, "long", "Cancelled", { type: "Cancelled", reason: "UserCancelled" })
      expect(conditionOf(cancelled, "Running")).toMatchObject({ status: "False", reason: "EngineNotStarted" })
      expect(statusOf(cancelled).finishedAt).toBeDefined()
      yield* waitGone(Resources.Job, ns, `${ns}--long`)
      // Background propagation: the garbage collector removes the pod after the Job.
      yield* waitGone(Resources.Pod, ns, pod.metadata.name ?? "")

      // An operation that never started is cancelled without a workload.
      yield* applyAs(Resources.Operation, operation(ns, "waiting", { type: "RunCommand", engine: "job", target: "missing", parameters: { image: "busybox" } }))
      yield* waitPhase(ns, "waiting", "Pending", { type: "Blocked", reason: "TargetNotReady" })
      yield* annotate(Resources.Operation, ns, "waiting", { "ops.vworkspace.io/cancel": "true" })
      yield* waitPhase(ns, "waiting", "Cancelled", { type: "Cancelled", reason: "UserCancelled" })
    })
  )

  it.scoped("timeout: timeoutSeconds cancels the workload and fails with Timeout", () =>
    Effect.gen(function* () {
      const ns = yield* setup("op-timeout")
      yield* applyAs(
        Resources.Operation,
        operation(ns, "slow", { type: "RunCommand", engine: "job", target: "ops", parameters: { image: "busybox", timeoutSeconds: 2 } })
      )
      yield* waitPhase(ns, "slow", "Running")
      const failed = yield* waitPhase(ns, "slow", "Failed", { type: "Failed", reason: "Timeout" })
      expect(conditionOf(failed, "Failed")?.message).toBe("operation exceeded timeoutSeconds=2; workload cancelled")
      yield* waitGone(Resources.Job, ns, `${ns}--slow`)
    })
  )

  it.scoped("terminal phases are final: the Job's deletion (as by its TTL) does not change a Succeeded operation", () =>
    Effect.gen(function* () {
      const ns = yield* setup("op-final")
      yield* applyAs(Resources.Operation, operation(ns, "once", { type: "RunCommand", engine: "job", target: "ops", parameters: { image: "busybox" } }))
      yield* waitPhase(ns, "once", "Running")
      yield* runJobPod(ns, `${ns}--once`, 0)
      const succeeded = yield* waitPhase(ns, "once", "Succeeded")
      yield* deleteObject(Resources.Job, ns, `${ns}--once`)
      yield* waitGone(Resources.Job, ns, `${ns}--once`)
      yield* annotate(Resources.Operation, ns, "once", { "example.test/poke": "1" })
      // A later operation running to the end shows the operator processed the events meanwhile.
      yield* applyAs(Resources.Operation, operation(ns, "later", { type: "RunCommand", engine: "job", target: "ops", parameters: { image: "busybox" } }))
      yield* waitPhase(ns, "later", "Running")
      yield* runJobPod(ns, `${ns}--later`, 0)
      yield* waitPhase(ns, "later", "Succeeded")
      const after = Option.getOrThrow(yield* getObject(Resources.Operation, ns, "once"))
      expect(statusOf(after)).toEqual(statusOf(succeeded))
    })
  )

  it.scoped("deletion while Running cancels the workload, then releases the finalizer; a gone target does not block it", () =>
    Effect.gen(function* () {
      const ns = yield* setup("op-delete")
      yield* applyAs(Resources.Operation, operation(ns, "busy", { type: "RunCommand", engine: "job", target: "ops", parameters: { image: "busybox" } }))
      const running = yield* waitPhase(ns, "busy", "Running")
      expect(running.metadata.finalizers).toContain("ops.vworkspace.io/finalizer")
      yield* deleteObject(Resources.Operation, ns, "busy")
      yield* waitGone(Resources.Operation, ns, "busy")
      yield* waitGone(Resources.Job, ns, `${ns}--busy`)

      yield* applyAs(Resources.Operation, operation(ns, "orphan", { type: "RunCommand", engine: "job", target: "ops", parameters: { image: "busybox" } }))
      yield* waitPhase(ns, "orphan", "Running")
      yield* deleteObject(Resources.ApplicationInstance, ns, "ops")
      yield* waitGone(Resources.ApplicationInstance, ns, "ops")
      yield* deleteObject(Resources.Operation, ns, "orphan")
      yield* waitGone(Resources.Operation, ns, "orphan")
      yield* waitGone(Resources.Job, ns, `${ns}--orphan`)
    })
  )
})
