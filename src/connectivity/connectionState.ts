/**
 * What the agent, the outbox and the heartbeat learn about the control plane, in one place. The
 * Cluster reconciler turns it into `Connected`, `Disconnected` and `Authenticated`; metrics read it
 * for `vworkspace_operator_connectivity_state`.
 */
import { Context, Effect, Layer, Option, type Stream, SubscriptionRef } from "effect"

/** Why requests stopped until the operator is re-registered or its credential changes. */
export type HaltReason = "CredentialRejected" | "Forbidden"

export interface ConnectionSnapshot {
  /** The last request that got any answer the protocol counts as success. */
  readonly lastSuccessAt: Option.Option<Date>
  readonly lastFailure: Option.Option<{ readonly at: Date; readonly message: string }>
  /** Set by a 401 that survived one credential reload (`CredentialRejected`), or by a 403. */
  readonly halted: Option.Option<{ readonly reason: HaltReason; readonly message: string; readonly at: Date }>
}

export interface ConnectionStateService {
  readonly get: Effect.Effect<ConnectionSnapshot>
  readonly changes: Stream.Stream<ConnectionSnapshot>
  readonly succeeded: Effect.Effect<void>
  readonly failed: (message: string) => Effect.Effect<void>
  readonly halt: (reason: HaltReason, message: string) => Effect.Effect<void>
  /** New credentials arrived: requests may start again. */
  readonly resume: Effect.Effect<void>
}

export class ConnectionState extends Context.Tag("vworkspace/ConnectionState")<
  ConnectionState,
  ConnectionStateService
>() {}

const initial: ConnectionSnapshot = { lastSuccessAt: Option.none(), lastFailure: Option.none(), halted: Option.none() }

/**
 * Successes closer together than this move `lastSuccessAt` once. Every agent request reports one
 * (hundreds a second under load), and each update is published to every subscriber of `changes`;
 * the windows that read the time are seconds long.
 */
const successResolutionMillis = 250

/** Whether a success at `at` would change nothing but a timestamp that is fresh anyway. */
const successIsFresh = (s: ConnectionSnapshot, at: Date): boolean =>
  Option.match(s.lastSuccessAt, {
    onNone: () => false,
    onSome: (last) =>
      at.getTime() - last.getTime() < successResolutionMillis &&
      Option.match(s.lastFailure, { onNone: () => true, onSome: (f) => f.at.getTime() <= last.getTime() })
  })

export const connectionStateLive = Layer.effect(
  ConnectionState,
  Effect.gen(function* () {
    const ref = yield* SubscriptionRef.make(initial)
    const now = Effect.map(Effect.clockWith((c) => c.currentTimeMillis), (ms) => new Date(ms))
    return {
      get: SubscriptionRef.get(ref),
      changes: ref.changes,
      succeeded: Effect.flatMap(Effect.zip(now, SubscriptionRef.get(ref)), ([at, current]) =>
        successIsFresh(current, at) ? Effect.void : SubscriptionRef.update(ref, (s) => ({ ...s, lastSuccessAt: Option.some(at) }))
      ),
      failed: (message) =>
        Effect.flatMap(now, (at) => SubscriptionRef.update(ref, (s) => ({ ...s, lastFailure: Option.some({ at, message }) }))),
      halt: (reason, message) =>
        Effect.flatMap(now, (at) =>
          SubscriptionRef.update(ref, (s) => ({ ...s, halted: Option.some({ reason, message, at }) }))
        ),
      resume: SubscriptionRef.update(ref, (s) => ({ ...s, halted: Option.none() }))
    }
  })
)
