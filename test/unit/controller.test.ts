import { describe, expect, it } from "@effect/vitest"
import { Clock, Data, Deferred, Duration, Effect, LogLevel, Option, Queue, Ref, Stream, TestClock } from "effect"
import { Metrics, makeMetrics, type MetricsService } from "../../src/observability/metrics.js"
import * as Log from "../../src/observability/logger.js"
import { Controller, ReconcileResult, TerminalError } from "../../src/runtime/controller.js"
import { defaultBackoff } from "../../src/runtime/workQueue.js"
import type { Informer, InformerMetrics } from "../../src/kube/informer.js"
import type { KubeObject } from "../../src/kube/object.js"
import { Resources } from "../../src/kube/resources.js"
import type { SyncedCache } from "../../src/runtime/manager.js"
import {
  keysFromEvents,
  keysOf,
  type ObjectEvent,
  ownerKeyFromLabel,
  ownerKeyFromRefs,
  type Subscribable
} from "../../src/runtime/sources.js"

// The runtime depends on small interfaces of its own; the real informer must satisfy them.
const informerIsSubscribable = (informer: Informer): Subscribable => informer
const informerIsSyncedCache = (informer: Informer): SyncedCache => informer
const metricsFitInformer = (metrics: MetricsService): InformerMetrics => metrics.informer
void informerIsSubscribable
void informerIsSyncedCache
void metricsFitInformer

class Boom extends Data.TaggedError("Boom")<{ readonly message: string }> {}

/** No jitter, so every retry time is exact. */
const exactBackoff = { ...defaultBackoff, jitter: 0 }

/**
 * A key source the test drives. `sync` returns once every key fed before it has been added to
 * the controller's queue: the stream is pulled one element at a time, so the marker is reached
 * only after the previous keys went through `queue.add`.
 */
const makeFeed = Effect.gen(function* () {
  type Command = { readonly key: string } | { readonly synced: Deferred.Deferred<void> }
  const commands = yield* Queue.unbounded<Command>()
  const source = Stream.fromQueue(commands, { maxChunkSize: 1 }).pipe(
    Stream.mapEffect((c) =>
      "key" in c ? Effect.succeed(Option.some(c.key)) : Effect.as(Deferred.succeed(c.synced, undefined), Option.none())
    ),
    Stream.filterMap((key) => key)
  )
  const feed = (...keys: Array<string>) => Queue.offerAll(commands, keys.map((key) => ({ key })))
  const sync = Effect.gen(function* () {
    const synced = yield* Deferred.make<void>()
    yield* Queue.offer(commands, { synced })
    yield* Deferred.await(synced)
  })
  return { source, feed, sync }
})

interface Run {
  readonly key: string
  readonly at: number
}

/** Starts a controller in the test's scope with a fresh metrics registry. */
const start = <E>(options: {
  readonly reconcile: (key: string) => Effect.Effect<ReconcileResult, E>
  readonly maxConcurrentReconciles?: number
}) =>
  Effect.gen(function* () {
    const { source, feed, sync } = yield* makeFeed
    const metrics = makeMetrics({ processMetrics: false })
    const controller = Controller.make({
      name: "test",
      reconcile: options.reconcile,
      sources: [source],
      backoff: exactBackoff,
      ...(options.maxConcurrentReconciles ? { maxConcurrentReconciles: options.maxConcurrentReconciles } : {})
    })
    yield* Effect.forkScoped(Effect.provideService(controller.run, Metrics, metrics))
    return { feed, sync, metrics }
  })

/** A reconcile that reports each run (key and TestClock time) on a queue, then applies `then`. */
const recording = Effect.gen(function* () {
  const runs = yield* Queue.unbounded<Run>()
  const record = (key: string) =>
    Effect.flatMap(Clock.currentTimeMillis, (at) => Queue.offer(runs, { key, at }))
  return { runs, record }
})

const seriesValue = (metrics: MetricsService, series: string) =>
  Effect.map(metrics.render, (text) => {
    const line = text.split("\n").find((l) => l.startsWith(`${series} `))
    return line === undefined ? 0 : Number(line.slice(series.length + 1))
  })

