import { describe, expect, it } from "vitest"
import { canonicalJson } from "../../src/connectivity/pull/canonicalJson.js"
import { compact, hashKey, serialise } from "../../src/connectivity/pull/idempotencyStore.js"
import { objectKeyOf } from "../../src/connectivity/pull/applier.js"

describe("canonicalJson", () => {
  it("sorts keys at every depth, keeps array order, writes no whitespace", () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: "é\n" } })).toBe('{"a":{"c":"é\\n","d":[3,{"y":2,"z":1}]},"b":1}')
  })
  it("is independent of key order", () => {
    expect(canonicalJson({ x: 1, y: [true, null] })).toBe(canonicalJson({ y: [true, null], x: 1 }))
  })
})

describe("idempotency store compaction", () => {
  it("drops expired entries, then the oldest above the cap, and stays small after 100,000 keys", () => {
    let entries = new Map<string, number>()
    for (let i = 0; i < 100_000; i++) {
      entries.set(hashKey(`configmap/ns/cm-${i}@1`), 1_000_000 + Math.floor(i / 100))
      if (i % 1000 === 999) entries = compact(entries, 1_000_000 + Math.floor(i / 100), 7 * 86400, 5000)
    }
    expect(entries.size).toBe(5000)
    // The newest survive.
    expect(entries.has(hashKey("configmap/ns/cm-99999@1"))).toBe(true)
    expect(entries.has(hashKey("configmap/ns/cm-0@1"))).toBe(false)
    expect(Buffer.byteLength(serialise(entries))).toBeLessThan(256 * 1024)
    const expired = compact(new Map([["a", 0], ["b", 100]]), 200, 150, 10)
    expect([...expired.keys()]).toEqual(["b"])
  }, 60_000)
})

describe("objectKeyOf", () => {
  it("names the object a job acts on, so jobs for it keep their order", () => {
    const cm = { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "a", namespace: "n" } }
    expect(objectKeyOf("apply", cm)).toBe("v1/ConfigMap/n/a")
    expect(objectKeyOf("delete", { apiVersion: "v1", kind: "ConfigMap", name: "a", namespace: "n" })).toBe("v1/ConfigMap/n/a")
    expect(objectKeyOf("intent", { intent: "delete-application-instance", name: "x", namespace: "n" })).toBe(
      objectKeyOf("intent", { intent: "ensure-application-instance", applicationInstance: { metadata: { name: "x", namespace: "n" } } })
    )
    expect(objectKeyOf("apply", 5)).toBeUndefined()
  })
})
