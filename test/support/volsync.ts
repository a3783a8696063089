/**
 * Playing the VolSync controller for a manual trigger: `Synchronizing=True/SyncInProgress` while
 * the mover runs, then `lastManualSync` = the trigger, `lastSyncTime`, `lastSyncDuration`, the
 * mover result, `latestImage` (destinations) and `Synchronizing=False/WaitingForManual`; or
 * `Synchronizing=False/Error`.
 */
import type { KubeObject } from "../../src/kube/object.js"
import { Resources } from "../../src/kube/resources.js"
import { writeStatusSubresource } from "./controllerStatus.js"

const typeOf = (o: KubeObject) => (o.kind === "ReplicationDestination" ? Resources.ReplicationDestination : Resources.ReplicationSource)
const write = (o: KubeObject, status: Record<string, unknown>) => writeStatusSubresource(typeOf(o), o, status, "volsync")
const synchronizing = (status: string, reason: string, message: string) => ({
  type: "Synchronizing",
  status,
  reason,
  message,
  lastTransitionTime: "2026-12-02T01:00:00Z"
})

export const volsyncController = {
  syncing: (o: KubeObject) =>
    write(o, {
      lastSyncStartTime: "2026-12-02T01:00:00Z",
      conditions: [synchronizing("True", "SyncInProgress", "Synchronization in-progress")]
    }),
  synced: (o: KubeObject, manual: string) =>
    write(o, {
      lastManualSync: manual,
      lastSyncTime: "2026-12-02T01:00:42Z",
      lastSyncDuration: "42.1s",
      latestMoverStatus: { result: "Successful", logs: "processed 12 files, 1.2 MiB" },
      ...(o.kind === "ReplicationDestination"
        ? { latestImage: { apiGroup: "snapshot.storage.k8s.io", kind: "VolumeSnapshot", name: `volsync-${o.metadata.name ?? ""}-dst-20261202010042` } }
        : {}),
      conditions: [synchronizing("False", "WaitingForManual", "Waiting for manual trigger")]
    }),
  error: (o: KubeObject, message: string) => write(o, { conditions: [synchronizing("False", "Error", message)] })
}
