/**
 * Playing the kubelet: the test cluster has no nodes, so a Job's pods never run. These helpers
 * write pod status the way the kubelet reports it (Pending → Running with a running container →
 * Succeeded or Failed with a terminated container), and the real Job controller of
 * kube-controller-manager does the rest.
 */
import { Effect, Option } from "effect"
import { KubeApi } from "../../src/kube/KubeApi.js"
import type { KubeObject } from "../../src/kube/object.js"
import { Resources } from "../../src/kube/resources.js"
import { waitFor } from "./wait.js"

const fieldManager = "kubelet"

const podConditions = (now: string, ready: boolean) =>
  [
    { type: "PodReadyToStartContainers", status: "True" },
    { type: "Initialized", status: "True" },
    { type: "Ready", status: ready ? "True" : "False", ...(ready ? {} : { reason: "PodCompleted" }) },
    { type: "ContainersReady", status: ready ? "True" : "False", ...(ready ? {} : { reason: "PodCompleted" }) },
    { type: "PodScheduled", status: "True" }
  ].map((c) => ({ lastProbeTime: null, lastTransitionTime: now, ...c }))

const containerNames = (pod: KubeObject): ReadonlyArray<{ name: string; image: string }> =>
  ((pod["spec"] as { containers?: ReadonlyArray<{ name: string; image: string }> } | undefined)?.containers ?? []).map((c) => ({
    name: c.name,
    image: c.image
  }))

const writePodStatus = (pod: KubeObject, status: Record<string, unknown>) =>
  Effect.flatMap(KubeApi, (api) =>
    api.applyStatus(
      Resources.Pod,
      { apiVersion: "v1", kind: "Pod", metadata: { name: pod.metadata.name, namespace: pod.metadata.namespace }, status },
      { fieldManager, force: true }
    )
  )

/** The container started: phase Running, the container running, the pod Ready. */
export const startPod = (pod: KubeObject) =>
  Effect.gen(function* () {
    const now = new Date().toISOString().replace(/\.\d{3}Z$/, "Z")
    return yield* writePodStatus(pod, {
      phase: "Running",
      hostIP: "127.0.0.1",
      podIP: "127.0.0.2",
      startTime: now,
      conditions: podConditions(now, true),
      containerStatuses: containerNames(pod).map((c) => ({
        name: c.name,
        image: c.image,
        imageID: `${c.image}@sha256:${"0".repeat(64)}`,
        containerID: `containerd://${"1".repeat(64)}`,
        ready: true,
        started: true,
        restartCount: 0,
        state: { running: { startedAt: now } }
      }))
    })
  })

/** The container exited: Succeeded for exit code 0 (reason Completed), else Failed (reason Error). */
export const finishPod = (pod: KubeObject, exitCode: number) =>
  Effect.gen(function* () {
    const now = new Date().toISOString().replace(/\.\d{3}Z$/, "Z")
    return yield* writePodStatus(pod, {
      phase: exitCode === 0 ? "Succeeded" : "Failed",
      hostIP: "127.0.0.1",
      podIP: "127.0.0.2",
      startTime: now,
      conditions: podConditions(now, false),
      containerStatuses: containerNames(pod).map((c) => ({
        name: c.name,
        image: c.image,
        imageID: `${c.image}@sha256:${"0".repeat(64)}`,
        containerID: `containerd://${"1".repeat(64)}`,
        ready: false,
        started: false,
        restartCount: 0,
        state: {
          terminated: { exitCode, reason: exitCode === 0 ? "Completed" : "Error", startedAt: now, finishedAt: now }
        }
      }))
    })
  })

/** The Job's pods, as the Job controller labels them. */
export const jobPods = (namespace: string, jobName: string) =>
  Effect.flatMap(KubeApi, (api) =>
    api.list(Resources.Pod, { namespace, labelSelector: `batch.kubernetes.io/job-name=${jobName}` }).pipe(Effect.map((l) => l.items))
  )

/** Waits for the Job controller to create a pod for the Job that has not run yet. */
export const waitForPendingPod = (namespace: string, jobName: string) =>
  waitFor(
    `a pending pod of Job ${namespace}/${jobName}`,
    Effect.map(jobPods(namespace, jobName), (pods) =>
      Option.getOrUndefined(
        Option.fromNullable(pods.find((p) => ((p["status"] as { phase?: string } | undefined)?.phase ?? "Pending") === "Pending"))
      )
    )
  )

/** Runs the Job's next pod to the end: started, then exited with `exitCode`. */
export const runJobPod = (namespace: string, jobName: string, exitCode: number) =>
  Effect.gen(function* () {
    const pod = yield* waitForPendingPod(namespace, jobName)
    yield* startPod(pod)
    return yield* finishPod(pod, exitCode)
  })
