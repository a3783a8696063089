/**
 * The long-lived agent credential (Secret `vworkspace-agent-credentials`: control-plane-base-url,
 * cluster-id, token). The Cluster reconciler writes it; the agent client, the outbox and the
 * heartbeat read it through this service, so a rotation reaches every caller at once.
 */
import { Context, Data, Effect, Layer, Option, type Stream, SubscriptionRef } from "effect"

export interface AgentCredentialsValue {
  readonly baseUrl: string
  readonly clusterId: string
  readonly token: string
}

/** No credentials yet: the cluster is not registered. */
export class CredentialsMissing extends Data.TaggedError("CredentialsMissing")<{ readonly message: string }> {}

export interface AgentCredentialsService {
  readonly current: Effect.Effect<Option.Option<AgentCredentialsValue>>
  /** The current value first, then every change. */
  readonly changes: Stream.Stream<Option.Option<AgentCredentialsValue>>
  /** Re-read the stored credential now (after a 401), and return it. */
  readonly reload: Effect.Effect<Option.Option<AgentCredentialsValue>>
}

export class AgentCredentials extends Context.Tag("vworkspace/AgentCredentials")<
  AgentCredentials,
  AgentCredentialsService
>() {}

/** The current credentials, or `CredentialsMissing`. */
export const requireCredentials: Effect.Effect<AgentCredentialsValue, CredentialsMissing, AgentCredentials> =
  Effect.flatMap(AgentCredentials, (c) => c.current).pipe(
    Effect.flatMap(
      Option.match({
        onNone: () => Effect.fail(new CredentialsMissing({ message: "the cluster is not registered yet" })),
        onSome: Effect.succeed
      })
    )
  )

/** Credentials held in memory, for tests and the `register` CLI; `reload` returns the held value. */
export const credentialsFromRef = (ref: SubscriptionRef.SubscriptionRef<Option.Option<AgentCredentialsValue>>) =>
  Layer.succeed(AgentCredentials, { current: SubscriptionRef.get(ref), changes: ref.changes, reload: SubscriptionRef.get(ref) })

/** The rotated token could not be stored; the old one is still in use. */
export class CredentialPersistError extends Data.TaggedError("CredentialPersistError")<{ readonly message: string }> {}

export interface RotatedCredential {
  readonly token: string
  /** From the rotate answer, when the server sent one (RFC 3339). */
  readonly expiresAt?: string
}

export interface CredentialRotationService {
  /**
   * Store a token that `POST /api/agent/credentials/rotate` just issued, for the current cluster
   * (same base URL and cluster id): write the credentials Secret, make `AgentCredentials` return
   * it at once, and raise the `CredentialRotated` audit event. Used by the Pull agent's
   * `rotate-operator-credentials` intent; the Cluster side implements it.
   */
  readonly persist: (rotated: RotatedCredential) => Effect.Effect<void, CredentialPersistError>
}

export class CredentialRotation extends Context.Tag("vworkspace/CredentialRotation")<
  CredentialRotation,
  CredentialRotationService
>() {}

/** Rotation into held-in-memory credentials (tests): the ref gets the new token. */
export const credentialRotationToRef = (ref: SubscriptionRef.SubscriptionRef<Option.Option<AgentCredentialsValue>>) =>
  Layer.succeed(CredentialRotation, {
    persist: (rotated) =>
      SubscriptionRef.get(ref).pipe(
        Effect.flatMap(
          Option.match({
            onNone: () => Effect.fail(new CredentialPersistError({ message: "no credentials to rotate" })),
            onSome: (current) => SubscriptionRef.set(ref, Option.some({ ...current, token: rotated.token }))
          })
        )
      )
  })
