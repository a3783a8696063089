import { describe, expect, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import { ObjectCache, stripManagedFields } from "../../src/kube/cache.js"
import type { KubeObject } from "../../src/kube/object.js"

const cm = (
  namespace: string,
  name: string,
  rv: string,
  extra: { labels?: Record<string, string>; owners?: ReadonlyArray<string>; uid?: string } = {}
): KubeObject => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: {
    namespace,
    name,
    uid: extra.uid ?? `uid-${namespace}-${name}`,
    resourceVersion: rv,
    ...(extra.labels === undefined ? {} : { labels: extra.labels }),
    ...(extra.owners === undefined
      ? {}
      : { ownerReferences: extra.owners.map((uid) => ({ apiVersion: "v1", kind: "Owner", name: uid, uid })) }),
    managedFields: [{ manager: "kubectl", operation: "Apply" }]
  },
  data: { k: rv }
})

const names = (objects: ReadonlyArray<KubeObject>): ReadonlyArray<string> =>
  objects.map((o) => `${o.metadata.namespace ?? ""}/${o.metadata.name ?? ""}`).sort()

describe("ObjectCache", () => {
  it("upsert reports added, then updated with the old state; the same version is no change", () => {
    const cache = new ObjectCache()
    const v1 = cm("a", "x", "1")
    const v2 = cm("a", "x", "2")
    expect(cache.upsert(v1)).toMatchObject({ type: "added", object: { metadata: { resourceVersion: "1" } } })
    expect(cache.upsert(v1)).toBeUndefined()
    const change = cache.upsert(v2)
    expect(change?.type).toBe("updated")
    expect(change?.old?.metadata.resourceVersion).toBe("1")
    expect(change?.object.metadata.resourceVersion).toBe("2")
    expect(cache.size).toBe(1)
  })

  it("never stores managedFields, and never mutates the object it was given", () => {
    const cache = new ObjectCache()
    const input = cm("a", "x", "1")
    const change = cache.upsert(input)
    expect(change?.object.metadata.managedFields).toBeUndefined()
    expect(cache.get("a/x")?.metadata.managedFields).toBeUndefined()
    expect(cache.get("a/x")?.["data"]).toEqual({ k: "1" })
    expect(input.metadata.managedFields).toHaveLength(1)
    expect(stripManagedFields(cache.get("a/x") as KubeObject)).toBe(cache.get("a/x"))
  })

  it("indexes by namespace, owner UID and label, and keeps the indexes right across updates and removals", () => {
    const cache = new ObjectCache()
    cache.upsert(cm("a", "x", "1", { labels: { app: "web" }, owners: ["o1"] }))
    cache.upsert(cm("a", "y", "1", { labels: { app: "db" }, owners: ["o1", "o2"] }))
    cache.upsert(cm("b", "z", "1", { labels: { app: "web" } }))

    expect(names(cache.list())).toEqual(["a/x", "a/y", "b/z"])
    expect(names(cache.list("a"))).toEqual(["a/x", "a/y"])
    expect(names(cache.list("missing"))).toEqual([])
    expect(names(cache.byOwner("o1"))).toEqual(["a/x", "a/y"])
    expect(names(cache.byOwner("o2"))).toEqual(["a/y"])
    expect(names(cache.byLabel("app", "web"))).toEqual(["a/x", "b/z"])

    // x changes its label and loses its owner: both indexes follow.
    cache.upsert(cm("a", "x", "2", { labels: { app: "db" } }))
    expect(names(cache.byLabel("app", "web"))).toEqual(["b/z"])
    expect(names(cache.byLabel("app", "db"))).toEqual(["a/x", "a/y"])
    expect(names(cache.byOwner("o1"))).toEqual(["a/y"])

    const removed = cache.remove(cm("a", "y", "3"))
    expect(removed).toMatchObject({ type: "deleted", old: { metadata: { resourceVersion: "1" } } })
    expect(names(cache.byOwner("o1"))).toEqual([])
    expect(names(cache.byOwner("o2"))).toEqual([])
    expect(names(cache.list("a"))).toEqual(["a/x"])
    expect(cache.get("a/y")).toBeUndefined()
  })

  it("removing an unknown object still reports the deletion", () => {
    const cache = new ObjectCache()
    expect(cache.remove(cm("a", "ghost", "5"))).toMatchObject({ type: "deleted", object: { metadata: { name: "ghost" } } })
    expect(cache.size).toBe(0)
  })

  it("cluster-scoped objects are keyed by name", () => {
    const cache = new ObjectCache()
    cache.upsert({ apiVersion: "v1", kind: "Namespace", metadata: { name: "team", uid: "n1", resourceVersion: "1" } })
    expect(cache.get("team")?.kind).toBe("Namespace")
  })

  it("replace emits deleted for vanished objects, updated for changed ones, added for new ones, nothing for the rest", () => {
    const cache = new ObjectCache()
    cache.upsert(cm("a", "same", "1"))
    cache.upsert(cm("a", "changed", "1", { labels: { v: "1" } }))
    cache.upsert(cm("a", "vanished", "1", { owners: ["o"] }))
    cache.upsert(cm("a", "recreated", "1", { uid: "old-uid" }))

    const changes = cache.replace([
      cm("a", "same", "1"),
      cm("a", "changed", "7", { labels: { v: "2" } }),
      cm("a", "new", "8"),
      cm("a", "recreated", "9", { uid: "new-uid" })
    ])
    const summary = changes.map((c) => `${c.type} ${c.object.metadata.name ?? ""} ${c.object.metadata.resourceVersion ?? ""}`)
    expect([...summary].sort()).toEqual(
      ["added new 8", "added recreated 9", "deleted recreated 1", "deleted vanished 1", "updated changed 7"].sort()
    )
    expect(names(cache.list())).toEqual(["a/changed", "a/new", "a/recreated", "a/same"])
    expect(cache.byOwner("o")).toEqual([])
    expect(names(cache.byLabel("v", "2"))).toEqual(["a/changed"])
    expect(cache.byLabel("v", "1")).toEqual([])
  })

  it.effect("the reader serves the same data as Effects", () =>
    Effect.gen(function* () {
      const cache = new ObjectCache()
      cache.upsert(cm("a", "x", "1", { labels: { app: "web" }, owners: ["o1"] }))
      const r = cache.reader
      expect(Option.map(yield* r.get("a/x"), (o) => o.metadata.name)).toEqual(Option.some("x"))
      expect(yield* r.get("a/none")).toEqual(Option.none())
      expect(names(yield* r.list("a"))).toEqual(["a/x"])
      expect(names(yield* r.byOwner("o1"))).toEqual(["a/x"])
      expect(names(yield* r.byLabel("app", "web"))).toEqual(["a/x"])
      expect(yield* r.size).toBe(1)
    }))
})
