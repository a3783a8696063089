import { describe, expect, it } from "@effect/vitest"
import { Chunk, Deferred, Effect, Fiber, Stream } from "effect"
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
      const keys = yield* Stream.runCollect(keysFromEvents(Stream.fromIterable(events), undefined, (e) => Effect.succeed(specOrMetadataChanged(e))))
      expect(Chunk.toReadonlyArray(keys)).toEqual(["ns/a", "ns/a"])
    })
  )
})

describe("own writes", () => {
  const write = (own: ReturnType<typeof makeOwnWrites>, object: KubeObject) =>
    own.track("ApplicationInstance", "ns/a", Effect.succeed(object))

  it.effect("the event of a version this process wrote wakes nothing, once; other versions wake", () =>
    Effect.gen(function* () {
      const own = makeOwnWrites()
      yield* write(own, ai("5"))
      expect(yield* own.notOwn(updated(ai("4"), ai("5")))).toBe(false)
      // Forgotten after its event: the same version seen again (a relist) wakes.
      expect(yield* own.notOwn(updated(ai("4"), ai("5")))).toBe(true)
      expect(yield* own.notOwn(updated(ai("5"), ai("6")))).toBe(true)
    })
  )

  it.effect("an event that overtakes its write's answer waits for the write, then is recognised", () =>
    Effect.gen(function* () {
      const own = makeOwnWrites()
      const answer = yield* Deferred.make<KubeObject>()
      const writing = yield* Effect.fork(own.track("ApplicationInstance", "ns/a", Deferred.await(answer)))
      yield* Effect.yieldNow()
      const judged = yield* Effect.fork(own.notOwn(updated(ai("4"), ai("5"))))
      yield* Effect.yieldNow()
      expect(judged.unsafePoll()).toBeNull()
      yield* Deferred.succeed(answer, ai("5"))
      yield* Fiber.join(writing)
      expect(yield* Fiber.join(judged)).toBe(false)
    })
  )

  it.effect("a failed write remembers nothing; deletions always wake; the record is bounded", () =>
    Effect.gen(function* () {
      const own = makeOwnWrites(2)
      const failed = yield* Effect.either(own.track("ApplicationInstance", "ns/a", Effect.fail("conflict")))
      expect(failed._tag).toBe("Left")
      expect(yield* own.notOwn({ type: "added", object: ai("1") })).toBe(true)
      yield* write(own, ai("1"))
      expect(yield* own.notOwn({ type: "deleted", object: ai("1") })).toBe(true)
      yield* write(own, ai("2"))
      yield* write(own, ai("3"))
      // "1" was evicted by the newer writes.
      expect(yield* own.notOwn({ type: "added", object: ai("1") })).toBe(true)
      expect(yield* own.notOwn({ type: "added", object: ai("3") })).toBe(false)
    })
  )
})
