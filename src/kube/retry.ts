import { Duration, Effect, Schedule } from "effect"
import { isTransient, type KubeError } from "./errors.js"

export interface KubeRetryOptions {
  /** First delay before jitter. Default 200 ms; each retry doubles it. */
  readonly base?: Duration.DurationInput
  /** Largest delay between attempts (a 429's `retryAfter` may exceed it). Default 10 s. */
  readonly cap?: Duration.DurationInput
  /** Retries after the first attempt. Default 5. */
  readonly maxRetries?: number
}

/**
 * The retry policy for API calls: exponential backoff with jitter (±20 %), capped and bounded.
 * Only transient errors are retried (`isTransient`: transport, timeout, 429, 5xx); a 429 waits
 * at least its `retryAfter`. Invalid, Forbidden, NotFound, Conflict and the like stop at once.
 */
export const kubeRetry = (options: KubeRetryOptions = {}): Schedule.Schedule<[KubeError, Duration.Duration], KubeError> => {
  const cap = Duration.decode(options.cap ?? Duration.seconds(10))
  const backoff = Schedule.exponential(options.base ?? Duration.millis(200), 2).pipe(
    Schedule.jittered,
    Schedule.modifyDelay((_, delay) => Duration.min(delay, cap))
  )
  return Schedule.identity<KubeError>().pipe(
    Schedule.intersect(backoff),
    Schedule.modifyDelay(([error], delay) =>
      error._tag === "TooManyRequests" ? Duration.max(delay, error.retryAfter) : delay
    ),
    Schedule.whileInput(isTransient),
    Schedule.intersect(Schedule.recurs(options.maxRetries ?? 5)),
    Schedule.map(([out]) => out)
  )
}

/** Runs `effect`, retrying transient API errors with `kubeRetry`. */
export const withKubeRetry = <A, E extends KubeError, R>(
  effect: Effect.Effect<A, E, R>,
  options?: KubeRetryOptions
): Effect.Effect<A, E, R> => Effect.retry(effect, kubeRetry(options))
