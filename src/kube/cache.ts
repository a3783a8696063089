import { Effect, Option } from "effect"
import { type KubeObject, objectKey } from "./object.js"

/** One change to the cache, as delivered to informer subscribers. */
export interface CacheChange {
  readonly type: "added" | "updated" | "deleted"
  /** The new state; for `deleted`, the last state seen. */
  readonly object: KubeObject
  /** The previous state, for `updated` (and for `deleted` when it was cached). */
  readonly old?: KubeObject
}

/** Read access to an informer's cache. Results are snapshots; their order is unspecified. */
export interface CacheReader {
  /** By `namespace/name`, or `name` for cluster-scoped kinds (see `objectKey`). */
  readonly get: (key: string) => Effect.Effect<Option.Option<KubeObject>>
  /** Everything, or everything in one namespace. */
  readonly list: (namespace?: string) => Effect.Effect<ReadonlyArray<KubeObject>>
  /** Objects with an ownerReference to this UID. */
  readonly byOwner: (uid: string) => Effect.Effect<ReadonlyArray<KubeObject>>
  /** Objects carrying the label `key=value`. */
  readonly byLabel: (key: string, value: string) => Effect.Effect<ReadonlyArray<KubeObject>>
  readonly size: Effect.Effect<number>
}

/** managedFields are large and only matter to the API server; the cache never holds them. */
export const stripManagedFields = (object: KubeObject): KubeObject => {
  if (object.metadata.managedFields === undefined) return object
  const { managedFields: _dropped, ...metadata } = object.metadata
  return { ...object, metadata }
}

/**
 * What a cache keeps of each object (applied after `managedFields` are dropped). It must keep the
 * identity (`metadata.name`, `namespace`, `uid`, `resourceVersion`) and whatever readers read.
 */
export type CacheTransform = (object: KubeObject) => KubeObject

/** A multimap from index value to object keys. */
class Index {
  private readonly entries = new Map<string, Set<string>>()

  add(value: string, key: string): void {
    let keys = this.entries.get(value)
    if (keys === undefined) {
      keys = new Set()
      this.entries.set(value, keys)
    }
    keys.add(key)
  }

  remove(value: string, key: string): void {
    const keys = this.entries.get(value)
    if (keys === undefined) return
    keys.delete(key)
    if (keys.size === 0) this.entries.delete(value)
  }

  keys(value: string): ReadonlyArray<string> {
    return [...(this.entries.get(value) ?? [])]
  }
}

const ownerUids = (o: KubeObject): ReadonlyArray<string> => (o.metadata.ownerReferences ?? []).map((r) => r.uid)
const labelPairs = (o: KubeObject): ReadonlyArray<string> =>
  Object.entries(o.metadata.labels ?? {}).map(([k, v]) => `${k}=${v}`)

/**
 * The objects of one kind, indexed by namespace, owner UID and label. Mutable and synchronous:
 * only its informer writes to it, from one fiber; everyone else reads through `reader`.
 */
export class ObjectCache {
  private readonly objects = new Map<string, KubeObject>()
  private readonly byNamespace = new Index()
  private readonly byOwnerUid = new Index()
  private readonly byLabelPair = new Index()

  constructor(private readonly transform?: CacheTransform) {}

  /**
   * What the cache keeps of `incoming` (managedFields dropped, then the transform). Applying it
   * again changes nothing; the informer applies it to each list page as it arrives, so a long
   * initial list never holds the full objects.
   */
  kept(incoming: KubeObject): KubeObject {
    const object = stripManagedFields(incoming)
    return this.transform === undefined ? object : this.transform(object)
  }

  get size(): number {
    return this.objects.size
  }

  get(key: string): KubeObject | undefined {
    return this.objects.get(key)
  }

  list(namespace?: string): ReadonlyArray<KubeObject> {
    return namespace === undefined ? [...this.objects.values()] : this.resolve(this.byNamespace.keys(namespace))
  }

  byOwner(uid: string): ReadonlyArray<KubeObject> {
    return this.resolve(this.byOwnerUid.keys(uid))
  }

  byLabel(key: string, value: string): ReadonlyArray<KubeObject> {
    return this.resolve(this.byLabelPair.keys(`${key}=${value}`))
  }

  /** Stores the object; the change, or undefined when this exact version is already cached. */
  upsert(incoming: KubeObject): CacheChange | undefined {
    const key = objectKey(incoming)
    const old = this.objects.get(key)
    // Judged before trimming: a relist repeats every unchanged object, and none needs a copy.
    if (old !== undefined && old.metadata.resourceVersion === incoming.metadata.resourceVersion) return undefined
    const object = this.kept(incoming)
    if (old !== undefined) this.unindex(key, old)
    this.objects.set(key, object)
    this.index(key, object)
    return old === undefined ? { type: "added", object } : { type: "updated", object, old }
  }

  /** Forgets the object; the change carries the deleted state as the watch reported it. */
  remove(incoming: KubeObject): CacheChange {
    const object = this.kept(incoming)
    const key = objectKey(object)
    const old = this.objects.get(key)
    if (old !== undefined) {
      this.unindex(key, old)
      this.objects.delete(key)
    }
    return old === undefined ? { type: "deleted", object } : { type: "deleted", object, old }
  }

  /**
   * Replaces the whole content with a fresh list: the changes are what a watcher would have
   * seen meanwhile (deleted for vanished objects, added and updated for the rest).
   */
  replace(items: ReadonlyArray<KubeObject>): ReadonlyArray<CacheChange> {
    const changes: Array<CacheChange> = []
    const fresh = new Map(items.map((o) => [objectKey(o), o.metadata.uid]))
    for (const [key, old] of [...this.objects]) {
      // A different UID under the same name is a new object: the old one was deleted meanwhile.
      if (!fresh.has(key) || fresh.get(key) !== old.metadata.uid) {
        this.unindex(key, old)
        this.objects.delete(key)
        changes.push({ type: "deleted", object: old, old })
      }
    }
    for (const item of items) {
      const change = this.upsert(item)
      if (change !== undefined) changes.push(change)
    }
    return changes
  }

  /** Effectful read access for everyone but the informer. */
  readonly reader: CacheReader = {
    get: (key) => Effect.sync(() => Option.fromNullable(this.get(key))),
    list: (namespace) => Effect.sync(() => this.list(namespace)),
    byOwner: (uid) => Effect.sync(() => this.byOwner(uid)),
    byLabel: (key, value) => Effect.sync(() => this.byLabel(key, value)),
    size: Effect.sync(() => this.size)
  }

  private resolve(keys: ReadonlyArray<string>): ReadonlyArray<KubeObject> {
    const out: Array<KubeObject> = []
    for (const key of keys) {
      const o = this.objects.get(key)
      if (o !== undefined) out.push(o)
    }
    return out
  }

  private index(key: string, o: KubeObject): void {
    this.byNamespace.add(o.metadata.namespace ?? "", key)
    for (const uid of ownerUids(o)) this.byOwnerUid.add(uid, key)
    for (const pair of labelPairs(o)) this.byLabelPair.add(pair, key)
  }

  private unindex(key: string, o: KubeObject): void {
    this.byNamespace.remove(o.metadata.namespace ?? "", key)
    for (const uid of ownerUids(o)) this.byOwnerUid.remove(uid, key)
    for (const pair of labelPairs(o)) this.byLabelPair.remove(pair, key)
  }
}
