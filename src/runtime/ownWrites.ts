/**
 * The object versions a controller wrote itself. The watch event of such a version tells the
 * controller nothing it did not act on already (the write's answer is what it carried on with),
 * so it wakes nothing: a new instance converges in one reconcile instead of being woken again
 * by its own finalizer patch, child applies and status write.
 */
import { Effect } from "effect"
import type { KubeApiService } from "../kube/KubeApi.js"
import { type KubeObject, objectKey } from "../kube/object.js"
import type { EventFilter } from "./sources.js"

export interface OwnWrites {
  /** Remembers the version a write produced. */
  readonly record: (object: KubeObject) => void
  /** False for the event of a version recorded here (which it then forgets); true otherwise. */
  readonly notOwn: EventFilter
}

const versionKey = (o: KubeObject): string | undefined =>
  o.metadata.resourceVersion ? `${o.kind}/${objectKey(o)}@${o.metadata.resourceVersion}` : undefined

/**
 * A bounded record: a write whose event never comes (an apply that changed nothing keeps the
 * version) is forgotten once `capacity` newer writes were recorded.
 */
export const makeOwnWrites = (capacity = 10_000): OwnWrites => {
  const versions = new Set<string>()
  return {
    record: (object) => {
      const key = versionKey(object)
      if (key === undefined) return
      versions.add(key)
      if (versions.size > capacity) versions.delete(versions.values().next().value!)
    },
    notOwn: (event) => {
      // Deletions always wake: finalizers wait for them.
      if (event.type === "deleted") return true
      const key = versionKey(event.object)
      return key === undefined || !versions.delete(key)
    }
  }
}

const tapRecord =
  (own: OwnWrites) =>
  <E, R>(write: Effect.Effect<KubeObject, E, R>): Effect.Effect<KubeObject, E, R> =>
    Effect.tap(write, (object) => Effect.sync(() => own.record(object)))

/** The same client, recording the version every successful write returns. */
export const recordingWrites = (api: KubeApiService, own: OwnWrites): KubeApiService => ({
  ...api,
  create: (type, object) => tapRecord(own)(api.create(type, object)),
  apply: (type, object, options) => tapRecord(own)(api.apply(type, object, options)),
  applyStatus: (type, object, options) => tapRecord(own)(api.applyStatus(type, object, options)),
  patch: (type, name, namespace, patchType, body, options) =>
    tapRecord(own)(api.patch(type, name, namespace, patchType, body, options))
})
