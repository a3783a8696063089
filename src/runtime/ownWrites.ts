/**
 * The object versions a controller wrote itself. The watch event of such a version tells the
 * controller nothing it did not act on already (the write's answer is what it carried on with),
 * so it wakes nothing: a new instance converges in one reconcile instead of being woken again
 * by its own finalizer patch, child applies and status write.
 *
 * The event often arrives before the write's answer, so an event for an object with a write in
 * flight waits for that write to finish before it is judged.
 */
import { Deferred, Effect, FiberId } from "effect"
import type { KubeApiService } from "../kube/KubeApi.js"
import type { KubeObject, ResourceType } from "../kube/object.js"
import type { EventFilter } from "./sources.js"

export interface OwnWrites {
  /** Runs a write to `kind` `key`, remembering the version it produced. */
  readonly track: <E>(kind: string, key: string, write: Effect.Effect<KubeObject, E>) => Effect.Effect<KubeObject, E>
  /** False for the event of a version this controller wrote (which it then forgets); true otherwise. */
  readonly notOwn: EventFilter
}

const keyIn = (namespace: string | undefined, name: string): string => (namespace ? `${namespace}/${name}` : name)

/**
 * A bounded record: a write whose event never comes (an apply that changed nothing keeps the
 * version) is forgotten once `capacity` newer writes were recorded.
 */
export const makeOwnWrites = (capacity = 10_000): OwnWrites => {
  const versions = new Set<string>()
  // `settled` is made only when an event waits: most writes finish before their event arrives.
  const inFlight = new Map<string, { count: number; settled?: Deferred.Deferred<void> }>()

  const begin = (object: string) =>
    Effect.sync(() => {
      const current = inFlight.get(object)
      if (current !== undefined) current.count++
      else inFlight.set(object, { count: 1 })
    })
  const end = (object: string) =>
    Effect.suspend(() => {
      const current = inFlight.get(object)
      if (current === undefined || --current.count > 0) return Effect.void
      inFlight.delete(object)
      return current.settled === undefined ? Effect.void : Deferred.succeed(current.settled, undefined)
    })
  const settledOf = (pending: { settled?: Deferred.Deferred<void> }) =>
    (pending.settled ??= Deferred.unsafeMake<void>(FiberId.none))
  const remember = (object: string, version: string | undefined) =>
    Effect.sync(() => {
      if (version === undefined || version === "") return
      versions.add(`${object}@${version}`)
      if (versions.size > capacity) versions.delete(versions.values().next().value!)
    })

  return {
    track: (kind, key, write) =>
      Effect.acquireUseRelease(
        begin(`${kind}/${key}`),
        () => Effect.tap(write, (o) => remember(`${kind}/${key}`, o.metadata.resourceVersion)),
        () => end(`${kind}/${key}`)
      ),
    notOwn: (event) =>
      Effect.suspend(() => {
        // Deletions always wake: finalizers wait for them.
        if (event.type === "deleted") return Effect.succeed(true)
        const object = `${event.object.kind}/${keyIn(event.object.metadata.namespace, event.object.metadata.name ?? "")}`
        const judge = Effect.sync(() => !versions.delete(`${object}@${event.object.metadata.resourceVersion}`))
        const pending = inFlight.get(object)
        return pending === undefined ? judge : Effect.zipRight(Deferred.await(settledOf(pending)), judge)
      })
  }
}

/** The same client; every write goes through `own.track`, so its version is remembered. */
export const recordingWrites = (api: KubeApiService, own: OwnWrites): KubeApiService => {
  const tracked = <E>(type: ResourceType, namespace: string | undefined, name: string | undefined, write: Effect.Effect<KubeObject, E>) =>
    // generateName objects have no key before the write; nothing watches for them.
    name === undefined || name === "" ? write : own.track(type.kind, keyIn(namespace, name), write)
  return {
    ...api,
    create: (type, object) => tracked(type, object.metadata.namespace, object.metadata.name, api.create(type, object)),
    apply: (type, object, options) =>
      tracked(type, object.metadata.namespace, object.metadata.name, api.apply(type, object, options)),
    applyStatus: (type, object, options) =>
      tracked(type, object.metadata.namespace, object.metadata.name, api.applyStatus(type, object, options)),
    patch: (type, name, namespace, patchType, body, options) =>
      tracked(type, namespace, name, api.patch(type, name, namespace, patchType, body, options))
  }
}
