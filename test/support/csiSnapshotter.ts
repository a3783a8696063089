/**
 * Playing the CSI snapshot controller (a VolumeSnapshot is bound to its content, then ready to
 * use, or gets an error) and the volume provisioner with the PV controller (a claim restored from
 * a snapshot gets its volume and becomes Bound).
 */
import { Effect } from "effect"
import { KubeApi } from "../../src/kube/KubeApi.js"
import type { KubeObject } from "../../src/kube/object.js"
import { Resources } from "../../src/kube/resources.js"
import { writeStatusSubresource } from "./controllerStatus.js"

const content = (s: KubeObject) => `snapcontent-${s.metadata.uid ?? ""}`
const writeSnapshot = (s: KubeObject, status: Record<string, unknown>) =>
  writeStatusSubresource(Resources.VolumeSnapshot, s, status, "snapshot-controller")

export const snapshotController = {
  bound: (s: KubeObject) => writeSnapshot(s, { boundVolumeSnapshotContentName: content(s), readyToUse: false }),
  ready: (s: KubeObject, restoreSize = "1Gi") =>
    writeSnapshot(s, {
      boundVolumeSnapshotContentName: content(s),
      creationTime: "2026-12-02T01:00:00Z",
      readyToUse: true,
      restoreSize
    }),
  error: (s: KubeObject, message: string) =>
    writeSnapshot(s, {
      boundVolumeSnapshotContentName: content(s),
      readyToUse: false,
      error: { time: "2026-12-02T01:00:00Z", message }
    })
}

/** The PV controller binds the claim to the provisioned volume (spec), then marks it Bound (status). */
export const bindClaim = (claim: KubeObject, volumeName: string, capacity = "1Gi") =>
  Effect.gen(function* () {
    const api = yield* KubeApi
    const name = claim.metadata.name ?? ""
    yield* api.patch(Resources.PersistentVolumeClaim, name, claim.metadata.namespace, "merge", { spec: { volumeName } }, { fieldManager: "kube-controller-manager" })
    yield* writeStatusSubresource(
      Resources.PersistentVolumeClaim,
      claim,
      { phase: "Bound", accessModes: ["ReadWriteOnce"], capacity: { storage: capacity } },
      "kube-controller-manager"
    )
  })
