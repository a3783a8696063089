import { Clock, Deferred, Duration, Effect, Exit, FiberId, FiberMap, Option, Random, type Scope } from "effect"
import type { WorkQueueMetrics } from "../observability/metrics.js"

/**
 * A keyed work queue with client-go / controller-runtime semantics:
 * - adding a key that is already waiting is a no-op;
 * - a key handed out by `get` is not handed out again until `done`;
 * - adds while a key is processed mark it dirty, and it is queued exactly once more at `done`;
 * - `addAfter` delays an add (the earliest pending time wins);
 * - `addRateLimited` delays by a per-key exponential backoff that `forget` resets.
 *
 * State is mutable and changed only inside synchronous steps (fibers interleave between them,
 * never within), so no transaction is needed; a blocked `get` waits for a wake-up (one per
 * queued key) and looks again. Time comes from `Clock`, so `TestClock` drives delays and backoff.
 */
export interface WorkQueue {
  readonly name: string
  readonly add: (key: string) => Effect.Effect<void>
  readonly addAfter: (key: string, delay: Duration.DurationInput) => Effect.Effect<void>
  /** Adds after the key's next backoff delay and counts a retry. Returns the delay used. */
  readonly addRateLimited: (key: string) => Effect.Effect<Duration.Duration>
  /** Resets the key's backoff. */
  readonly forget: (key: string) => Effect.Effect<void>
  /** How many rate-limited adds the key has had since it was last forgotten. */
  readonly numRequeues: (key: string) => Effect.Effect<number>
  /** Waits for a key; `None` once the queue is shut down. The caller must call `done` with it. */
  readonly get: Effect.Effect<Option.Option<string>>
  readonly done: (key: string) => Effect.Effect<void>
  /** Keys ready to be handed out (not counting processing or delayed keys). */
  readonly depth: Effect.Effect<number>
  /** Stops handing out keys, drops delayed adds and ignores further adds. */
  readonly shutdown: Effect.Effect<void>
}

export interface BackoffConfig {
  /** Delay after the first failure. */
  readonly baseDelay: Duration.DurationInput
  /** The backoff never exceeds this. */
  readonly maxDelay: Duration.DurationInput
  /** Each delay is reduced by a random fraction in `[0, jitter)` so retries of many keys spread out. */
  readonly jitter: number
}

/** controller-runtime's default per-item limiter: 5 ms doubling up to 1000 s; plus 10 % jitter. */
export const defaultBackoff: BackoffConfig = {
  baseDelay: Duration.millis(5),
  maxDelay: Duration.seconds(1000),
  jitter: 0.1
}

/** Delay for a key that has already failed `failures` times (before jitter). */
export const backoffDelayMillis = (config: BackoffConfig, failures: number): number => {
  const base = Duration.toMillis(config.baseDelay)
  const max = Duration.toMillis(config.maxDelay)
  // 2^60 ms is far beyond any sane maximum; avoid Infinity arithmetic.
  return failures >= 60 ? max : Math.min(base * 2 ** failures, max)
}

/** A FIFO of keys: an array read from a moving head, compacted once half of it is read. */
class Fifo {
  private items: Array<string> = []
  private head = 0

  get size(): number {
    return this.items.length - this.head
  }

  push(key: string): void {
    this.items.push(key)
  }

  pop(): string | undefined {
    if (this.head === this.items.length) return undefined
    const key = this.items[this.head++]
    if (this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head)
      this.head = 0
    }
    return key
  }
}

export interface WorkQueueOptions {
  readonly name: string
  readonly metrics: WorkQueueMetrics
  readonly backoff?: BackoffConfig
}

