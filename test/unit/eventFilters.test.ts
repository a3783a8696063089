import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Stream } from "effect"
import type { KubeObject } from "../../src/kube/object.js"
import { makeOwnWrites } from "../../src/runtime/ownWrites.js"
import { isStatusOnlyUpdate, keysFromEvents, type ObjectEvent, specOrMetadataChanged } from "../../src/runtime/sources.js"

const ai = (rv: string, meta: Partial<KubeObject["metadata"]> = {}, status: unknown = {}): KubeObject => ({
  apiVersion: "apps.vworkspace.io/v1alpha1",
  kind: "ApplicationInstance",
  metadata: {
    name: "a",
    namespace: "ns",
    resourceVersion: rv,
    generation: 1,
    labels: { x: "1" },
    annotations: { y: "2" },
    finalizers: ["apps.vworkspace.io/finalizer"],
    ...meta
  },
  status
})

const updated = (old: KubeObject, object: KubeObject): ObjectEvent => ({ type: "updated", object, old })

describe("status-only predicate", () => {
  it("a status write alone is status-only and wakes nothing", () => {
    const event = updated(ai("1"), ai("2", {}, { conditions: [{ type: "Ready" }] }))
    expect(isStatusOnlyUpdate(event)).toBe(true)
    expect(specOrMetadataChanged(event)).toBe(false)
  })

  it.each([
    ["generation", { generation: 2 }],
    ["labels", { labels: { x: "2" } }],
    ["a new label", { labels: { x: "1", z: "3" } }],
    ["annotations", { annotations: { y: "3" } }],
    ["an annotation removed", { annotations: {} }],
    ["finalizers", { finalizers: [] }],
    ["deletionTimestamp", { deletionTimestamp: "2026-01-01T00:00:00Z" }]
  ] as const)("a change of %s wakes", (_, change) => {
    expect(specOrMetadataChanged(updated(ai("1"), ai("2", change)))).toBe(true)
  })

  it("additions and deletions always wake", () => {
    expect(specOrMetadataChanged({ type: "added", object: ai("1") })).toBe(true)
    expect(specOrMetadataChanged({ type: "deleted", object: ai("1"), old: ai("1") })).toBe(true)
  })

  it.effect("keysFromEvents drops the events its filter rejects", () =>
    Effect.gen(function* () {
      const events: Array<ObjectEvent> = [
        { type: "added", object: ai("1") },
        updated(ai("1"), ai("2", {}, { observedGeneration: 1 })),
        updated(ai("2"), ai("3", { generation: 2 }))
      ]
      const keys = yield* Stream.runCollect(keysFromEvents(Stream.fromIterable(events), undefined, specOrMetadataChanged))
      expect(Chunk.toReadonlyArray(keys)).toEqual(["ns/a", "ns/a"])
    })
  )
})

describe("own writes", () => {
  it("the event of a version this process wrote wakes nothing, once; other versions wake", () => {
    const own = makeOwnWrites()
    own.record(ai("5"))
    expect(own.notOwn(updated(ai("4"), ai("5")))).toBe(false)
    // Forgotten after its event: the same version seen again (a relist) wakes.
    expect(own.notOwn(updated(ai("4"), ai("5")))).toBe(true)
    expect(own.notOwn(updated(ai("5"), ai("6")))).toBe(true)
  })

  it("deletions always wake, and the record is bounded", () => {
    const own = makeOwnWrites(2)
    own.record(ai("1"))
    expect(own.notOwn({ type: "deleted", object: ai("1") })).toBe(true)
    own.record(ai("2"))
    own.record(ai("3"))
    // "1" was evicted by the newer writes.
    expect(own.notOwn({ type: "added", object: ai("1") })).toBe(true)
    expect(own.notOwn({ type: "added", object: ai("3") })).toBe(false)
  })
})
