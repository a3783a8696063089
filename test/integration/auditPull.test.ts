/**
 * Audit in Pull mode, end to end: a `vworkspace-operator run` process against the real API server
 * and the mock control plane. Each audited decision (an approval blocked, a claim rejected, an
 * approval granted, a cancel, a credential rotation) must show up three times: as the structured
 * `audit` log line, as a Kubernetes Event on the object, and as the event the agent protocol
 * defines for it at the control plane, with its kind, resourceRef and eventKey.
 *
 * Admission denials are not here: the refused object never exists and the protocol has no kind
 * for them (docs/operate/audit-events.md says why nothing is sent).
 */
import { expect, layer } from "@effect/vitest"
import { Effect, Option } from "effect"
import { appliedRefOf } from "../../src/api/agentProtocol.js"
import { ApiVersions, Names } from "../../src/api/wellKnown.js"
import { auditEventKey, conditionEventKey, conditionsOf } from "../../src/connectivity/outbox/transitions.js"
import { KubeApi } from "../../src/kube/KubeApi.js"
import type { KubeObject } from "../../src/kube/object.js"
import { Resources } from "../../src/kube/resources.js"
import { issueClaim } from "../../src/validation/approvalClaim.js"
import { kubeLayer } from "../support/operator.js"
import { annotate, applyAs, operation, placeholderTarget, waitForEvent, waitPhase } from "../support/operations.js"
import type { OperatorProcess } from "../support/operatorProcess.js"
import { clusterId, startPullOperators } from "../support/pullAgent.js"
import { waitFor } from "../support/wait.js"

const claimSecret = "audit-pull-claim-secret"

/** The operator's JSON log lines that record `action` about the object `name`. */
const auditLines = (p: OperatorProcess, action: string, name: string) =>
  p
    .output()
    .split("\n")
    .flatMap((line): ReadonlyArray<Record<string, unknown>> => {
      if (!line.startsWith("{")) return []
      const parsed: unknown = JSON.parse(line)
      return typeof parsed === "object" && parsed !== null && !Array.isArray(parsed) ? [Object.fromEntries(Object.entries(parsed))] : []
    })
    .filter((l) => l["msg"] === "audit" && l["audit"] === action && l["name"] === name)

const waitAuditLine = (p: OperatorProcess, action: string, name: string) =>
  waitFor(`the audit log line ${action} about ${name}`, Effect.sync(() => auditLines(p, action, name)[0]))

const requiresApproval = (ns: string, name: string, claim?: string) =>
  operation(ns, name, {
    type: "RunCommand",
    engine: "job",
    target: "app",
    parameters: { image: "busybox" },
    approvals: { required: true, ...(claim === undefined ? {} : { claim }) }
  })

const claimFor = (op: string) =>
  issueClaim(claimSecret, { op, by: "alice", at: "2026-12-02T00:00:00Z", exp: Math.floor(Date.now() / 1000) + 3600, rid: 1 })