/** A work queue that lives as long as the scope; closing the scope shuts it down. */
export const make = (options: WorkQueueOptions): Effect.Effect<WorkQueue, never, Scope.Scope> =>
  Effect.gen(function* () {
    const backoff = options.backoff ?? defaultBackoff
    const metrics = options.metrics
    const delayed = yield* FiberMap.make<string>()
    const queue = new Fifo()
    /** Keys that need processing: queued, or added again while processing. */
    const dirty = new Set<string>()
    const processing = new Set<string>()
    /** When each dirty key was added, for the queue-duration metric. */
    const addedAt = new Map<string, number>()
    /** The pending delayed add of each key (epoch millis when it becomes ready). */
    const waiting = new Map<string, number>()
    const failures = new Map<string, number>()
    let shuttingDown = false
    /** Getters blocked on an empty queue, oldest first; one is woken per queued key. */
    const getters = new Set<Deferred.Deferred<void>>()

    const wake = (getter: Deferred.Deferred<void>) => {
      getters.delete(getter)
      Deferred.unsafeDone(getter, Exit.void)
    }
    const wakeOne = () => {
      const first = getters.values().next()
      if (first.done !== true) wake(first.value)
    }
    const enqueue = (key: string) => {
      queue.push(key)
      wakeOne()
    }
    const reportDepth = Effect.suspend(() => metrics.depth(queue.size))

    /** The add transition; false when the add was a duplicate or the queue is shut down. */
    const addNow = (key: string, now: number): boolean => {
      if (shuttingDown || dirty.has(key)) return false
      dirty.add(key)
      addedAt.set(key, now)
      if (!processing.has(key)) enqueue(key)
      return true
    }
    const counted = (added: boolean) => (added ? Effect.zipRight(metrics.add, reportDepth) : Effect.void)

    const add = (key: string): Effect.Effect<void> =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => counted(addNow(key, now)))

    const fireDelayed = (key: string, readyAt: number): Effect.Effect<void> =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        // A later addAfter with an earlier time replaced this one: it is not ours to fire.
        if (waiting.get(key) !== readyAt) return Effect.void
        waiting.delete(key)
        return counted(addNow(key, now))
      })

    const addAfter = (key: string, delay: Duration.DurationInput): Effect.Effect<void> =>
      Effect.gen(function* () {
        const millis = Duration.toMillis(delay)
        if (millis <= 0) return yield* add(key)
        const readyAt = (yield* Clock.currentTimeMillis) + millis
        if (shuttingDown) return
        const pending = waiting.get(key)
        if (pending !== undefined && pending <= readyAt) return
        waiting.set(key, readyAt)
        // Replacing the key's fiber in the FiberMap interrupts the later, superseded one.
        yield* FiberMap.run(delayed, key, Effect.sleep(Duration.millis(millis)).pipe(Effect.zipRight(fireDelayed(key, readyAt))))
      })

    const nextBackoff = (key: string): Effect.Effect<Duration.Duration> =>
      Effect.map(Random.next, (r) => {
        const n = failures.get(key) ?? 0
        failures.set(key, n + 1)
        return Duration.millis(backoffDelayMillis(backoff, n) * (1 - backoff.jitter * r))
      })

    const addRateLimited = (key: string): Effect.Effect<Duration.Duration> =>
      Effect.gen(function* () {
        const delay = yield* nextBackoff(key)
        yield* metrics.retry
        yield* addAfter(key, delay)
        return delay
      })

    const forget = (key: string): Effect.Effect<void> => Effect.sync(() => void failures.delete(key))

    const numRequeues = (key: string): Effect.Effect<number> => Effect.sync(() => failures.get(key) ?? 0)

    const get: Effect.Effect<Option.Option<string>> = Effect.suspend(() => {
      const key = queue.pop()
      if (key === undefined) {
        if (shuttingDown) return Effect.succeed(Option.none())
        const getter = Deferred.unsafeMake<void>(FiberId.none)
        getters.add(getter)
        return Deferred.await(getter).pipe(
          // Interrupted after it was woken: the key it was woken for goes to the next getter.
          Effect.onInterrupt(() => Effect.sync(() => (getters.delete(getter) ? undefined : wakeOne()))),
          Effect.zipRight(get)
        )
      }
      dirty.delete(key)
      processing.add(key)
      const at = addedAt.get(key) ?? 0
      addedAt.delete(key)
      return Effect.flatMap(Clock.currentTimeMillis, (now) =>
        metrics.queueDuration(Math.max(0, now - at) / 1000).pipe(Effect.zipRight(reportDepth), Effect.as(Option.some(key)))
      )
    })

    const done = (key: string): Effect.Effect<void> =>
      Effect.suspend(() => {
        processing.delete(key)
        if (dirty.has(key) && !shuttingDown) enqueue(key)
        return reportDepth
      })

    const shutdown: Effect.Effect<void> = Effect.zipRight(
      Effect.sync(() => {
        shuttingDown = true
        waiting.clear()
        for (const getter of [...getters]) wake(getter)
      }),
      FiberMap.clear(delayed)
    )

    yield* Effect.addFinalizer(() => shutdown)

    return {
      name: options.name,
      add,
      addAfter,
      addRateLimited,
      forget,
      numRequeues,
      get,
      done,
      depth: Effect.sync(() => queue.size),
      shutdown
    }
  })
