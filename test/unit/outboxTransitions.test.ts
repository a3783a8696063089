/** Deriving outbox events from object versions, and their eventKeys (spec §4.3, gap G8). */
import { describe, expect, it } from "vitest"
import { appliedRefOf, type WireCondition } from "../../src/api/agentProtocol.js"
import {
  conditionEventKey,
  conditionsOf,
  credentialRotatedEvent,
  eventsForChange,
  heartbeatEvent
} from "../../src/connectivity/outbox/transitions.js"
import type { KubeObject } from "../../src/kube/object.js"

const now = new Date("2026-05-28T10:00:15.123Z")

const cond = (
  type: string,
  status: "True" | "False" | "Unknown",
  reason: string,
  lastTransitionTime: string,
  extra: { message?: string; observedGeneration?: number } = {}
): WireCondition => ({
  type,
  status,
  reason,
  message: extra.message ?? "",
  lastTransitionTime,
  ...(extra.observedGeneration === undefined ? {} : { observedGeneration: extra.observedGeneration })
})

const ai = (conditions: ReadonlyArray<unknown>, generation = 3, resourceVersion = "100"): KubeObject => ({
  apiVersion: "apps.vworkspace.io/v1alpha1",
  kind: "ApplicationInstance",
  metadata: { namespace: "team-a", name: "demo", uid: "uid-1", generation, resourceVersion },
  status: { conditions }
})

const operation = (conditions: ReadonlyArray<WireCondition>): KubeObject => ({
  apiVersion: "ops.vworkspace.io/v1alpha1",
  kind: "Operation",
  metadata: { namespace: "team-a", name: "backup-1", uid: "op-1", generation: 1, resourceVersion: "7" },
  status: { phase: "Running", conditions }
})

const keysOf = (previous: KubeObject | undefined, next: KubeObject) =>
  eventsForChange(previous, next, now).map((e) => e.eventKey)

describe("eventKey", () => {
  const ref = appliedRefOf(ai([]))

  it("names the object, the condition's type, status, reason, generation and lastTransitionTime", () => {
    expect(conditionEventKey(ref, cond("Ready", "True", "HelmReleaseReady", "2026-05-28T10:00:00Z", { observedGeneration: 3 }))).toBe(
      "condition/apps.vworkspace.io/v1alpha1/ApplicationInstance/team-a/demo/uid-1/Ready/True/HelmReleaseReady@3/2026-05-28T10:00:00Z"
    )
  })

  it("is the same for the same transition, whatever the message", () => {
    const a = cond("Ready", "True", "HelmReleaseReady", "2026-05-28T10:00:00Z", { message: "one" })
    const b = cond("Ready", "True", "HelmReleaseReady", "2026-05-28T10:00:00Z", { message: "two" })
    expect(conditionEventKey(ref, a)).toBe(conditionEventKey(ref, b))
  })

  it("differs for a flap back to an earlier status (lastTransitionTime moved)", () => {
    const first = cond("Ready", "True", "HelmReleaseReady", "2026-05-28T10:00:00Z")
    const again = cond("Ready", "True", "HelmReleaseReady", "2026-05-28T10:03:00Z")
    expect(conditionEventKey(ref, first)).not.toBe(conditionEventKey(ref, again))
  })

  it("differs for a reason change at the same status, and for a new observedGeneration", () => {
    const base = cond("Ready", "False", "Installing", "2026-05-28T10:00:00Z", { observedGeneration: 3 })
    const reason = cond("Ready", "False", "ChartUnreachable", "2026-05-28T10:00:00Z", { observedGeneration: 3 })
    const generation = cond("Ready", "False", "Installing", "2026-05-28T10:00:00Z", { observedGeneration: 4 })
    const keys = new Set([base, reason, generation].map((c) => conditionEventKey(ref, c)))
    expect(keys.size).toBe(3)
  })

  it("uses the object's generation when the condition has no observedGeneration, and _ for a missing namespace or uid", () => {
    const cluster: KubeObject = {
      apiVersion: "ops.vworkspace.io/v1alpha1",
      kind: "Cluster",
      metadata: { name: "prod", generation: 2 }
    }
    expect(conditionEventKey(appliedRefOf(cluster), cond("Connected", "True", "RoundTripOK", "2026-05-28T10:00:00Z"))).toBe(
      "condition/ops.vworkspace.io/v1alpha1/Cluster/_/prod/_/Connected/True/RoundTripOK@2/2026-05-28T10:00:00Z"
    )
  })
})

