/** The informer's reconnect policy, with an in-memory KubeApi Layer under TestClock. */
import { describe, expect, it } from "@effect/vitest"
import { Clock, Duration, Effect, Layer, Ref, Stream, TestClock } from "effect"
import { Transport } from "../../src/kube/errors.js"
import { makeInformer } from "../../src/kube/informer.js"
import { KubeApi, type KubeApiService, type WatchEvent } from "../../src/kube/KubeApi.js"
import { Resources } from "../../src/kube/resources.js"

const unused = Effect.dieMessage("not used by the informer")

/** A KubeApi with an empty list whose every watch is `watch(n)` for the n-th call; records call times. */
const fakeApi = (calls: Ref.Ref<ReadonlyArray<number>>, watch: (n: number) => Stream.Stream<WatchEvent, Transport>) =>
  Layer.succeed(KubeApi, {
    get: () => unused,
    list: () => Effect.succeed({ items: [], resourceVersion: "1" }),
    watch: () =>
      Stream.unwrap(
        Effect.gen(function* () {
          const now = yield* Clock.currentTimeMillis
          const before = yield* Ref.getAndUpdate(calls, (ts) => [...ts, now])
          return watch(before.length)
        })
      ),
    create: () => unused,
    apply: () => unused,
    applyStatus: () => unused,
    patch: () => unused,
    delete: () => unused,
    version: unused
  } satisfies KubeApiService)

const gapsOf = (ts: ReadonlyArray<number>) => ts.slice(1).map((t, i) => t - (ts[i] ?? 0))

const bookmark: WatchEvent = { type: "BOOKMARK", object: { apiVersion: "v1", kind: "ConfigMap", metadata: { resourceVersion: "2" } } }

describe("informer reconnects", () => {
  it.scoped("back off exponentially with jitter from 0.8 s up to 30 s while watches fail", () =>
    Effect.gen(function* () {
      const calls = yield* Ref.make<ReadonlyArray<number>>([])
      const informer = yield* makeInformer(Resources.ConfigMap).pipe(
        Effect.provide(fakeApi(calls, () => Stream.fail(new Transport({ message: "connection reset" }))))
      )
      yield* informer.synced
      yield* TestClock.adjust(Duration.minutes(3))
      const gaps = gapsOf(yield* Ref.get(calls))
      const expected = [800, 1600, 3200, 6400, 12800, 25600]
      expected.forEach((base, i) => {
        expect(gaps[i]).toBeGreaterThanOrEqual(base * 0.8)
        expect(gaps[i]).toBeLessThanOrEqual(base * 1.2)
      })
      expect(gaps.slice(expected.length).length).toBeGreaterThan(0)
      for (const gap of gaps.slice(expected.length)) expect(gap).toBeCloseTo(30_000, 6)
    }))

  it.scoped("reset the backoff after a watch that delivered events", () =>
    Effect.gen(function* () {
      const calls = yield* Ref.make<ReadonlyArray<number>>([])
      // Three failing watches, then one with a bookmark, then failing again.
      const failing = Stream.fail(new Transport({ message: "connection reset" }))
      const informer = yield* makeInformer(Resources.ConfigMap).pipe(
        Effect.provide(fakeApi(calls, (n) => (n === 3 ? Stream.concat(Stream.make(bookmark), failing) : failing)))
      )
      yield* informer.synced
      yield* TestClock.adjust(Duration.seconds(20))
      const gaps = gapsOf(yield* Ref.get(calls))
      // 0.8, 1.6, 3.2, then the healthy watch reconnects at once, then 0.8 again.
      expect(gaps[2]).toBeGreaterThanOrEqual(3200 * 0.8)
      expect(gaps[3]).toBe(0)
      expect(gaps[4]).toBeGreaterThanOrEqual(800 * 0.8)
      expect(gaps[4]).toBeLessThanOrEqual(800 * 1.2)
    }))
})
