/**
 * Playing the Velero server: it moves a Backup or Restore through New → InProgress → (Finalizing)
 * → Completed / PartiallyFailed / Failed, or straight to FailedValidation, patching the object
 * with its progress, counts and reasons.
 */
import type { KubeObject } from "../../src/kube/object.js"
import { Resources } from "../../src/kube/resources.js"
import { patchObjectStatus } from "./controllerStatus.js"

const typeOf = (o: KubeObject) => (o.kind === "Restore" ? Resources.VeleroRestore : Resources.VeleroBackup)
const items = (o: KubeObject, done: number, total: number) =>
  o.kind === "Restore" ? { totalItems: total, itemsRestored: done } : { totalItems: total, itemsBackedUp: done }
const write = (o: KubeObject, status: Record<string, unknown>) => patchObjectStatus(typeOf(o), o, status, "velero-server")

const started = "2026-12-02T01:00:00Z"
const finished = "2026-12-02T01:05:00Z"

export const veleroServer = {
  inProgress: (o: KubeObject, done = 0, total = 40) =>
    write(o, {
      phase: "InProgress",
      startTimestamp: started,
      ...(o.kind === "Backup" ? { expiration: "2027-01-01T01:00:00Z", version: 1, formatVersion: "1.1.0" } : {}),
      progress: items(o, done, total)
    }),
  finalizing: (o: KubeObject) => write(o, { phase: "Finalizing", progress: items(o, 40, 40) }),
  completed: (o: KubeObject) =>
    write(o, { phase: "Completed", completionTimestamp: finished, progress: items(o, 40, 40), warnings: 0, errors: 0 }),
  partiallyFailed: (o: KubeObject, errors: number, warnings: number) =>
    write(o, { phase: "PartiallyFailed", completionTimestamp: finished, progress: items(o, 38, 40), errors, warnings }),
  failed: (o: KubeObject, failureReason: string) =>
    write(o, { phase: "Failed", completionTimestamp: finished, failureReason, errors: 1 }),
  failedValidation: (o: KubeObject, validationErrors: ReadonlyArray<string>) =>
    write(o, { phase: "FailedValidation", validationErrors })
}
