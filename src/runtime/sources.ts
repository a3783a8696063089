import { Chunk, Effect, type Scope, Stream } from "effect"
import { objectKey, type KubeObject, type ResourceType } from "../kube/object.js"

/**
 * Where a controller's keys come from: any stream of `namespace/name` (or `name`) keys. Informers
 * of the primary kind and of owned kinds feed it; a unit test can feed keys directly.
 */
export type KeySource = Stream.Stream<string>

/**
 * An informer notification. A subscription must first replay every cached object as `added`, so a
 * controller that starts late (after winning the election) still sees every existing object.
 */
export interface ObjectEvent {
  readonly type: "added" | "updated" | "deleted"
  readonly object: KubeObject
  readonly old?: KubeObject
}

/** The part of an informer a controller needs (`Informer` of `src/kube/informer.ts` fits). */
export interface Subscribable {
  readonly subscribe: (handler: (event: ObjectEvent) => Effect.Effect<void>) => Effect.Effect<void, never, Scope.Scope>
  /** The same events as a stream, also replaying the cache first; subscribed while it runs. */
  readonly events: Stream.Stream<ObjectEvent>
}

/** An informer's events as a stream; the subscription lives as long as the stream runs. */
export const eventsOf = (informer: Subscribable): Stream.Stream<ObjectEvent> => informer.events

/** Maps an object to the keys of the objects it should wake. */
export type KeyMapper = (object: KubeObject) => ReadonlyArray<string>

/** The object's own key: for watches of the primary kind. */
export const ownKey: KeyMapper = (object) => [objectKey(object)]

const groupOf = (apiVersion: string): string => {
  const slash = apiVersion.indexOf("/")
  return slash < 0 ? "" : apiVersion.slice(0, slash)
}

const keyIn = (namespace: string | undefined, name: string): string => (namespace ? `${namespace}/${name}` : name)

/**
 * The owners of a child, from its ownerReferences. Given a kind name, references of that kind
 * match; given a ResourceType, the API group must match too, and a cluster-scoped owner gets a
 * cluster-scoped key. A namespaced owner is always in the child's namespace (Kubernetes forbids
 * cross-namespace owners).
 */
export const ownerKeyFromRefs =
  (owner: string | ResourceType): KeyMapper =>
  (object) => {
    const kind = typeof owner === "string" ? owner : owner.kind
    const namespace = typeof owner === "string" || owner.namespaced ? object.metadata.namespace : undefined
    return (object.metadata.ownerReferences ?? [])
      .filter((ref) => ref.kind === kind && (typeof owner === "string" || groupOf(ref.apiVersion) === owner.group))
      .map((ref) => keyIn(namespace, ref.name))
  }

/** The owner named by a label on the child, in the child's namespace. */
export const ownerKeyFromLabel =
  (labelKey: string): KeyMapper =>
  (object) => {
    const name = object.metadata.labels?.[labelKey]
    return name ? [keyIn(object.metadata.namespace, name)] : []
  }

/** Decides whether an event wakes anything (like controller-runtime's predicates). */
export type EventFilter = (event: ObjectEvent) => Effect.Effect<boolean>

const sameStrings = (a: ReadonlyArray<string> | undefined, b: ReadonlyArray<string> | undefined): boolean =>
  (a ?? []).length === (b ?? []).length && (a ?? []).every((x, i) => x === (b ?? [])[i])

const sameStringMap = (
  a: Readonly<Record<string, string>> | undefined,
  b: Readonly<Record<string, string>> | undefined
): boolean => {
  const ka = Object.keys(a ?? {})
  return ka.length === Object.keys(b ?? {}).length && ka.every((k) => a?.[k] === b?.[k])
}

/**
 * True for an update that changed neither the spec (generation) nor the metadata a reconciler
 * acts on: a status write, our own included. Additions and deletions are never status-only.
 */
export const isStatusOnlyUpdate = (event: ObjectEvent): boolean => {
  if (event.type !== "updated" || event.old === undefined) return false
  const now = event.object.metadata
  const before = event.old.metadata
  return (
    now.generation === before.generation &&
    now.deletionTimestamp === before.deletionTimestamp &&
    sameStrings(now.finalizers, before.finalizers) &&
    sameStringMap(now.labels, before.labels) &&
    sameStringMap(now.annotations, before.annotations)
  )
}

/** For the primary kind: status-only updates wake nothing (so our status writes do not). */
export const specOrMetadataChanged = (event: ObjectEvent): boolean => !isStatusOnlyUpdate(event)

/** The keys an event wakes: those of its object and, for an update, of the old object too. */
export const eventKeys =
  (map: KeyMapper) =>
  (event: ObjectEvent): ReadonlyArray<string> => {
    const keys = map(event.object)
    if (event.old === undefined) return keys
    return [...new Set([...keys, ...map(event.old)])]
  }

/** Keys from events, an effect per event (it may read caches); one stream stage per chunk of events. */
export const keysFromEventsWith = <E, R>(
  events: Stream.Stream<ObjectEvent, E, R>,
  keysOfEvent: (event: ObjectEvent) => Effect.Effect<ReadonlyArray<string>>
): Stream.Stream<string, E, R> =>
  Stream.mapChunksEffect(events, (chunk) => Effect.map(Effect.forEach(chunk, keysOfEvent), (keys) => Chunk.unsafeFromArray(keys.flat())))

/**
 * Keys from informer events. An update wakes the owners of both the old and the new object, so
 * a child that moves from one owner to another wakes both. Events `filter` rejects wake nothing.
 */
export const keysFromEvents = <E, R>(
  events: Stream.Stream<ObjectEvent, E, R>,
  map: KeyMapper = ownKey,
  filter?: EventFilter
): Stream.Stream<string, E, R> => {
  const keysOfEvent = eventKeys(map)
  // One stage per chunk of events: every event passes here.
  return filter === undefined
    ? Stream.mapChunks(events, (chunk) => Chunk.flatMap(chunk, (event) => Chunk.unsafeFromArray(keysOfEvent(event))))
    : keysFromEventsWith(events, (event) => Effect.map(filter(event), (wakes) => (wakes ? keysOfEvent(event) : [])))
}

/**
 * The keys an informer's events wake: its own objects' keys by default (the primary kind), or
 * their owners' keys with `ownerKeyFromRefs` / `ownerKeyFromLabel` (owned kinds).
 */
export const keysOf = (informer: Subscribable, map: KeyMapper = ownKey, filter?: EventFilter): KeySource =>
  keysFromEvents(eventsOf(informer), map, filter)