layer(kubeLayer(), { timeout: "180 seconds", excludeTestServices: true })("audit in Pull mode", (it) => {
  it.scoped("approval decisions, a cancel and a credential rotation each reach the log, the Events and the control plane", () =>
    Effect.gen(function* () {
      const f = yield* startPullOperators()
      const api = yield* KubeApi
      // The Cluster that owns the credentials Secret, as the Cluster reconciler leaves it after registration.
      const cluster = yield* api.create(Resources.Cluster, {
        apiVersion: ApiVersions.Cluster,
        kind: "Cluster",
        metadata: { name: `audit-${f.podNamespace}` },
        spec: { controlPlaneEndpoint: f.mock.url, registrationTokenSecretRef: { name: "unused" } }
      })
      yield* Effect.addFinalizer(() => Effect.ignore(api.delete(Resources.Cluster, cluster.metadata.name ?? "")))
      yield* api.patch(Resources.Secret, Names.agentCredentialsSecret, f.podNamespace, "merge", {
        metadata: {
          ownerReferences: [
            { apiVersion: ApiVersions.Cluster, kind: "Cluster", name: cluster.metadata.name, uid: cluster.metadata.uid, controller: true }
          ]
        }
      })
      const p = yield* f.start([`--approval-claim-secret=${claimSecret}`])
      const ns = f.appNamespace
      yield* applyAs(Resources.ApplicationInstance, placeholderTarget(ns, "app", { runcommand: "job" }))

      /** The event of `kind` about `object` at the mock, once delivered. */
      const delivered = (kind: string, name: string, eventKey: string) =>
        waitFor(
          `${kind} ${eventKey} at the control plane`,
          Effect.map(f.admin.events(clusterId, { eventKind: kind, name }), (v) => v.events.find((e) => e.event.eventKey === eventKey)?.event),
          { timeout: "60 seconds", interval: "300 millis" }
        ).pipe(Effect.tapError(() => Effect.sync(() => console.error(f.outputs()))))
      const condition = (o: KubeObject, type: string) => conditionsOf(o).find((c) => c.type === type)!

      // 1. Approval required, no claim: Blocked/AwaitingApproval, an Event, OperationBlocked upstream.
      yield* applyAs(Resources.Operation, requiresApproval(ns, "approve-me"))
      const waiting = yield* waitPhase(ns, "approve-me", "Pending", { type: "Blocked", reason: "AwaitingApproval" }, "60 seconds")
      yield* waitForEvent(ns, "approve-me", "AwaitingApproval")
      const blocked = yield* delivered("OperationBlocked", "approve-me", auditEventKey("OperationBlocked", appliedRefOf(waiting), condition(waiting, "Blocked")))
      expect(blocked.resourceRef).toEqual(appliedRefOf(waiting))
      expect(blocked.conditions?.[0]).toMatchObject({ type: "Blocked", status: "True", reason: "AwaitingApproval" })

      // 2. A claim issued for another operation: ApprovalRejected in the log and the Events, OperationBlocked with the reason upstream.
      yield* applyAs(Resources.Operation, requiresApproval(ns, "forged", claimFor("someone-else")))
      const rejected = yield* waitPhase(ns, "forged", "Pending", { type: "Blocked", reason: "AwaitingApproval" }, "60 seconds")
      const rejectedLine = yield* waitAuditLine(p, "ApprovalRejected", "forged")
      expect(rejectedLine).toMatchObject({ kind: "Operation", namespace: ns, name: "forged" })
      const rejectedEvents = yield* waitForEvent(ns, "forged", "ApprovalRejected")
      expect(rejectedEvents.find((e) => e.reason === "ApprovalRejected")).toMatchObject({ type: "Warning" })
      const forgedUpstream = yield* delivered("OperationBlocked", "forged", auditEventKey("OperationBlocked", appliedRefOf(rejected), condition(rejected, "Blocked")))
      expect(forgedUpstream.conditions?.[0]?.message).toContain('"someone-else"')
      expect(JSON.stringify(forgedUpstream)).not.toContain(claimSecret)

      // 3. The valid claim: ApprovalGranted in the log and the Events, OperationAccepted upstream.
      yield* applyAs(Resources.Operation, requiresApproval(ns, "approve-me", claimFor("approve-me")))
      const running = yield* waitPhase(ns, "approve-me", "Running", { type: "Accepted", reason: "AdmissionPassed" }, "60 seconds")
      expect(yield* waitAuditLine(p, "ApprovalGranted", "approve-me")).toMatchObject({ kind: "Operation", namespace: ns })
      yield* waitForEvent(ns, "approve-me", "ApprovalGranted")
      const accepted = yield* delivered("OperationAccepted", "approve-me", auditEventKey("OperationAccepted", appliedRefOf(running), condition(running, "Accepted")))
      expect(accepted.resourceRef).toMatchObject({ kind: "Operation", namespace: ns, name: "approve-me", uid: running.metadata.uid })

      // 4. Cancel: OperationCancelled in the log and the Events; upstream the Cancelled=True transition.
      yield* annotate(Resources.Operation, ns, "approve-me", { "ops.vworkspace.io/cancel": "true" })
      const cancelled = yield* waitPhase(ns, "approve-me", "Cancelled", { type: "Cancelled", reason: "UserCancelled" }, "60 seconds")
      expect(yield* waitAuditLine(p, "OperationCancelled", "approve-me")).toMatchObject({ kind: "Operation", namespace: ns })
      yield* waitForEvent(ns, "approve-me", "OperationCancelled")
      const cancelledCondition = condition(cancelled, "Cancelled")
      const cancel = yield* delivered("ConditionTransition", "approve-me", conditionEventKey(appliedRefOf(cancelled), cancelledCondition))
      expect(cancel.conditions).toEqual([cancelledCondition])

      // 5. Credential rotation through the control plane's intent: CredentialRotated everywhere, about the owning Cluster.
      yield* f.admin.enqueue(clusterId, {
        id: "rotate-1",
        kind: "intent",
        payload: { intent: "rotate-operator-credentials" },
        idempotencyKey: "audit/rotate-1",
        createdAt: new Date().toISOString()
      })
      const clusterName = cluster.metadata.name ?? ""
      const rotatedLine = yield* waitAuditLine(p, "CredentialRotated", clusterName)
      expect(rotatedLine).toMatchObject({ kind: "Cluster" })
      const rotatedUpstream = yield* waitFor(
        "CredentialRotated at the control plane",
        Effect.map(f.admin.events(clusterId, { eventKind: "CredentialRotated" }), (v) => v.events[0]?.event),
        { timeout: "60 seconds", interval: "300 millis" }
      )
      expect(rotatedUpstream.resourceRef).toEqual({ apiVersion: ApiVersions.Cluster, kind: "Cluster", namespace: "", name: clusterName, uid: cluster.metadata.uid })
      expect(rotatedUpstream.eventKey).toBe(auditEventKey("CredentialRotated", rotatedUpstream.resourceRef, rotatedUpstream.conditions![0]!))
      expect(rotatedUpstream.eventKey?.startsWith(`CredentialRotated/${cluster.metadata.uid}/Authenticated/True/CredentialRotated`)).toBe(true)
      const rotatedEvent = yield* waitFor(
        "the CredentialRotated Event about the Cluster",
        Effect.map(api.list(Resources.Event, { fieldSelector: `involvedObject.name=${clusterName}` }), (l) =>
          Option.getOrUndefined(Option.fromNullable(l.items.find((e) => e["reason"] === "CredentialRotated")))
        )
      )
      expect(rotatedEvent["involvedObject"]).toMatchObject({ kind: "Cluster", name: clusterName, uid: cluster.metadata.uid })
      // Nothing secret went anywhere: not the claim secret, not the tokens.
      expect(p.output()).not.toContain(claimSecret)
    }))
})
