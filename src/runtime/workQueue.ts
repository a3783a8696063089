import { Clock, Duration, Effect, FiberMap, HashMap, HashSet, List, Option, Random, type Scope, STM, TRef } from "effect"
import type { WorkQueueMetrics } from "../observability/metrics.js"

/**
 * A keyed work queue with client-go / controller-runtime semantics:
 * - adding a key that is already waiting is a no-op;
 * - a key handed out by `get` is not handed out again until `done`;
 * - adds while a key is processed mark it dirty, and it is queued exactly once more at `done`;
 * - `addAfter` delays an add (the earliest pending time wins);
 * - `addRateLimited` delays by a per-key exponential backoff that `forget` resets.
 *
 * State lives in one `TRef`, so `get` blocks with `STM.retry`; time comes from `Clock`, so
 * `TestClock` drives delays and backoff.
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

/** A persistent FIFO (two cons lists), so STM can retry transactions on immutable state. */
interface Fifo {
  readonly front: List.List<string>
  readonly back: List.List<string>
  readonly size: number
}

const emptyFifo: Fifo = { front: List.empty(), back: List.empty(), size: 0 }

const push = (fifo: Fifo, key: string): Fifo => ({ ...fifo, back: List.prepend(fifo.back, key), size: fifo.size + 1 })

const pop = (fifo: Fifo): Option.Option<readonly [string, Fifo]> => {
  const front = List.isCons(fifo.front) ? fifo.front : List.reverse(fifo.back)
  if (!List.isCons(front)) return Option.none()
  const back = List.isCons(fifo.front) ? fifo.back : List.empty<string>()
  return Option.some([front.head, { front: front.tail, back, size: fifo.size - 1 }] as const)
}

interface State {
  readonly queue: Fifo
  /** Keys that need processing: queued, or added again while processing. */
  readonly dirty: HashSet.HashSet<string>
  readonly processing: HashSet.HashSet<string>
  /** When each dirty key was added, for the queue-duration metric. */
  readonly addedAt: HashMap.HashMap<string, number>
  /** The pending delayed add of each key (epoch millis when it becomes ready). */
  readonly waiting: HashMap.HashMap<string, number>
  readonly failures: HashMap.HashMap<string, number>
  readonly shuttingDown: boolean
}

const initialState: State = {
  queue: emptyFifo,
  dirty: HashSet.empty(),
  processing: HashSet.empty(),
  addedAt: HashMap.empty(),
  waiting: HashMap.empty(),
  failures: HashMap.empty(),
  shuttingDown: false
}

