import { describe, expect, layer } from "@effect/vitest"
import { Deferred, Duration, Effect, Layer, Option, Ref, Schedule, Stream } from "effect"
import { Gone } from "../../src/kube/errors.js"
import { type Informer, type InformerEvent, type InformerMetrics, makeInformer } from "../../src/kube/informer.js"
import { KubeApi } from "../../src/kube/KubeApi.js"
import { KubeApiLive } from "../../src/kube/KubeApiLive.js"
import type { KubeObject } from "../../src/kube/object.js"
import { Resources } from "../../src/kube/resources.js"
import { createTestNamespace, kubeconfigPath } from "../support/cluster.js"

const Live = KubeApiLive.fromKubeconfigFile(kubeconfigPath())

const configMap = (
  namespace: string,
  name: string,
  data: Record<string, string>,
  extra: { labels?: Record<string, string>; ownerUid?: string } = {}
): KubeObject => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: {
    namespace,
    name,
    ...(extra.labels === undefined ? {} : { labels: extra.labels }),
    ...(extra.ownerUid === undefined
      ? {}
      : // The garbage collector runs: an owner that does not exist would delete the child. The
        // namespace is a real, cluster-scoped owner.
        { ownerReferences: [{ apiVersion: "v1", kind: "Namespace", name: namespace, uid: extra.ownerUid }] })
  },
  data
})

/** Retries `check` until it succeeds, for at most `within`; fails with its last error. */
const eventually = <A, E, R>(check: Effect.Effect<A, E, R>, within: Duration.DurationInput = Duration.seconds(20)) =>
  Effect.retry(check, Schedule.spaced(Duration.millis(50)).pipe(Schedule.upTo(within)))

const check = (assertion: () => void) =>
  Effect.try({ try: assertion, catch: (e) => e })

/** Counts what the informer reports to its metrics hooks. */
const metricsRecorder = () => {
  const counts = { relisted: 0, gone: 0, reconnected: 0, cacheSize: -1 }
  const metrics: InformerMetrics = {
    relisted: () => void counts.relisted++,
    gone: () => void counts.gone++,
    reconnected: () => void counts.reconnected++,
    cacheSize: (_, size) => void (counts.cacheSize = size)
  }
  return { counts, metrics }
}

/** Subscribes and records every event as `type name`, plus the events themselves. */
const record = (informer: Informer) =>
  Effect.gen(function* () {
    const events = yield* Ref.make<ReadonlyArray<InformerEvent>>([])
    yield* informer.subscribe((e) => Ref.update(events, (es) => [...es, e]))
    const summary = Effect.map(Ref.get(events), (es) => es.map((e) => `${e.type} ${e.object.metadata.name ?? ""}`))
    return { events, summary }
  })

const fastBackoff = { initial: Duration.millis(50), max: Duration.seconds(1) }