describe("eventsForChange", () => {
  const ready = cond("Ready", "False", "Installing", "2026-05-28T10:00:00Z", { observedGeneration: 3 })
  const reconciling = cond("Reconciling", "True", "HelmReleaseInstalling", "2026-05-28T10:00:00Z", { observedGeneration: 3 })

  it("reports every condition of an object seen for the first time, one event each", () => {
    const events = eventsForChange(undefined, ai([ready, reconciling]), now)
    expect(events.map((e) => [e.kind, e.conditions?.[0]?.type])).toEqual([
      ["ConditionTransition", "Ready"],
      ["ConditionTransition", "Reconciling"]
    ])
    expect(events[0]).toMatchObject({
      resourceRef: { apiVersion: "apps.vworkspace.io/v1alpha1", kind: "ApplicationInstance", namespace: "team-a", name: "demo", uid: "uid-1", generation: 3 },
      conditions: [ready],
      timestamp: "2026-05-28T10:00:15.123Z"
    })
  })

  it("reports only what changed between two versions, and nothing for a message-only change or a removal", () => {
    const readyTrue = cond("Ready", "True", "HelmReleaseReady", "2026-05-28T10:01:00Z", { observedGeneration: 3 })
    expect(keysOf(ai([ready, reconciling]), ai([readyTrue, reconciling]))).toEqual([
      conditionEventKey(appliedRefOf(ai([])), readyTrue)
    ])
    expect(keysOf(ai([ready]), ai([{ ...ready, message: "50 %" }]))).toEqual([])
    expect(keysOf(ai([ready, reconciling]), ai([ready]))).toEqual([])
  })

  it("derives the same keys when the same version is seen again (a restart)", () => {
    expect(keysOf(undefined, ai([ready, reconciling]))).toEqual(keysOf(undefined, ai([ready, reconciling])))
  })

  it("skips malformed conditions and keeps the others", () => {
    const object = ai([{ type: "Ready", status: "Maybe" }, 42, ready])
    expect(conditionsOf(object)).toEqual([ready])
    expect(eventsForChange(undefined, ai([]), now)).toEqual([])
    expect(eventsForChange(undefined, { apiVersion: "v1", kind: "ConfigMap", metadata: {}, status: "odd" }, now)).toEqual([])
  })

  it("adds an Operation<Type> audit event when an Operation's Accepted, Blocked, Running, Succeeded or Failed turns True", () => {
    const accepted = cond("Accepted", "True", "AdmissionPassed", "2026-05-28T10:00:00Z", { observedGeneration: 1 })
    const notRunning = cond("Running", "False", "EngineNotStarted", "2026-05-28T10:00:00Z", { observedGeneration: 1 })
    const running = cond("Running", "True", "EngineStarted", "2026-05-28T10:00:05Z", { observedGeneration: 1 })
    const cancelled = cond("Cancelled", "True", "UserCancelled", "2026-05-28T10:00:09Z", { observedGeneration: 1 })
    const first = eventsForChange(undefined, operation([accepted, notRunning]), now)
    expect(first.map((e) => e.kind)).toEqual(["ConditionTransition", "OperationAccepted", "ConditionTransition"])
    expect(first[1]?.eventKey).toBe("OperationAccepted/op-1/Accepted/True/AdmissionPassed@1/2026-05-28T10:00:00Z")
    expect(first[1]?.resourceRef.kind).toBe("Operation")
    const next = eventsForChange(operation([accepted, notRunning]), operation([accepted, running, cancelled]), now)
    expect(next.map((e) => e.kind)).toEqual(["ConditionTransition", "OperationRunning", "ConditionTransition"])
  })
})

describe("audit and heartbeat builders", () => {
  it("CredentialRotated names the Cluster and carries Authenticated=True/CredentialRotated", () => {
    const event = credentialRotatedEvent({ name: "prod", uid: "c-1" }, now)
    expect(event).toMatchObject({
      kind: "CredentialRotated",
      resourceRef: { apiVersion: "ops.vworkspace.io/v1alpha1", kind: "Cluster", namespace: "", name: "prod", uid: "c-1" },
      conditions: [{ type: "Authenticated", status: "True", reason: "CredentialRotated", message: "Bootstrap credential rotated successfully" }]
    })
    expect(event.eventKey).toBe("CredentialRotated/c-1/Authenticated/True/CredentialRotated@0/2026-05-28T10:00:15.123Z")
    expect(credentialRotatedEvent({ name: "prod", uid: "c-1" }, new Date(now.getTime() + 1000)).eventKey).not.toBe(event.eventKey)
  })

  it("a heartbeat carries the conditions snapshot and a key per beat", () => {
    const connected = cond("Connected", "True", "RoundTripOK", "2026-05-28T10:00:00Z")
    const beat = heartbeatEvent({ name: "prod" }, [connected], now)
    expect(beat).toMatchObject({ kind: "ClusterHeartbeat", conditions: [connected], resourceRef: { kind: "Cluster", name: "prod", namespace: "" } })
    expect(heartbeatEvent({ name: "prod" }, [connected], new Date(now.getTime() + 30_000)).eventKey).not.toBe(beat.eventKey)
  })
})
