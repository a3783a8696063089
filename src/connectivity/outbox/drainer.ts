/**
 * Delivery of the outbox to `POST /api/agent/events`, one batch at a time so order is kept:
 * - a batch leaves as soon as `batchSize` events wait, or once the oldest waiting event is
 *   `flushInterval` old (spec gap G17: whichever comes first);
 * - no credentials yet: events wait (gap G7), nothing is posted or dropped;
 * - 429, 5xx and transport errors: the shared `agentRetry` policy (Retry-After, jittered
 *   exponential backoff, never faster than once per second); every failed attempt is recorded
 *   in `ConnectionState`, every success too;
 * - 401: one credential reload and one more attempt, then `halt(CredentialRejected)`; 403:
 *   `halt(Forbidden)`. A halted outbox waits for `ConnectionState.resume`;
 * - any other refusal (a 400, an undecodable answer) cannot be fixed by retrying: the batch is
 *   logged and counted in `rejectedTotal`, never silently lost.
 */
import { Clock, Duration, Effect, Option, Queue, Stream, SubscriptionRef } from "effect"
import { AgentClient, type AgentError } from "../agentClient.js"
import { ConnectionState } from "../connectionState.js"
import { AgentCredentials, type CredentialsMissing } from "../credentials.js"
import { withAgentRetry } from "../retry.js"
import type { PendingEvent } from "./buffer.js"
import type { OutboxCore } from "./outbox.js"

type PostError = AgentError | CredentialsMissing

const describe = (e: PostError): string =>
  e._tag === "AgentHttpError" ? `HTTP ${e.status}${e.code === "" ? "" : ` ${e.code}`}: ${e.message}` : e.message

/** Waits until a waiting batch is due: full, or its oldest event is `flushInterval` old. */
const awaitBatch = (core: OutboxCore): Effect.Effect<void> =>
  Effect.gen(function* () {
    const flushMs = Duration.toMillis(core.settings.flushInterval)
    for (;;) {
      const oldest = core.buffer.oldestWaiting
      if (oldest === undefined) {
        yield* Queue.take(core.wake)
        continue
      }
      if (core.buffer.waiting >= core.settings.batchSize) return
      const age = (yield* Clock.currentTimeMillis) - oldest
      if (age >= flushMs) return
      yield* Queue.take(core.wake).pipe(Effect.timeout(Duration.millis(flushMs - age)), Effect.ignore)
    }
  })

const awaitCredentials = Effect.gen(function* () {
  const credentials = yield* AgentCredentials
  yield* Stream.runHead(Stream.filter(credentials.changes, Option.isSome))
})

const awaitNotHalted = Effect.gen(function* () {
  const state = yield* ConnectionState
  yield* Stream.runHead(Stream.filter(state.changes, (s) => Option.isNone(s.halted)))
})

/** One batch, with retries for what retrying can fix; the failure left after them. */
const post = (batch: ReadonlyArray<PendingEvent>) =>
  Effect.gen(function* () {
    const client = yield* AgentClient
    const state = yield* ConnectionState
    const attempt = client.postEvents(batch.map((p) => p.event)).pipe(
      Effect.tapBoth({
        onFailure: (e) => (e._tag === "CredentialsMissing" ? Effect.void : state.failed(`events: ${describe(e)}`)),
        onSuccess: () => state.succeeded
      }),
      withAgentRetry
    )
    return yield* attempt.pipe(
      Effect.catchIf(
        (e) => e._tag === "AgentHttpError" && e.status === 401,
        () =>
          Effect.flatMap(AgentCredentials, (c) => c.reload).pipe(Effect.zipRight(attempt))
      )
    )
  })

export const runDrainer = (core: OutboxCore): Effect.Effect<never, never, AgentClient | AgentCredentials | ConnectionState> =>
  Effect.gen(function* () {
    const state = yield* ConnectionState
    for (;;) {
      yield* awaitBatch(core)
      yield* awaitCredentials
      yield* awaitNotHalted
      const batch = core.buffer.takeBatch(core.settings.batchSize)
      const outcome = yield* Effect.either(post(batch))
      const now = yield* Clock.currentTimeMillis
      if (outcome._tag === "Right") {
        const dropped = core.buffer.overflowState.dropped
        if (core.buffer.delivered(now)) {
          yield* SubscriptionRef.set(core.overflow, core.buffer.overflowState)
          yield* Effect.logInfo("outbound event buffer drained after an overflow").pipe(Effect.annotateLogs({ dropped }))
        }
        continue
      }
      const error = outcome.left
      core.buffer.failed()
      if (error._tag === "CredentialsMissing") continue
      if (error._tag === "AgentHttpError" && (error.status === 401 || error.status === 403)) {
        yield* state.halt(error.status === 401 ? "CredentialRejected" : "Forbidden", `events: ${describe(error)}`)
        continue
      }
      // What is left cannot be fixed by sending the same batch again.
      yield* Effect.sync(() => {
        core.buffer.takeBatch(batch.length)
        core.buffer.rejected()
        core.counters.rejected += batch.length
      })
      yield* Effect.logError("the control plane refused a batch of events; it is not retried").pipe(
        Effect.annotateLogs({ events: batch.length, error: describe(error) })
      )
    }
  })
