import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Fiber, Option, TestClock } from "effect"
import { makeMetrics, type MetricsService } from "../../src/observability/metrics.js"
import * as WorkQueue from "../../src/runtime/workQueue.js"

const setup = Effect.gen(function* () {
  const metrics = makeMetrics({ processMetrics: false })
  const queue = yield* WorkQueue.make({ name: "q", metrics: metrics.workQueue("q") })
  return { metrics, queue }
})

/** The value of one series of the registry, read from the exposition text. */
const seriesValue = (metrics: MetricsService, series: string) =>
  Effect.map(metrics.render, (text) => {
    const line = text.split("\n").find((l) => l.startsWith(`${series} `))
    return line === undefined ? undefined : Number(line.slice(series.length + 1))
  })

const getSome = (queue: WorkQueue.WorkQueue) => Effect.map(queue.get, Option.getOrThrow)

describe("WorkQueue", () => {
  it.scoped("deduplicates adds of a queued key", () =>
    Effect.gen(function* () {
      const { metrics, queue } = yield* setup
      yield* queue.add("ns/a")
      yield* queue.add("ns/a")
      yield* queue.add("ns/b")
      yield* queue.add("ns/a")
      expect(yield* queue.depth).toBe(2)
      expect(yield* getSome(queue)).toBe("ns/a")
      expect(yield* getSome(queue)).toBe("ns/b")
      expect(yield* queue.depth).toBe(0)
      expect(yield* seriesValue(metrics, 'workqueue_adds_total{name="q"}')).toBe(2)
      expect(yield* seriesValue(metrics, 'workqueue_depth{name="q"}')).toBe(0)
    })
  )

  it.scoped("never hands out a key that is being processed; adds meanwhile cause exactly one more get", () =>
    Effect.gen(function* () {
      const { queue } = yield* setup
      yield* queue.add("a")
      expect(yield* getSome(queue)).toBe("a")
      yield* queue.add("a")
      yield* queue.add("a")
      yield* queue.add("a")
      // Dirty, but not handed out while "a" is processing.
      expect(yield* queue.depth).toBe(0)
      const waiting = yield* Effect.fork(queue.get)
      yield* queue.add("b")
      expect(yield* Fiber.join(waiting)).toEqual(Option.some("b"))
      yield* queue.done("a")
      expect(yield* queue.depth).toBe(1)
      expect(yield* getSome(queue)).toBe("a")
      yield* queue.done("a")
      yield* queue.done("b")
      expect(yield* queue.depth).toBe(0)
    })
  )

  it.scoped("addAfter: the key becomes ready at its time, and the earliest pending time wins", () =>
    Effect.gen(function* () {
      const { queue } = yield* setup
      yield* queue.addAfter("a", "10 seconds")
      yield* queue.addAfter("a", "5 seconds")
      yield* queue.addAfter("a", "20 seconds")
      yield* TestClock.adjust("4999 millis")
      expect(yield* queue.depth).toBe(0)
      yield* TestClock.adjust("1 millis")
      expect(yield* getSome(queue)).toBe("a")
      yield* queue.done("a")
      // The 10 s and 20 s requests were superseded by the 5 s one.
      yield* TestClock.adjust("30 seconds")
      expect(yield* queue.depth).toBe(0)
    })
  )

  it.scoped("failure backoff starts near 5 ms, doubles, caps at 1000 s and resets on forget", () =>
    Effect.gen(function* () {
      const { metrics, queue } = yield* setup
      const jitter = WorkQueue.defaultBackoff.jitter
      const delays: Array<number> = []
      for (let i = 0; i < 30; i++) {
        delays.push(Duration.toMillis(yield* queue.addRateLimited("a")))
      }
      delays.forEach((d, i) => {
        const nominal = Math.min(5 * 2 ** i, 1_000_000)
        expect(d).toBeLessThanOrEqual(nominal)
        expect(d).toBeGreaterThanOrEqual(nominal * (1 - jitter))
      })
      expect(delays[0]).toBeLessThanOrEqual(5)
      expect(Math.max(...delays)).toBeLessThanOrEqual(1_000_000)
      expect(delays[29]).toBeGreaterThanOrEqual(900_000)
      expect(yield* queue.numRequeues("a")).toBe(30)
      expect(yield* seriesValue(metrics, 'workqueue_retries_total{name="q"}')).toBe(30)

      yield* queue.forget("a")
      expect(yield* queue.numRequeues("a")).toBe(0)
      const afterReset = Duration.toMillis(yield* queue.addRateLimited("a"))
      expect(afterReset).toBeLessThanOrEqual(5)
      expect(afterReset).toBeGreaterThanOrEqual(5 * (1 - jitter))
    })
  )

  it.scoped("a rate-limited add becomes ready only after its backoff delay", () =>
    Effect.gen(function* () {
      const { queue } = yield* setup
      for (let i = 0; i < 4; i++) {
        const delay = Duration.toMillis(yield* queue.addRateLimited("a"))
        yield* TestClock.adjust(Duration.millis(delay / 2))
        expect(yield* queue.depth).toBe(0)
        yield* TestClock.adjust(Duration.millis(delay))
        expect(yield* getSome(queue)).toBe("a")
        yield* queue.done("a")
      }
      expect(yield* queue.numRequeues("a")).toBe(4)
    })
  )

  it.scoped("plain adds do not escalate the backoff", () =>
    Effect.gen(function* () {
      const { queue } = yield* setup
      yield* queue.addRateLimited("a")
      yield* queue.addRateLimited("a")
      yield* queue.addRateLimited("a")
      for (let i = 0; i < 5; i++) {
        yield* queue.add("a")
        expect(yield* getSome(queue)).toBe("a")
        yield* queue.done("a")
      }
      expect(yield* queue.numRequeues("a")).toBe(3)
      const next = Duration.toMillis(yield* queue.addRateLimited("a"))
      expect(next).toBeLessThanOrEqual(40)
      expect(next).toBeGreaterThanOrEqual(40 * (1 - WorkQueue.defaultBackoff.jitter))
    })
  )

  it.scoped("records how long a key waited between add and get", () =>
    Effect.gen(function* () {
      const { metrics, queue } = yield* setup
      yield* queue.add("a")
      expect(yield* seriesValue(metrics, 'workqueue_depth{name="q"}')).toBe(1)
      yield* TestClock.adjust("2 seconds")
      yield* getSome(queue)
      expect(yield* seriesValue(metrics, 'workqueue_queue_duration_seconds_sum{name="q"}')).toBe(2)
      expect(yield* seriesValue(metrics, 'workqueue_queue_duration_seconds_count{name="q"}')).toBe(1)
    })
  )

  it.scoped("shutdown releases blocked getters, ignores adds and drops delayed adds", () =>
    Effect.gen(function* () {
      const { queue } = yield* setup
      yield* queue.addAfter("late", "1 second")
      const blocked = yield* Effect.fork(queue.get)
      yield* queue.shutdown
      expect(yield* Fiber.join(blocked)).toEqual(Option.none())
      yield* queue.add("a")
      yield* TestClock.adjust("2 seconds")
      expect(yield* queue.depth).toBe(0)
      expect(yield* queue.get).toEqual(Option.none())
    })
  )
})
