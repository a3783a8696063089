/**
 * The one retry policy for calls to the control plane (spec/connectivity.md §2.4, DESIGN.md item 7):
 * - 429 waits at least its `Retry-After` (and never less than the floor);
 * - 5xx and transport errors back off exponentially with jitter, never faster than once per
 *   second, capped;
 * - anything else (400, 401, 403, 404, 409, a decode error, missing credentials) is not retried
 *   here: each caller has its own rule for those (a 401 reloads the credential once, a 409 is done).
 */
import { Duration, Effect, Schedule } from "effect"
import type { AgentError } from "./agentClient.js"
import type { CredentialsMissing } from "./credentials.js"

export type AgentCallError = AgentError | CredentialsMissing

export interface AgentRetryOptions {
  /** First delay, before jitter. Default 1 s; each retry doubles it. */
  readonly base?: Duration.DurationInput
  /** Largest backoff delay (a 429's `Retry-After` may exceed it). Default 60 s. */
  readonly cap?: Duration.DurationInput
  /** No delay is shorter than this. Default 1 s ("never faster than once per second"). */
  readonly floor?: Duration.DurationInput
  /** Retries after the first attempt; unbounded when absent. */
  readonly maxRetries?: number
}

/** Whether the schedule retries this error: 429, 5xx, or no answer at all. */
export const isRetryable = (error: AgentCallError): boolean => {
  switch (error._tag) {
    case "AgentTransportError":
      return true
    case "AgentHttpError":
      return error.status === 429 || error.status >= 500
    case "AgentDecodeError":
    case "CredentialsMissing":
      return false
  }
}

/** The delay the policy asks for after `error`, given the backoff's own delay. */
const delayFor = (error: AgentCallError, backoff: Duration.Duration, floor: Duration.Duration): Duration.Duration => {
  const wanted =
    error._tag === "AgentHttpError" && error.status === 429 && error.retryAfter !== undefined
      ? Duration.max(backoff, error.retryAfter)
      : backoff
  return Duration.max(wanted, floor)
}

export const agentRetry = <E extends AgentCallError>(options: AgentRetryOptions = {}): Schedule.Schedule<Duration.Duration, E> => {
  const cap = Duration.decode(options.cap ?? Duration.seconds(60))
  const floor = Duration.decode(options.floor ?? Duration.seconds(1))
  const backoff = Schedule.exponential(options.base ?? Duration.seconds(1), 2).pipe(
    Schedule.jittered,
    Schedule.modifyDelay((_, delay) => Duration.min(delay, cap))
  )
  const schedule = Schedule.identity<E>().pipe(
    Schedule.intersect(backoff),
    Schedule.modifyDelay(([error], delay) => delayFor(error, delay, floor)),
    Schedule.whileInput((error: E) => isRetryable(error)),
    Schedule.map(([, delay]) => delay)
  )
  return options.maxRetries === undefined
    ? schedule
    : schedule.pipe(Schedule.intersect(Schedule.recurs(options.maxRetries)), Schedule.map(([delay]) => delay))
}

/** Runs `effect`, retrying what `agentRetry` retries. */
export const withAgentRetry = <A, E extends AgentCallError, R>(
  effect: Effect.Effect<A, E, R>,
  options?: AgentRetryOptions
): Effect.Effect<A, E, R> => Effect.retry(effect, agentRetry<E>(options))

/**
 * `Retry-After` as a duration: delta-seconds, or an HTTP-date relative to `nowMillis` (a date in
 * the past is zero). Anything else is ignored.
 */
export const parseRetryAfter = (value: string | undefined, nowMillis: number): Duration.Duration | undefined => {
  if (value === undefined) return undefined
  const text = value.trim()
  if (/^\d+$/.test(text)) return Duration.seconds(Number(text))
  const at = Date.parse(text)
  if (Number.isNaN(at) || !/[A-Za-z]/.test(text)) return undefined
  return Duration.millis(Math.max(0, at - nowMillis))
}
