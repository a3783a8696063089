/**
 * Every agent call goes through `makeRobust`'s function, which applies the protocol's HTTP rules (spec §2.4,
 * DESIGN.md item 7) and records what happened in `ConnectionState`:
 * - 429, 5xx and transport errors: retried by `agentRetry` (Retry-After, backoff ≥ 1 s), each
 *   failed attempt recorded with `ConnectionState.failed`;
 * - 401: one credential reload and another try; a second 401 halts with `CredentialRejected`;
 * - 403: halts with `Forbidden`;
 * - halted or unregistered: waits until the credentials change, then resumes and tries again;
 * - any other answer (400, 404, 409, a bad body) is the caller's to handle.
 */
import { Effect, Option, Stream } from "effect"
import { AgentHttpError, type AgentDecodeError } from "../agentClient.js"
import { AgentCredentials, type AgentCredentialsValue } from "../credentials.js"
import { ConnectionState } from "../connectionState.js"
import { type AgentCallError, type AgentRetryOptions, agentRetry, isRetryable } from "../retry.js"

/** Answers `robust` hands back: the server spoke, but not with success. */
export type CallRefusal = AgentHttpError | AgentDecodeError

const tokenOf = (c: Option.Option<AgentCredentialsValue>) => Option.getOrUndefined(Option.map(c, (v) => v.token))

/** Waits for credentials whose token differs from `stale` (or any, when `stale` is undefined). */
const credentialsChangedFrom = (stale: string | undefined) =>
  Effect.flatMap(AgentCredentials, (credentials) =>
    credentials.changes.pipe(
      Stream.filter((c) => Option.isSome(c) && tokenOf(c) !== stale),
      Stream.runHead,
      Effect.asVoid
    )
  )

export const makeRobust = (retry: AgentRetryOptions = {}) => {
  // Built once: every job makes several calls.
  const schedule = agentRetry<AgentCallError>(retry)
  return <A>(call: Effect.Effect<A, AgentCallError>): Effect.Effect<A, CallRefusal, AgentCredentials | ConnectionState> =>
    Effect.gen(function* () {
      const state = yield* ConnectionState
      const credentials = yield* AgentCredentials
      const attempt = call.pipe(
        Effect.tapError((e) => (isRetryable(e) ? state.failed(e.message) : Effect.void)),
        Effect.retry(schedule)
      )
      let reloaded = false
      for (;;) {
        const token = tokenOf(yield* credentials.current)
        const outcome = yield* Effect.either(attempt)
        if (outcome._tag === "Right") {
          yield* state.succeeded
          return outcome.right
        }
        const error = outcome.left
        if (error._tag === "CredentialsMissing") {
          yield* credentialsChangedFrom(undefined)
          continue
        }
        if (error._tag === "AgentHttpError" && error.status === 401 && !reloaded) {
          reloaded = true
          yield* credentials.reload
          continue
        }
        if (error._tag === "AgentHttpError" && (error.status === 401 || error.status === 403)) {
          yield* state.halt(error.status === 401 ? "CredentialRejected" : "Forbidden", error.message)
          yield* Effect.logWarning(`control plane refused the agent (${error.status}); waiting for new credentials`)
          yield* credentialsChangedFrom(token)
          yield* state.resume
          reloaded = false
          continue
        }
        if (error._tag === "AgentHttpError" || error._tag === "AgentDecodeError") {
          // The server answered: the connection is fine, the request was not.
          yield* state.succeeded
          return yield* Effect.fail(error)
        }
        // Unreachable: retryable errors only leave the schedule when it is bounded.
        yield* state.failed(error.message)
        return yield* Effect.fail(new AgentHttpError({ status: 0, code: "", message: error.message }))
      }
    })
}