/** The add transition; `added` is false when the add was a duplicate or the queue is shut down. */
const addToState = (s: State, key: string, now: number): readonly [boolean, State] => {
  if (s.shuttingDown || HashSet.has(s.dirty, key)) return [false, s]
  const marked: State = { ...s, dirty: HashSet.add(s.dirty, key), addedAt: HashMap.set(s.addedAt, key, now) }
  if (HashSet.has(s.processing, key)) return [true, marked]
  return [true, { ...marked, queue: push(marked.queue, key) }]
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
    const state = yield* TRef.make(initialState)
    const delayed = yield* FiberMap.make<string>()

    const reportDepth = (s: State) => metrics.depth(s.queue.size)

    const add = (key: string): Effect.Effect<void> =>
      Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        const [added, s] = yield* TRef.modify(state, (s0) => {
          const [ok, s1] = addToState(s0, key, now)
          return [[ok, s1] as const, s1]
        }).pipe(STM.commit)
        if (added) yield* Effect.zipRight(metrics.add, reportDepth(s))
      })

    const fireDelayed = (key: string, readyAt: number): Effect.Effect<void> =>
      Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        const [added, s] = yield* TRef.modify(state, (s0) => {
          // A later addAfter with an earlier time replaced this one: it is not ours to fire.
          if (Option.getOrUndefined(HashMap.get(s0.waiting, key)) !== readyAt) return [[false, s0] as const, s0]
          const [ok, s1] = addToState({ ...s0, waiting: HashMap.remove(s0.waiting, key) }, key, now)
          return [[ok, s1] as const, s1]
        }).pipe(STM.commit)
        if (added) yield* Effect.zipRight(metrics.add, reportDepth(s))
      })

    const addAfter = (key: string, delay: Duration.DurationInput): Effect.Effect<void> =>
      Effect.gen(function* () {
        const millis = Duration.toMillis(delay)
        if (millis <= 0) return yield* add(key)
        const readyAt = (yield* Clock.currentTimeMillis) + millis
        const schedule = yield* TRef.modify(state, (s) => {
          if (s.shuttingDown) return [false, s]
          const pending = HashMap.get(s.waiting, key)
          if (Option.isSome(pending) && pending.value <= readyAt) return [false, s]
          return [true, { ...s, waiting: HashMap.set(s.waiting, key, readyAt) }]
        }).pipe(STM.commit)
        // Replacing the key's fiber in the FiberMap interrupts the later, superseded one.
        if (schedule) yield* FiberMap.run(delayed, key, Effect.sleep(Duration.millis(millis)).pipe(Effect.zipRight(fireDelayed(key, readyAt))))
      })

    const nextBackoff = (key: string): Effect.Effect<Duration.Duration> =>
      Effect.gen(function* () {
        const failures = yield* TRef.modify(state, (s) => {
          const n = Option.getOrElse(HashMap.get(s.failures, key), () => 0)
          return [n, { ...s, failures: HashMap.set(s.failures, key, n + 1) }]
        }).pipe(STM.commit)
        const r = yield* Random.next
        return Duration.millis(backoffDelayMillis(backoff, failures) * (1 - backoff.jitter * r))
      })

    const addRateLimited = (key: string): Effect.Effect<Duration.Duration> =>
      Effect.gen(function* () {
        const delay = yield* nextBackoff(key)
        yield* metrics.retry
        yield* addAfter(key, delay)
        return delay
      })

    const forget = (key: string): Effect.Effect<void> =>
      TRef.update(state, (s) => ({ ...s, failures: HashMap.remove(s.failures, key) })).pipe(STM.commit)

    const numRequeues = (key: string): Effect.Effect<number> =>
      TRef.get(state).pipe(
        STM.map((s) => Option.getOrElse(HashMap.get(s.failures, key), () => 0)),
        STM.commit
      )

    const take: STM.STM<Option.Option<readonly [string, number, State]>> = STM.flatMap(TRef.get(state), (s) => {
      const next = pop(s.queue)
      if (Option.isNone(next)) return s.shuttingDown ? STM.succeed(Option.none()) : STM.retry
      const [key, queue] = next.value
      const addedAt = Option.getOrElse(HashMap.get(s.addedAt, key), () => 0)
      const s1: State = {
        ...s,
        queue,
        dirty: HashSet.remove(s.dirty, key),
        processing: HashSet.add(s.processing, key),
        addedAt: HashMap.remove(s.addedAt, key)
      }
      return STM.as(TRef.set(state, s1), Option.some([key, addedAt, s1] as const))
    })

    const get: Effect.Effect<Option.Option<string>> = Effect.gen(function* () {
      const taken = yield* STM.commit(take)
      if (Option.isNone(taken)) return Option.none()
      const [key, addedAt, s] = taken.value
      const now = yield* Clock.currentTimeMillis
      yield* metrics.queueDuration(Math.max(0, now - addedAt) / 1000)
      yield* reportDepth(s)
      return Option.some(key)
    })

    const done = (key: string): Effect.Effect<void> =>
      Effect.gen(function* () {
        const s = yield* TRef.modify(state, (s0) => {
          const processing = HashSet.remove(s0.processing, key)
          const requeue = HashSet.has(s0.dirty, key) && !s0.shuttingDown
          const s1: State = { ...s0, processing, queue: requeue ? push(s0.queue, key) : s0.queue }
          return [s1, s1]
        }).pipe(STM.commit)
        yield* reportDepth(s)
      })

    const shutdown: Effect.Effect<void> = Effect.zipRight(
      TRef.update(state, (s) => ({ ...s, shuttingDown: true, waiting: HashMap.empty() })).pipe(STM.commit),
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
      depth: TRef.get(state).pipe(
        STM.map((s) => s.queue.size),
        STM.commit
      ),
      shutdown
    }
  })
