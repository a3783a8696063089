import { randomUUID } from "node:crypto"
import { Cause, Clock, Data, Duration, Effect, Exit, Option, Stream } from "effect"
import { Metrics, type ControllerMetrics, type ReconcileResultLabel } from "../observability/metrics.js"
import { SpanNames } from "../observability/tracing.js"
import type { KeySource } from "./sources.js"
import * as WorkQueue from "./workQueue.js"

/** What a successful reconcile asks for next. `{}` means: done until something changes. */
export interface ReconcileResult {
  /** Reconcile again after this delay (and reset the key's failure backoff). */
  readonly requeueAfter?: Duration.DurationInput
  /** Reconcile again after the key's backoff delay, without counting an error. */
  readonly requeue?: boolean
}

export const ReconcileResult = {
  done: {} as ReconcileResult,
  requeueAfter: (delay: Duration.DurationInput): ReconcileResult => ({ requeueAfter: delay }),
  requeue: { requeue: true } as ReconcileResult
} as const

/** A failure that retrying cannot fix (bad input, a forbidden state): logged, counted, not retried. */
export class TerminalError extends Data.TaggedError("TerminalError")<{
  readonly message: string
  readonly cause?: unknown
}> {}

export interface ControllerOptions<E, R> {
  /** The controller's name: the `controller` label of its metrics and logs, and its queue's name. */
  readonly name: string
  /** Level-based: reads current state for the key; never trusts the event that woke it. */
  readonly reconcile: (key: string) => Effect.Effect<ReconcileResult, E, R>
  readonly sources: ReadonlyArray<KeySource>
  /** How many keys may be reconciled at once (never the same key twice). Default 4. */
  readonly maxConcurrentReconciles?: number
  /** Failure backoff; default 5 ms doubling to 1000 s with jitter. */
  readonly backoff?: WorkQueue.BackoffConfig
}

export interface Controller<R> {
  readonly name: string
  /** Feeds the sources into the queue and runs the workers until interrupted. */
  readonly run: Effect.Effect<never, never, R | Metrics>
}

const isTerminal = (error: unknown): error is TerminalError =>
  typeof error === "object" && error !== null && "_tag" in error && error._tag === "TerminalError"

const describeError = (error: unknown): string => {
  if (typeof error !== "object" || error === null) return String(error)
  const tag = "_tag" in error && typeof error._tag === "string" ? error._tag : "Error"
  const message = "message" in error && typeof error.message === "string" ? error.message : ""
  return message === "" ? tag : `${tag}: ${message}`
}

const keyAnnotations = (key: string): Record<string, string> => {
  const slash = key.indexOf("/")
  return slash < 0 ? { name: key } : { namespace: key.slice(0, slash), name: key.slice(slash + 1) }
}

const reconcileOne = <E, R>(
  options: ControllerOptions<E, R>,
  queue: WorkQueue.WorkQueue,
  metrics: ControllerMetrics,
  key: string
): Effect.Effect<void, never, R> => {
  const body = Effect.gen(function* () {
    const start = yield* Clock.currentTimeMillis
    const exit = yield* Effect.exit(options.reconcile(key))
    const seconds = ((yield* Clock.currentTimeMillis) - start) / 1000
    const record = (label: ReconcileResultLabel) => metrics.reconciled(label, seconds)

    if (Exit.isSuccess(exit)) {
      const { requeueAfter, requeue } = exit.value
      if (requeueAfter !== undefined && Duration.greaterThan(Duration.decode(requeueAfter), Duration.zero)) {
        yield* queue.forget(key)
        yield* queue.addAfter(key, requeueAfter)
        return yield* record("requeue_after")
      }
      if (requeue) {
        yield* queue.addRateLimited(key)
        return yield* record("requeue")
      }
      yield* queue.forget(key)
      return yield* record("success")
    }

    // Failures, defects and a reconcile that interrupted itself all count as errors.
    const failure = Cause.failureOption(exit.cause)
    yield* record("error")
    // A typed failure is an expected outcome (a 409, a 5xx): its tag and message say enough.
    // Only a defect carries its whole cause, stack included.
    const logFailure = (message: string) =>
      Option.match(failure, {
        onNone: () => Effect.logError(message, exit.cause),
        onSome: (error) => Effect.logError(message).pipe(Effect.annotateLogs("error", describeError(error)))
      })
    if (Option.isSome(failure) && isTerminal(failure.value)) {
      yield* metrics.reconcileError(true)
      yield* queue.forget(key)
      return yield* logFailure("Reconciler error (terminal, not retried)")
    }
    yield* metrics.reconcileError(false)
    const delay = yield* queue.addRateLimited(key)
    yield* logFailure("Reconciler error").pipe(Effect.annotateLogs("retryAfter", Duration.format(delay)))
  })
  return Effect.suspend(() => {
    const reconcileID = randomUUID()
    return metrics.activeWorkers(1).pipe(
      Effect.zipRight(body),
      Effect.ensuring(Effect.zipRight(metrics.activeWorkers(-1), queue.done(key))),
      Effect.annotateLogs({ controller: options.name, reconcileID, ...keyAnnotations(key) }),
      // Each reconcile is its own trace (a no-op span unless --tracing-endpoint is set).
      // No stack trace: it would name this line, and capturing it costs an Error per reconcile.
      Effect.withSpan(SpanNames.reconcile, {
        root: true,
        captureStackTrace: false,
        attributes: { controller: options.name, key, reconcileID }
      })
    )
  })
}

/**
 * A controller: a work queue fed by its sources and drained by `maxConcurrentReconciles` workers.
 * Successful reconciles reset the key's backoff; errors retry with backoff; a `TerminalError` is
 * logged and dropped; `requeueAfter` schedules the next run.
 */
export const make = <E, R>(options: ControllerOptions<E, R>): Controller<R> => {
  const workers = Math.max(1, options.maxConcurrentReconciles ?? 4)
  const run = Effect.gen(function* () {
    const registry = yield* Metrics
    const metrics = registry.controller(options.name)
    const queue = yield* WorkQueue.make({
      name: options.name,
      metrics: registry.workQueue(options.name),
      ...(options.backoff ? { backoff: options.backoff } : {})
    })
    yield* metrics.maxConcurrentReconciles(workers)
    for (const source of options.sources) {
      yield* Effect.forkScoped(Stream.runForEach(source, queue.add))
    }
    const worker: Effect.Effect<void, never, R> = Effect.gen(function* () {
      for (;;) {
        const next = yield* queue.get
        if (Option.isNone(next)) return
        yield* reconcileOne(options, queue, metrics, next.value)
      }
    })
    yield* Effect.logInfo("Starting workers").pipe(
      Effect.annotateLogs({ controller: options.name, workerCount: workers })
    )
    yield* Effect.forEach(Array.from({ length: workers }, () => worker), (w) => w, {
      concurrency: "unbounded",
      discard: true
    })
    // Workers only return once the queue is shut down, which happens when this scope closes.
    return yield* Effect.never
  }).pipe(Effect.scoped)
  return { name: options.name, run }
}

export const Controller = { make } as const
