/**
 * Audit: the decisions a security reviewer wants to find afterwards (admission denials, approval
 * decisions, credential rotations, cancels). Each is one structured log line and one Kubernetes
 * Event on the object it concerns; the live Layer also forwards the kinds the agent protocol
 * defines to the control plane. Recording never fails the caller.
 */
import { Context, Effect, Layer, Option } from "effect"
import type { KubeObject } from "../kube/object.js"
import { EventRecorder } from "./events.js"

export type AuditAction =
  | "AdmissionDenied"
  | "ApprovalGranted"
  | "ApprovalRejected"
  | "CredentialRotated"
  | "OperationCancelled"

export interface AuditEntry {
  readonly action: AuditAction
  /** The object the decision concerns (for a denial: the object as submitted). */
  readonly object: KubeObject
  /** Who asked, when known (the admission request's user, the approver). */
  readonly actor?: string
  /** Why, in words; never a credential or Secret value. */
  readonly message: string
}

export interface AuditService {
  readonly record: (entry: AuditEntry) => Effect.Effect<void>
}

export class Audit extends Context.Tag("vworkspace/Audit")<Audit, AuditService>() {}

const isWarning = (action: AuditAction) => action === "AdmissionDenied" || action === "ApprovalRejected"

/** Log line plus Kubernetes Event. */
export const auditToEventsLive = Layer.effect(
  Audit,
  Effect.map(EventRecorder, (recorder) => ({
    record: (entry) =>
      Effect.zipRight(
        Effect.logInfo("audit").pipe(
          Effect.annotateLogs({
            audit: entry.action,
            kind: entry.object.kind,
            namespace: entry.object.metadata.namespace ?? "",
            name: entry.object.metadata.name ?? "",
            actor: entry.actor ?? "",
            message: entry.message
          })
        ),
        recorder.record(entry.object, isWarning(entry.action) ? "Warning" : "Normal", entry.action, entry.message)
      )
  }))
)

/** Records `entry` when an Audit service is provided (components that tests run bare skip it). */
export const recordAudit = (entry: AuditEntry): Effect.Effect<void> =>
  Effect.flatMap(Effect.serviceOption(Audit), Option.match({ onNone: () => Effect.void, onSome: (audit) => audit.record(entry) }))
