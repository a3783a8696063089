/**
 * How third-party controllers write status, for the helpers that play them. Velero and Argo
 * Workflows have no status subresource: they patch the whole object (Velero: a JSON merge patch
 * from the object it read; Argo: an update). VolSync and the CSI snapshot controller write the
 * `/status` subresource.
 */
import { Effect } from "effect"
import { KubeApi } from "../../src/kube/KubeApi.js"
import type { KubeObject, ResourceType } from "../../src/kube/object.js"

/** A merge patch of `status` on the object itself, as a controller without a status subresource does. */
export const patchObjectStatus = (type: ResourceType, o: KubeObject, status: Record<string, unknown>, fieldManager: string) =>
  Effect.flatMap(KubeApi, (api) =>
    api.patch(type, o.metadata.name ?? "", o.metadata.namespace, "merge", { status }, { fieldManager })
  )

/** The whole `status` through the `/status` subresource, under the controller's field manager. */
export const writeStatusSubresource = (type: ResourceType, o: KubeObject, status: Record<string, unknown>, fieldManager: string) =>
  Effect.flatMap(KubeApi, (api) =>
    api.applyStatus(
      type,
      { apiVersion: o.apiVersion, kind: o.kind, metadata: { name: o.metadata.name, namespace: o.metadata.namespace }, status },
      { fieldManager, force: true }
    )
  )