describe("Controller", () => {
  it.scoped("dedupes queued adds; adds during a run cause exactly one more run", () =>
    Effect.gen(function* () {
      const { runs, record } = yield* recording
      const gate = yield* Deferred.make<void>()
      const { feed, sync } = yield* start({
        maxConcurrentReconciles: 1,
        reconcile: (key) =>
          record(key).pipe(
            Effect.zipRight(key === "gate" ? Deferred.await(gate) : Effect.void),
            Effect.as(ReconcileResult.done)
          )
      })
      yield* feed("gate")
      expect((yield* Queue.take(runs)).key).toBe("gate")
      // While "gate" blocks the only worker: three adds of "a" (queued once) and three of "gate"
      // (marked dirty once).
      yield* feed("a", "gate", "a", "gate", "a", "gate")
      yield* sync
      yield* Deferred.succeed(gate, undefined)
      yield* feed("sentinel")
      const keys: Array<string> = []
      while (keys.at(-1) !== "sentinel") keys.push((yield* Queue.take(runs)).key)
      expect(keys).toEqual(["a", "gate", "sentinel"])
    })
  )

  it.scoped("never reconciles one key on two workers at once", () =>
    Effect.gen(function* () {
      const inFlight = yield* Ref.make(new Map<string, number>())
      const maxInFlight = yield* Ref.make(0)
      const entered = yield* Queue.unbounded<string>()
      const permits = {
        a: yield* Queue.unbounded<void>(),
        b: yield* Queue.unbounded<void>(),
        c: yield* Queue.unbounded<void>()
      }
      const { feed, sync } = yield* start({
        maxConcurrentReconciles: 4,
        reconcile: (key) =>
          Effect.gen(function* () {
            const now = yield* Ref.modify(inFlight, (m) => {
              const n = (m.get(key) ?? 0) + 1
              return [n, new Map(m).set(key, n)]
            })
            yield* Ref.update(maxInFlight, (max) => Math.max(max, now))
            yield* Queue.offer(entered, key)
            // Each run waits for a permit of its own key.
            yield* Queue.take(permits[key as keyof typeof permits])
            yield* Ref.update(inFlight, (m) => new Map(m).set(key, (m.get(key) ?? 1) - 1))
            return ReconcileResult.done
          })
      })
      yield* feed("a")
      expect(yield* Queue.take(entered)).toBe("a")
      yield* feed("a", "a", "a", "b", "c")
      yield* sync
      // Free workers took b and c, but not a second "a".
      expect([yield* Queue.take(entered), yield* Queue.take(entered)].sort()).toEqual(["b", "c"])
      expect(yield* Queue.size(entered)).toBe(0)
      yield* Queue.offer(permits.b, undefined)
      yield* Queue.offer(permits.c, undefined)
      yield* Queue.offer(permits.a, undefined)
      expect(yield* Queue.take(entered)).toBe("a")
      yield* Queue.offer(permits.a, undefined)
      expect(yield* Ref.get(maxInFlight)).toBe(1)
    })
  )

  it.scoped("maxConcurrentReconciles bounds parallelism", () =>
    Effect.gen(function* () {
      const active = yield* Ref.make(0)
      const maxActive = yield* Ref.make(0)
      const entered = yield* Queue.unbounded<string>()
      const permits = yield* Queue.unbounded<void>()
      const { feed } = yield* start({
        maxConcurrentReconciles: 3,
        reconcile: (key) =>
          Effect.gen(function* () {
            const now = yield* Ref.updateAndGet(active, (n) => n + 1)
            yield* Ref.update(maxActive, (max) => Math.max(max, now))
            yield* Queue.offer(entered, key)
            yield* Queue.take(permits)
            yield* Ref.update(active, (n) => n - 1)
            return ReconcileResult.done
          })
      })
      const keys = Array.from({ length: 10 }, (_, i) => `ns/k${i}`)
      yield* feed(...keys)
      const seen: Array<string> = []
      for (let i = 0; i < 3; i++) seen.push(yield* Queue.take(entered))
      for (let i = 3; i < keys.length; i++) {
        yield* Queue.offer(permits, undefined)
        seen.push(yield* Queue.take(entered))
      }
      yield* Queue.offerAll(permits, [undefined, undefined, undefined])
      expect(seen.sort()).toEqual([...keys].sort())
      expect(yield* Ref.get(maxActive)).toBe(3)
    })
  )

  it.scoped("errors back off exponentially from 5 ms to a 1000 s cap; success resets the backoff", () =>
    Effect.gen(function* () {
      const { runs, record } = yield* recording
      const healthy = yield* Ref.make(false)
      const { feed, metrics } = yield* start({
        reconcile: (key) =>
          record(key).pipe(
            Effect.zipRight(Ref.get(healthy)),
            Effect.flatMap((ok) => (ok ? Effect.succeed(ReconcileResult.done) : Effect.fail(new Boom({ message: "no" }))))
          )
      })
      yield* feed("ns/a")
      let last = (yield* Queue.take(runs)).at
      const delays: Array<number> = []
      for (let failures = 1; failures <= 20; failures++) {
        const expected = Math.min(5 * 2 ** (failures - 1), 1_000_000)
        yield* TestClock.adjust(Duration.millis(expected))
        const run = yield* Queue.take(runs)
        delays.push(run.at - last)
        last = run.at
      }
      expect(delays.slice(0, 4)).toEqual([5, 10, 20, 40])
      expect(delays.at(-1)).toBe(1_000_000)
      expect(Math.max(...delays)).toBe(1_000_000)
      expect(yield* seriesValue(metrics, 'controller_runtime_reconcile_errors_total{controller="test"}')).toBe(21)
      expect(yield* seriesValue(metrics, 'workqueue_retries_total{name="test"}')).toBe(21)

      // The 21st retry is due in 1000 s; let it succeed, then break again: back to 5 ms.
      yield* Ref.set(healthy, true)
      yield* TestClock.adjust("1000 seconds")
      last = (yield* Queue.take(runs)).at
      yield* Ref.set(healthy, false)
      yield* feed("ns/a")
      expect((yield* Queue.take(runs)).at).toBe(last)
      yield* TestClock.adjust("5 millis")
      expect((yield* Queue.take(runs)).at).toBe(last + 5)
      expect(
        yield* seriesValue(metrics, 'controller_runtime_reconcile_total{controller="test",result="success"}')
      ).toBe(1)
    })
  )

  it.scoped("event-triggered adds do not escalate the backoff", () =>
    Effect.gen(function* () {
      const { runs, record } = yield* recording
      const gate = yield* Deferred.make<void>()
      const { feed, sync } = yield* start({
        reconcile: (key) =>
          record(key).pipe(
            Effect.zipRight(Deferred.await(gate)),
            Effect.zipRight(Effect.fail(new Boom({ message: "still broken" })))
          )
      })
      yield* feed("a")
      yield* Queue.take(runs)
      // Ten events while the first (failing) run is in progress ...
      yield* feed(...Array.from({ length: 10 }, () => "a"))
      yield* sync
      yield* Deferred.succeed(gate, undefined)
      // ... collapse into one immediate rerun; the failure count grows per run, not per event.
      const times = [0, (yield* Queue.take(runs)).at]
      yield* TestClock.adjust("5 millis")
      times.push((yield* Queue.take(runs)).at)
      yield* TestClock.adjust("20 millis")
      times.push((yield* Queue.take(runs)).at)
      expect(times).toEqual([0, 0, 5, 25])
    })
  )

  it.scoped("requeueAfter schedules the next run and is counted as requeue_after", () =>
    Effect.gen(function* () {
      const { runs, record } = yield* recording
      const { feed, metrics } = yield* start({
        reconcile: (key) => record(key).pipe(Effect.as(ReconcileResult.requeueAfter("30 seconds")))
      })
      yield* feed("ns/poll")
      expect((yield* Queue.take(runs)).at).toBe(0)
      yield* TestClock.adjust("30 seconds")
      expect((yield* Queue.take(runs)).at).toBe(30_000)
      yield* TestClock.adjust("30 seconds")
      expect((yield* Queue.take(runs)).at).toBe(60_000)
      expect(
        yield* seriesValue(metrics, 'controller_runtime_reconcile_total{controller="test",result="requeue_after"}')
      ).toBeGreaterThanOrEqual(2)
    })
  )

  it.scoped("a TerminalError is counted and not retried", () =>
    Effect.gen(function* () {
      const { runs, record } = yield* recording
      const { feed, metrics } = yield* start({
        maxConcurrentReconciles: 1,
        reconcile: (key) =>
          record(key).pipe(
            Effect.zipRight(
              key === "ns/bad" ? Effect.fail(new TerminalError({ message: "spec is invalid" })) : Effect.void
            ),
            Effect.as(ReconcileResult.done)
          )
      })
      yield* feed("ns/bad")
      expect((yield* Queue.take(runs)).key).toBe("ns/bad")
      // Far past any backoff: a retry would now be queued ahead of the sentinel.
      yield* TestClock.adjust("2000 seconds")
      yield* feed("ns/sentinel")
      expect((yield* Queue.take(runs)).key).toBe("ns/sentinel")
      expect(yield* seriesValue(metrics, 'controller_runtime_terminal_reconcile_errors_total{controller="test"}')).toBe(1)
      expect(yield* seriesValue(metrics, 'controller_runtime_reconcile_errors_total{controller="test"}')).toBe(1)
      expect(yield* seriesValue(metrics, 'workqueue_retries_total{name="test"}')).toBe(0)
    })
  )

  it.scoped("every log line of a reconcile carries controller, reconcileID, namespace and name", () => {
    const lines: Array<string> = []
    const logLayer = Log.layer({ level: LogLevel.Info, destination: { write: (l: string) => void lines.push(l) } })
    return Effect.gen(function* () {
      const done = yield* Queue.unbounded<string>()
      const { feed } = yield* start({
        maxConcurrentReconciles: 1,
        reconcile: (key) =>
          Effect.gen(function* () {
            yield* Effect.logInfo("reconciling")
            if (key === "team-a/web") return yield* Effect.fail(new Boom({ message: "apply failed" }))
            return ReconcileResult.done
          }).pipe(Effect.ensuring(Queue.offer(done, key)))
      })
      yield* feed("team-a/web", "team-b/db")
      expect([yield* Queue.take(done), yield* Queue.take(done)]).toEqual(["team-a/web", "team-b/db"])
      // The error line of the failed run is written after its reconcile returns; the next run's
      // line proves it is out.
      yield* feed("team-c/last")
      yield* Queue.take(done)

      const records = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((r) => "reconcileID" in r)
      const web = records.filter((r) => r.name === "web")
      expect(web.map((r) => r.msg)).toEqual(["reconciling", "Reconciler error"])
      for (const r of web) expect(r).toMatchObject({ controller: "test", namespace: "team-a", name: "web" })
      expect(web[1]?.error).toContain("apply failed")
      expect(new Set(web.map((r) => r.reconcileID)).size).toBe(1)
      const db = records.find((r) => r.name === "db")
      expect(db).toMatchObject({ controller: "test", namespace: "team-b", msg: "reconciling" })
      expect(db?.reconcileID).toMatch(/^[0-9a-f-]{36}$/)
      expect(db?.reconcileID).not.toBe(web[0]?.reconcileID)
    }).pipe(Effect.provide(logLayer))
  })

  describe("key sources", () => {
    const child = (metadata: KubeObject["metadata"]): KubeObject => ({ apiVersion: "helm.toolkit.fluxcd.io/v2", kind: "HelmRelease", metadata })
    const ownerRef = (apiVersion: string, kind: string, name: string) => ({ apiVersion, kind, name, uid: `uid-${name}` })

    it("ownerKeyFromRefs maps a child to owners of the kind, in the child's namespace", () => {
      const object = child({
        name: "web",
        namespace: "team-a",
        ownerReferences: [
          ownerRef("apps.vworkspace.io/v1alpha1", "ApplicationInstance", "web"),
          ownerRef("v1", "ConfigMap", "unrelated"),
          ownerRef("other.example.com/v1", "ApplicationInstance", "impostor")
        ]
      })
      expect(ownerKeyFromRefs("ApplicationInstance")(object)).toEqual(["team-a/web", "team-a/impostor"])
      expect(ownerKeyFromRefs(Resources.ApplicationInstance)(object)).toEqual(["team-a/web"])
      // A cluster-scoped owner gets a cluster-scoped key.
      const secret = child({ name: "creds", namespace: "vworkspace-system", ownerReferences: [ownerRef("ops.vworkspace.io/v1alpha1", "Cluster", "local")] })
      expect(ownerKeyFromRefs(Resources.Cluster)(secret)).toEqual(["local"])
      expect(ownerKeyFromRefs("ApplicationInstance")(child({ name: "orphan", namespace: "team-a" }))).toEqual([])
    })

    it("ownerKeyFromLabel maps a child to the owner its label names", () => {
      const map = ownerKeyFromLabel("app.vworkspace.io/application-instance")
      expect(map(child({ name: "x", namespace: "team-a", labels: { "app.vworkspace.io/application-instance": "web" } }))).toEqual([
        "team-a/web"
      ])
      expect(map(child({ name: "x", namespace: "team-a", labels: {} }))).toEqual([])
    })

    it.effect("keysFromEvents wakes the owners of both the old and the new object", () =>
      Effect.gen(function* () {
        const label = "app.vworkspace.io/application-instance"
        const at = (owner: string): KubeObject => child({ name: "hr", namespace: "ns", labels: { [label]: owner } })
        const events: Array<ObjectEvent> = [
          { type: "added", object: at("one") },
          { type: "updated", object: at("two"), old: at("one") },
          { type: "updated", object: at("two"), old: at("two") },
          { type: "deleted", object: at("two") }
        ]
        const keys = yield* Stream.runCollect(keysFromEvents(Stream.fromIterable(events), ownerKeyFromLabel(label)))
        expect([...keys]).toEqual(["ns/one", "ns/two", "ns/one", "ns/two", "ns/two"])
      })
    )

    it.scoped("keysOf follows an informer's events and emits its objects' keys", () =>
      Effect.gen(function* () {
        const changes = yield* Queue.unbounded<ObjectEvent>()
        const informer: Subscribable = {
          subscribe: (handler) => Effect.asVoid(Effect.forkScoped(Stream.runForEach(Stream.fromQueue(changes), handler))),
          events: Stream.fromQueue(changes)
        }
        const keys = yield* Queue.unbounded<string>()
        yield* Effect.forkScoped(Stream.runForEach(keysOf(informer), (k) => Queue.offer(keys, k)))
        yield* Queue.offer(changes, { type: "added", object: child({ name: "web", namespace: "team-a" }) })
        expect(yield* Queue.take(keys)).toBe("team-a/web")
      })
    )
  })
})