layer(Live, { excludeTestServices: true })("Informer against a real API server", (it) => {
  it.scoped("syncs, then follows creates, updates and deletes into an indexed cache without managedFields", () =>
    Effect.gen(function* () {
      const api = yield* KubeApi
      const ns = yield* createTestNamespace("informer")
      const ownerUid = (yield* api.get(Resources.Namespace, ns)).metadata.uid ?? ""
      yield* api.apply(Resources.ConfigMap, configMap(ns, "before", { v: "0" }), { fieldManager: "test" })

      const { counts, metrics } = metricsRecorder()
      const informer = yield* makeInformer(Resources.ConfigMap, { namespace: ns, metrics, backoff: fastBackoff })
      const { events, summary } = yield* record(informer)
      yield* informer.synced.pipe(Effect.timeout(Duration.seconds(20)))
      expect(yield* informer.hasSynced).toBe(true)
      const before = yield* informer.cache.get(`${ns}/before`)
      expect(Option.isSome(before)).toBe(true)
      expect(Option.getOrThrow(before).metadata.managedFields).toBeUndefined()

      yield* api.apply(Resources.ConfigMap, configMap(ns, "a", { v: "1" }, { labels: { app: "web" } }), { fieldManager: "test" })
      yield* api.apply(Resources.ConfigMap, configMap(ns, "b", { v: "1" }, { ownerUid }), {
        fieldManager: "test"
      })
      yield* api.apply(Resources.ConfigMap, configMap(ns, "a", { v: "2" }, { labels: { app: "web" } }), { fieldManager: "test" })
      yield* api.delete(Resources.ConfigMap, "b", ns)

      yield* eventually(
        Effect.gen(function* () {
          const a = yield* informer.cache.get(`${ns}/a`)
          const b = yield* informer.cache.get(`${ns}/b`)
          yield* check(() => {
            expect(Option.map(a, (o) => o["data"])).toEqual(Option.some({ v: "2" }))
            expect(Option.isNone(b)).toBe(true)
          })
        })
      )
      yield* eventually(
        Effect.flatMap(summary, (s) =>
          check(() => expect(s).toEqual(["added before", "added a", "added b", "updated a", "deleted b"]))
        )
      )
      const updated = (yield* Ref.get(events)).find((e) => e.type === "updated")
      expect(updated?.old?.["data"]).toEqual({ v: "1" })
      expect(updated?.object["data"]).toEqual({ v: "2" })
      expect(updated?.object.metadata.managedFields).toBeUndefined()

      expect((yield* informer.cache.byLabel("app", "web")).map((o) => o.metadata.name)).toEqual(["a"])
      expect(yield* informer.cache.byOwner(ownerUid)).toEqual([])
      expect((yield* informer.cache.list(ns)).map((o) => o.metadata.name).sort()).toEqual(["a", "before"])
      expect((yield* informer.cache.list()).every((o) => o.metadata.managedFields === undefined)).toBe(true)
      expect(counts.cacheSize).toBe(2)
      expect(counts.relisted).toBe(0)
    }))

  it.scoped("indexes owner references as they arrive", () =>
    Effect.gen(function* () {
      const api = yield* KubeApi
      const ns = yield* createTestNamespace("informer-owner")
      const ownerUid = (yield* api.get(Resources.Namespace, ns)).metadata.uid ?? ""
      const informer = yield* makeInformer(Resources.ConfigMap, { namespace: ns, backoff: fastBackoff })
      yield* informer.synced
      yield* api.apply(Resources.ConfigMap, configMap(ns, "child", {}, { ownerUid }), { fieldManager: "test" })
      yield* eventually(
        Effect.flatMap(informer.cache.byOwner(ownerUid), (children) =>
          check(() => expect(children.map((o) => o.metadata.name)).toEqual(["child"]))
        )
      )
    }))

  it.scoped("a late subscriber first gets every cached object as added", () =>
    Effect.gen(function* () {
      const api = yield* KubeApi
      const ns = yield* createTestNamespace("informer-late")
      yield* api.create(Resources.ConfigMap, configMap(ns, "one", {}))
      yield* api.create(Resources.ConfigMap, configMap(ns, "two", {}))
      const informer = yield* makeInformer(Resources.ConfigMap, { namespace: ns, backoff: fastBackoff })
      yield* informer.synced
      const { summary } = yield* record(informer)
      yield* api.create(Resources.ConfigMap, configMap(ns, "three", {}))
      yield* eventually(
        Effect.flatMap(summary, (s) =>
          check(() => {
            expect(s.slice(0, 2).sort()).toEqual(["added one", "added two"])
            expect(s.slice(2)).toEqual(["added three"])
          })
        )
      )
    }))

  it.scoped("after a 410 it relists, and reports what changed meanwhile, deletions included", () =>
    Effect.gen(function* () {
      const api = yield* KubeApi
      const ns = yield* createTestNamespace("informer-gone")
      yield* api.create(Resources.ConfigMap, configMap(ns, "keep", { v: "1" }))
      yield* api.create(Resources.ConfigMap, configMap(ns, "doomed", { v: "1" }))

      // A KubeApi whose first watch stalls until the gate opens and then fails with Gone, as an
      // API server does once the informer's resourceVersion has been compacted away.
      const gate = yield* Deferred.make<void>()
      const goneOnce = Layer.effect(
        KubeApi,
        Effect.map(KubeApi, (live) => {
          let watches = 0
          return {
            ...live,
            watch: (type, options) =>
              watches++ === 0
                ? Stream.fromEffect(
                    Deferred.await(gate).pipe(Effect.zipRight(Effect.fail(new Gone({ message: "too old resource version" }))))
                  )
                : live.watch(type, options)
          }
        })
      )
      const { counts, metrics } = metricsRecorder()
      const informer = yield* makeInformer(Resources.ConfigMap, { namespace: ns, metrics, backoff: fastBackoff }).pipe(
        Effect.provide(goneOnce)
      )
      const { events, summary } = yield* record(informer)
      yield* informer.synced

      // While the informer is not watching:
      yield* api.delete(Resources.ConfigMap, "doomed", ns)
      yield* api.create(Resources.ConfigMap, configMap(ns, "fresh", { v: "1" }))
      yield* api.patch(Resources.ConfigMap, "keep", ns, "merge", { data: { v: "2" } })
      yield* Deferred.succeed(gate, undefined)

      yield* eventually(
        Effect.flatMap(summary, (s) =>
          check(() => {
            expect(s.slice(0, 2).sort()).toEqual(["added doomed", "added keep"])
            expect(s.slice(2).sort()).toEqual(["added fresh", "deleted doomed", "updated keep"])
          })
        )
      )
      const deleted = (yield* Ref.get(events)).find((e) => e.type === "deleted")
      expect(deleted?.object.metadata.name).toBe("doomed")
      expect((yield* informer.cache.list()).map((o) => o.metadata.name).sort()).toEqual(["fresh", "keep"])
      expect(Option.map(yield* informer.cache.get(`${ns}/keep`), (o) => o["data"])).toEqual(Option.some({ v: "2" }))
      expect(counts).toMatchObject({ gone: 1, relisted: 1, cacheSize: 2 })

      // And it keeps watching after the relist.
      yield* api.delete(Resources.ConfigMap, "keep", ns)
      yield* eventually(
        Effect.flatMap(informer.cache.get(`${ns}/keep`), (o) => check(() => expect(Option.isNone(o)).toBe(true)))
      )
    }))

  it.scoped("a silent connection is dropped after the idle timeout and resumed without missing changes", () =>
    Effect.gen(function* () {
      const api = yield* KubeApi
      const ns = yield* createTestNamespace("informer-idle")
      const { counts, metrics } = metricsRecorder()
      const informer = yield* makeInformer(Resources.ConfigMap, {
        namespace: ns,
        metrics,
        backoff: fastBackoff,
        watchTimeoutSeconds: 120,
        idleTimeout: Duration.millis(300)
      })
      yield* informer.synced
      yield* eventually(check(() => expect(counts.reconnected).toBeGreaterThanOrEqual(2)))
      yield* api.create(Resources.ConfigMap, configMap(ns, "late", {}))
      yield* eventually(
        Effect.flatMap(informer.cache.get(`${ns}/late`), (o) => check(() => expect(Option.isSome(o)).toBe(true)))
      )
      // Resumed from its resourceVersion each time: no relist was needed.
      expect(counts.relisted).toBe(0)
    }))

  describe("scope", () => {
    it.scoped("closing the informer's scope stops its subscribers", () =>
      Effect.gen(function* () {
        const api = yield* KubeApi
        const ns = yield* createTestNamespace("informer-stop")
        const received = yield* Ref.make(0)
        yield* Effect.scoped(
          Effect.gen(function* () {
            const informer = yield* makeInformer(Resources.ConfigMap, { namespace: ns, backoff: fastBackoff })
            yield* informer.subscribe(() => Ref.update(received, (n) => n + 1))
            yield* informer.synced
            yield* api.create(Resources.ConfigMap, configMap(ns, "seen", {}))
            yield* eventually(Effect.flatMap(Ref.get(received), (n) => check(() => expect(n).toBe(1))))
          })
        )
        // A second informer proves the change below is delivered; the closed one must not see it.
        const witness = yield* makeInformer(Resources.ConfigMap, { namespace: ns, backoff: fastBackoff })
        yield* api.create(Resources.ConfigMap, configMap(ns, "unseen", {}))
        yield* eventually(
          Effect.flatMap(witness.cache.get(`${ns}/unseen`), (o) => check(() => expect(Option.isSome(o)).toBe(true)))
        )
        expect(yield* Ref.get(received)).toBe(1)
      }))
  })
})
