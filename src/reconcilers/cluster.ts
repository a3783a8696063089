/**
 * The Cluster reconciler (cluster-scoped `Cluster`, spec/api.md §4.5): registration, adoption,
 * rotation, the periodic heartbeat and controller check, and the status per §5.3. Level-based:
 * connection health comes from `ConnectionState` (every round trip of the agent, the outbox and
 * the heartbeat counts), credentials from `AgentCredentials`, the mode's own report from
 * `IntentSource`. Status is written only when it changes.
 *
 * Order of a pass: deletion → finalizer → registration (or adoption) → rotation → periodic check
 * (heartbeat when the mode talks to the control plane, `ControllersHealthy`) → status.
 */
import { Data, DateTime, Duration, Effect, Either, Option, Ref, Schema } from "effect"
import { Cluster } from "../api/cluster.js"
import { ClusterConditionType as T, ClusterReason as R, type ConditionUpdate, formatConditionTime, setConditions } from "../api/conditions.js"
import type { Condition } from "../api/meta.js"
import { Annotations, Finalizers } from "../api/wellKnown.js"
import { OperatorConfig } from "../config.js"
import { AgentClient, type AgentError } from "../connectivity/agentClient.js"
import { ConnectionState, type ConnectionSnapshot } from "../connectivity/connectionState.js"
import {
  AgentCredentials,
  type AgentCredentialsValue,
  CredentialRotation,
  type CredentialsMissing
} from "../connectivity/credentials.js"
import { CredentialStore, tokenFingerprint } from "../connectivity/credentialsLive.js"
import { controllersHealthy } from "../connectivity/heartbeat.js"
import { IntentSource } from "../connectivity/modes/intentSource.js"
import type { BufferStats } from "../connectivity/outbox/buffer.js"
import { heartbeatEvent } from "../connectivity/outbox/transitions.js"
import { KubeApi } from "../kube/KubeApi.js"
import { Resources } from "../kube/resources.js"
import { withKubeRetry } from "../kube/retry.js"
import { EventRecorder } from "../observability/events.js"
import { makeRepeatedWarning, type RepeatedWarning } from "../observability/repeatedWarning.js"
import { ReconcileResult, TerminalError } from "../runtime/controller.js"
import { ObjectLookup } from "./objectLookup.js"
import { type EventFor, writeStatus } from "./statusWriter.js"
import { addFinalizer, confirmCurrent, removeFinalizer, requeueOnConflict } from "./writes.js"

type ClusterObject = typeof Cluster.Type
type Status = NonNullable<ClusterObject["status"]>
type CredentialStatus = NonNullable<Status["credentialStatus"]>
interface Exchange {
  readonly cluster: string
  readonly credentialStatus: CredentialStatus
}
type Phase = NonNullable<Status["phase"]>

const decode = Schema.decodeUnknownEither(Cluster)
const ClusterType = Resources.Cluster
const registrationRetry = Duration.seconds(30)
const rotationRetry = Duration.minutes(1)

export interface ClusterReconcilerOptions {
  /** The outbox's counters, for `BufferOverflow`; none when status goes nowhere but conditions. */
  readonly bufferStats: Effect.Effect<Option.Option<BufferStats>>
}

/** A registration token that cannot be read (missing Secret or key, blank name). */
class TokenUnresolvable extends Data.TaggedError("TokenUnresolvable")<{ readonly message: string }> {}

const cond = (type: string, status: Condition["status"], reason: string, message: string): ConditionUpdate => ({
  type,
  status,
  reason,
  message
})

const msg = {
  credentialMissing: "bootstrap credential is not available",
  roundTripOk: "Recent round-trip to the control plane succeeded",
  alive: "Connection is alive",
  accepted: "Bearer token accepted",
  exchanged: "registration token exchanged for bootstrap credential",
  exchangeOk: "registration exchange succeeded",
  exchangeFailed: "registration token exchange failed",
  notResolvable: "registration token is not yet resolvable"
} as const

const forcesReExchange = (c: ClusterObject): boolean => {
  const v = c.metadata.annotations?.[Annotations.rotateCredentials]
  return v !== undefined && v.trim() !== "" && v.trim().toLowerCase() !== "false"
}

const endpointOf = (c: ClusterObject): string =>
  (c.spec?.controlPlaneEndpoint?.trim() || c.spec?.controlPlaneBaseUrl?.trim() || "").replace(/\/+$/, "")

const SecretData = Schema.Struct({ data: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.String })) })

/** The registration token: from the Secret in the operator namespace, else the deprecated inline one. */
const resolveToken = (c: ClusterObject, namespace: string) =>
  Effect.gen(function* () {
    const ref = c.spec?.registrationTokenSecretRef
    if (ref !== undefined) {
      if (ref.name.trim() === "") return yield* new TokenUnresolvable({ message: "registrationTokenSecretRef.name must not be empty" })
      const key = ref.key ?? "registrationToken"
      const api = yield* KubeApi
      const secret = yield* api.get(Resources.Secret, ref.name, namespace).pipe(
        Effect.mapError(
          (e) =>
            new TokenUnresolvable({
              message:
                e._tag === "NotFound"
                  ? `registration token Secret ${namespace}/${ref.name} not found`
                  : `cannot read registration token Secret ${namespace}/${ref.name}: ${e.message}`
            })
        )
      )
      const data = Option.getOrUndefined(Schema.decodeUnknownOption(SecretData)(secret))?.data
      const value = data?.[key]
      const token = value === undefined ? "" : Buffer.from(value, "base64").toString("utf8").trim()
      if (token === "") {
        return yield* new TokenUnresolvable({ message: `registration token Secret ${namespace}/${ref.name} has no key "${key}"` })
      }
      return Option.some({ token, inline: false })
    }
    const inline = c.spec?.registrationToken?.trim() ?? ""
    return inline === "" ? Option.none() : Option.some({ token: inline, inline: true })
  })

const describeAgentError = (e: AgentError | CredentialsMissing): string => e.message

const isAuthFailure = (e: AgentError | CredentialsMissing): boolean =>
  e._tag === "AgentHttpError" && (e.status === 401 || e.status === 403)

/** Only what is news gets an Event: a problem appearing, or going away. */
const eventFor: EventFor = (c, previous) => {
  const bad =
    (c.type === T.Disconnected || c.type === T.BufferOverflow ? c.status === "True" : c.status === "False") &&
    c.reason !== R.CredentialMissing
  if (previous === undefined && !bad) return undefined
  return { type: bad ? "Warning" : "Normal", reason: c.reason }
}

interface PeriodicState {
  /** When the last periodic check ran (epoch ms); 0: never. */
  readonly at: number
  /** The heartbeat's last failure was an authentication failure. */
  readonly authFailed: boolean
}

export const makeClusterReconciler = (options: ClusterReconcilerOptions) =>
  Effect.gen(function* () {
    const startedAt = yield* Effect.clockWith((c) => c.currentTimeMillis)
    const periodic = yield* Ref.make<PeriodicState>({ at: 0, authFailed: false })
    // Fingerprints exchanged by this process: a status write that failed after a successful
    // exchange must not make the next pass spend the one-time token again.
    const exchanged = yield* Ref.make<ReadonlyMap<string, Exchange>>(new Map())
    // During an outage the heartbeat fails every interval: one warning, then one line when it works again.
    const heartbeatWarning = yield* makeRepeatedWarning({ warning: "heartbeat failed", recovered: "heartbeat delivered again" })

    return (key: string) =>
      requeueOnConflict(Effect.gen(function* () {
        const lookup = yield* ObjectLookup
        const found = yield* lookup.get(ClusterType, undefined, key)
        if (Option.isNone(found)) return ReconcileResult.done
        const decoded = decode(found.value)
        if (decoded._tag === "Left") {
          return yield* new TerminalError({ message: `cannot decode Cluster ${key}: ${decoded.left.message}` })
        }
        const cluster = decoded.right
        if (cluster.metadata.deletionTimestamp !== undefined) return yield* finalize(cluster)
        const withFinalizer = yield* addFinalizer(ClusterType, cluster, Finalizers.cluster)
        return yield* reconcileLive(
          { ...cluster, metadata: { ...cluster.metadata, ...withFinalizer.metadata } },
          { startedAt, periodic, exchanged, heartbeatWarning, options }
        )
      }))
  })

interface PassState {
  readonly startedAt: number
  readonly periodic: Ref.Ref<PeriodicState>
  /** Token fingerprint → the Cluster it was exchanged for and the credentialStatus recorded. */
  readonly exchanged: Ref.Ref<ReadonlyMap<string, Exchange>>
  readonly heartbeatWarning: RepeatedWarning
  readonly options: ClusterReconcilerOptions
}

const finalize = (cluster: ClusterObject) =>
  Effect.gen(function* () {
    if (!(cluster.metadata.finalizers ?? []).includes(Finalizers.cluster)) return ReconcileResult.done
    const current = yield* write(cluster, { phase: "Terminating" }, [], eventFor)
    // The credentials Secret goes with the Cluster through its ownerReference.
    yield* removeFinalizer(ClusterType, current, Finalizers.cluster)
    return ReconcileResult.done
  })

/** Every status field but the conditions, merged over the stored ones. */
const write = (
  cluster: ClusterObject,
  fields: Partial<Omit<Status, "conditions">>,
  updates: ReadonlyArray<ConditionUpdate>,
  events: EventFor,
  drop: ReadonlyArray<string> = []
) => {
  const { conditions, ...stored } = cluster.status ?? {}
  const kept = (conditions ?? []).filter((c) => !drop.includes(c.type))
  return writeStatus(
    ClusterType,
    { ...cluster, status: { ...stored, conditions: kept } },
    { fields: { ...stored, ...fields }, conditions: updates, stampReconcileTime: false },
    events
  )
}

const nowDate = Effect.map(DateTime.now, (d) => new Date(DateTime.toEpochMillis(d)))

type Registration =
  | { readonly _tag: "Unchanged" }
  | { readonly _tag: "Adopted"; readonly fields: Partial<Status> }
  | { readonly _tag: "Registered"; readonly fields: Partial<Status>; readonly cluster: ClusterObject }
  | { readonly _tag: "Blocked"; readonly phase: Phase; readonly conditions: ReadonlyArray<ConditionUpdate> }

const register = (cluster: ClusterObject, state: PassState) =>
  Effect.gen(function* () {
    const config = yield* OperatorConfig
    const store = yield* CredentialStore
    const hasCredentials = yield* store.exists
    const resolved = yield* Effect.either(resolveToken(cluster, config.podNamespace))
    if (resolved._tag === "Left") {
      if (hasCredentials) return { _tag: "Unchanged" } satisfies Registration
      return {
        _tag: "Blocked",
        phase: "Pending",
        conditions: [
          cond(T.Authenticated, "False", R.TokenSecretMissing, resolved.left.message),
          cond(T.Connected, "False", R.RegistrationPending, msg.notResolvable)
        ]
      } satisfies Registration
    }
    if (Option.isNone(resolved.right)) return yield* recordedExchange(cluster, state)
    const { token, inline } = resolved.right.value
    const fingerprint = tokenFingerprint(token)
    const forced = forcesReExchange(cluster)
    const exchangedHere = (yield* Ref.get(state.exchanged)).get(fingerprint)?.credentialStatus
    const seen = cluster.status?.observedToken === fingerprint || exchangedHere !== undefined
    const secretRef = { name: store.secret.name, namespace: store.secret.namespace }
    if (seen && !forced) {
      // The cache may still show the status from before this process's exchange: keep what it recorded.
      return cluster.status?.observedToken === fingerprint
        ? ({ _tag: "Unchanged" } satisfies Registration)
        : ({
            _tag: "Adopted",
            fields: {
              observedToken: fingerprint,
              credentialsSecretRef: secretRef,
              ...(exchangedHere === undefined ? {} : { credentialStatus: exchangedHere })
            }
          } satisfies Registration)
    }
    const adoptable =
      !forced &&
      (cluster.status?.observedToken ?? "") === "" &&
      cluster.status?.credentialStatus?.registrationTokenConsumed === true &&
      hasCredentials
    if (adoptable) {
      return {
        _tag: "Adopted",
        fields: { observedToken: fingerprint, credentialsSecretRef: cluster.status?.credentialsSecretRef ?? secretRef }
      } satisfies Registration
    }
    const failed = (message: string): Registration => ({
      _tag: "Blocked",
      phase: "Error",
      conditions: [
        cond(T.Authenticated, "False", R.RegistrationFailed, message),
        cond(T.Connected, "False", R.RegistrationPending, msg.exchangeFailed)
      ]
    })
    const endpoint = endpointOf(cluster)
    if (endpoint === "") {
      return failed("spec.controlPlaneEndpoint (or the deprecated spec.controlPlaneBaseUrl) is required for registration")
    }
    const client = yield* AgentClient
    const clusterId = cluster.spec?.clusterId?.trim() ?? ""
    // A pass that read the Cluster from before this process cleared the token or the annotation
    // must not spend the token again.
    yield* confirmCurrent(ClusterType, cluster)
    const answer = yield* Effect.either(
      client.register(endpoint, { registrationToken: token, ...(clusterId === "" ? {} : { clusterId }) })
    )
    if (answer._tag === "Left") return failed(describeAgentError(answer.left))
    const issued: AgentCredentialsValue = {
      baseUrl: endpoint,
      clusterId: answer.right.clusterId.trim(),
      token: answer.right.token.trim()
    }
    if (issued.clusterId === "" || issued.token === "") {
      return failed("register API error: the answer lacks clusterId or token")
    }
    const credentialStatus: CredentialStatus = {
      secretName: store.secret.name,
      secretNamespace: store.secret.namespace,
      registeredAt: formatConditionTime(yield* nowDate),
      registrationTokenConsumed: true
    }
    yield* Ref.update(state.exchanged, (m) =>
      new Map(m).set(fingerprint, { cluster: cluster.metadata.name ?? "", credentialStatus })
    )
    yield* store.save(issued, cluster)
    yield* Effect.flatMap(ConnectionState, (c) => c.resume)
    yield* Effect.logInfo("registered with the control plane").pipe(Effect.annotateLogs({ clusterId: issued.clusterId }))
    const patched = yield* patchSpec(cluster, {
      ...(forced ? { metadata: { annotations: { [Annotations.rotateCredentials]: null } } } : {}),
      spec: {
        ...(clusterId === "" ? { clusterId: issued.clusterId } : {}),
        ...(inline ? { registrationToken: null } : {})
      }
    })
    if (inline) {
      const recorder = yield* EventRecorder
      yield* recorder.record(
        cluster,
        "Warning",
        "DeprecatedField",
        "spec.registrationToken is deprecated and has been cleared: put the token in a Secret and use spec.registrationTokenSecretRef"
      )
    }
    return {
      _tag: "Registered",
      fields: { observedToken: fingerprint, credentialsSecretRef: secretRef, credentialStatus },
      cluster: patched
    } satisfies Registration
  })

/**
 * No token to resolve. An inline token is cleared from the spec right after its exchange, and the
 * status write that records the exchange may have lost a race with that patch: what this process
 * exchanged for the Cluster is recorded again.
 */
const recordedExchange = (cluster: ClusterObject, state: PassState) =>
  Effect.map(Ref.get(state.exchanged), (exchanged): Registration => {
    const name = cluster.metadata.name ?? ""
    const last = [...exchanged.entries()].filter(([, e]) => e.cluster === name).at(-1)
    if (last === undefined || cluster.status?.observedToken === last[0]) return { _tag: "Unchanged" }
    const { credentialStatus } = last[1]
    return {
      _tag: "Adopted",
      fields: {
        observedToken: last[0],
        credentialStatus,
        credentialsSecretRef: { name: credentialStatus.secretName ?? "", namespace: credentialStatus.secretNamespace }
      }
    }
  })

/**
 * A merge patch of spec/metadata fields the operator owns by contract (no resourceVersion: the
 * exchange is done). Returns the Cluster as the server now has it, which the pass carries on
 * from; one that cannot be decoded leaves `cluster` as it was, whose older version makes the
 * pass's status write a Conflict (and the pass runs again).
 */
const patchSpec = (cluster: ClusterObject, body: Record<string, unknown>) =>
  Effect.flatMap(KubeApi, (api) =>
    withKubeRetry(api.patch(ClusterType, cluster.metadata.name ?? "", undefined, "merge", body), { maxRetries: 8 })
  ).pipe(Effect.map((patched) => Either.getOrElse(decode(patched), () => cluster)))

/**
 * `POST /api/agent/credentials/rotate`, then the new token is stored before anything else is
 * sent. Returns the failure's message, or the Cluster with `spec.rotateCredentials` cleared.
 */
const rotate = (cluster: ClusterObject) =>
  Effect.gen(function* () {
    const client = yield* AgentClient
    const rotation = yield* CredentialRotation
    // A pass that read the Cluster from before this process cleared the request must not rotate again.
    yield* confirmCurrent(ClusterType, cluster)
    const result = yield* client.rotateCredentials.pipe(
      Effect.mapError((e) => ({ message: `credential rotation failed: ${e.message}` })),
      Effect.flatMap((answer) => rotation.persist({ token: answer.token, ...(answer.expiresAt ? { expiresAt: answer.expiresAt } : {}) })),
      Effect.either
    )
    if (result._tag === "Left") return Either.left(result.left.message)
    return Either.right(yield* patchSpec(cluster, { spec: { rotateCredentials: false } }))
  })

/** The heartbeat with one credential reload on a 401, as every agent request does. */
const sendHeartbeat = (conditions: ReadonlyArray<Condition>, warning: RepeatedWarning) =>
  Effect.gen(function* () {
    const client = yield* AgentClient
    const credentials = yield* AgentCredentials
    const connection = yield* ConnectionState
    const send = Effect.flatMap(credentials.current, (c) =>
      Option.match(c, {
        onNone: () => Effect.void,
        onSome: (value) =>
          Effect.flatMap(nowDate, (now) => client.postEvents([heartbeatEvent({ name: value.clusterId }, conditions, now)]))
      })
    )
    const outcome = yield* send.pipe(
      Effect.catchIf(
        (e) => e._tag === "AgentHttpError" && e.status === 401,
        () => Effect.zipRight(credentials.reload, send)
      ),
      Effect.either
    )
    if (outcome._tag === "Right") {
      yield* connection.succeeded
      yield* warning.clear
      return { ok: true, authFailed: false } as const
    }
    const error = outcome.left
    yield* connection.failed(`heartbeat: ${describeAgentError(error)}`)
    if (error._tag === "AgentHttpError" && error.status === 401) yield* connection.halt("CredentialRejected", error.message)
    if (error._tag === "AgentHttpError" && error.status === 403) yield* connection.halt("Forbidden", error.message)
    yield* warning.warn({ message: `${error._tag}: ${error.message}` })
    return { ok: false, authFailed: isAuthFailure(error) } as const
  })

const bufferCondition = (stats: BufferStats): ConditionUpdate =>
  stats.overflow.active
    ? cond(T.BufferOverflow, "True", R.EventBufferFull, `Outbound event buffer is full: ${stats.overflow.dropped} events dropped`)
    : cond(T.BufferOverflow, "False", R.BufferDrained, "Outbound event buffer has drained successfully")

/** Connected, Disconnected, Authenticated and the phase, from what the round trips said. */
export const connectionConditions = (input: {
  readonly credentials: boolean
  readonly snapshot: ConnectionSnapshot
  readonly now: number
  readonly startedAt: number
  readonly disconnectWindow: Duration.Duration
  readonly authFailed: boolean
  readonly storedPhase: Phase | undefined
}): { readonly phase: Phase; readonly conditions: ReadonlyArray<ConditionUpdate> } => {
  const { snapshot } = input
  if (!input.credentials) {
    return {
      phase: "Pending",
      conditions: [
        cond(T.Connected, "False", R.CredentialMissing, msg.credentialMissing),
        cond(T.Authenticated, "False", R.CredentialMissing, msg.credentialMissing)
      ]
    }
  }
  if (Option.isSome(snapshot.halted)) {
    const halted = snapshot.halted.value
    return {
      phase: "Error",
      conditions: [
        cond(T.Connected, "False", R.ControlPlaneUnreachable, `requests stopped until the credential changes: ${halted.message}`),
        cond(T.Authenticated, "False", R.CredentialRejected, halted.message)
      ]
    }
  }
  const lastOk = Option.map(snapshot.lastSuccessAt, (d) => d.getTime())
  const failure = Option.filter(snapshot.lastFailure, (f) => Option.isNone(lastOk) || f.at.getTime() > lastOk.value)
  if (Option.isSome(failure)) {
    const downSince = Option.getOrElse(lastOk, () => input.startedAt)
    const disconnected = input.now - downSince >= Duration.toMillis(input.disconnectWindow)
    const message = failure.value.message
    return {
      phase: disconnected ? "Disconnected" : Option.isSome(lastOk) ? "Connected" : (input.storedPhase ?? "Pending"),
      conditions: [
        cond(T.Connected, "False", R.ControlPlaneUnreachable, message),
        ...(disconnected
          ? [
              cond(
                T.Disconnected,
                "True",
                R.NoRecentRoundTrip,
                `no successful round trip to the control plane for ${Duration.format(Duration.millis(input.now - downSince))}: ${message}`
              )
            ]
          : []),
        ...(input.authFailed ? [cond(T.Authenticated, "False", R.ControlPlaneAuthenticationFailed, message)] : [])
      ]
    }
  }
  if (Option.isSome(lastOk)) {
    return {
      phase: "Connected",
      conditions: [
        cond(T.Connected, "True", R.RoundTripOK, msg.roundTripOk),
        cond(T.Disconnected, "False", R.Connected, msg.alive),
        cond(T.Authenticated, "True", R.CredentialAccepted, msg.accepted)
      ]
    }
  }
  // Registered, no round trip yet.
  return { phase: input.storedPhase ?? "Registering", conditions: [] }
}

const controlPlaneConditions = [T.Connected, T.Disconnected, T.Authenticated]

const reconcileLive = (cluster: ClusterObject, state: PassState) =>
  Effect.gen(function* () {
    const config = yield* OperatorConfig
    const intent = yield* IntentSource
    const credentials = yield* AgentCredentials
    const connection = yield* ConnectionState
    const interval = config.connectivity.heartbeatInterval

    const registration: Registration = yield* register(cluster, state)
    if (registration._tag === "Blocked") {
      yield* write(cluster, { phase: registration.phase, connectivityMode: intent.mode }, registration.conditions, eventFor)
      return ReconcileResult.requeueAfter(registrationRetry)
    }
    const registered = registration._tag === "Registered"
    // Every write of this pass after the first spec patch carries on from the version it produced.
    let current = registration._tag === "Registered" ? registration.cluster : cluster
    const fields: Partial<Omit<Status, "conditions">> = {
      connectivityMode: intent.mode,
      ...(registration._tag === "Unchanged" ? {} : registration.fields)
    }

    if (current.spec?.rotateCredentials === true) {
      const rotated = yield* rotate(current)
      if (Either.isLeft(rotated)) {
        yield* write(current, { ...fields, phase: "Error" }, [cond(T.Authenticated, "False", R.RotationFailed, rotated.left)], eventFor)
        return ReconcileResult.requeueAfter(rotationRetry)
      }
      current = rotated.right
    }

    const now = yield* Effect.clockWith((c) => c.currentTimeMillis)
    const last = yield* Ref.get(state.periodic)
    const due = registered || last.at === 0 || now - last.at >= Duration.toMillis(interval)
    const updates: Array<ConditionUpdate> = []
    let authFailed = last.authFailed
    let lastHeartbeat: string | undefined
    if (due) {
      const controllers = yield* controllersHealthy
      updates.push(controllers)
      const stored = yield* credentials.current
      const halted = Option.isSome((yield* connection.get).halted)
      if (intent.usesControlPlane && Option.isSome(stored) && !halted) {
        // The heartbeat carries the stored conditions: not those of a copy the cache has not caught up on.
        yield* confirmCurrent(ClusterType, current)
        const beat = yield* sendHeartbeat(setConditions(current.status?.conditions, [controllers], new Date(now)), state.heartbeatWarning)
        authFailed = beat.authFailed
        if (beat.ok) lastHeartbeat = formatConditionTime(new Date(now))
      }
      yield* Ref.set(state.periodic, { at: now, authFailed })
    }

    const report = yield* intent.report
    let phase: Phase
    let drop: ReadonlyArray<string> = []
    if (intent.usesControlPlane) {
      const connected = connectionConditions({
        credentials: Option.isSome(yield* credentials.current),
        snapshot: yield* connection.get,
        now,
        startedAt: state.startedAt,
        disconnectWindow: config.connectivity.disconnectWindow,
        authFailed,
        storedPhase: registered ? "Registering" : current.status?.phase
      })
      phase = connected.phase
      updates.push(
        ...(registered && connected.conditions.length === 0
          ? [
              cond(T.Authenticated, "True", R.RegistrationComplete, msg.exchanged),
              cond(T.Connected, "True", R.ControlPlaneReachable, msg.exchangeOk)
            ]
          : connected.conditions)
      )
    } else {
      // No control plane to be connected to: no Connected, Disconnected or Authenticated.
      phase = report.healthy ? "Connected" : "Pending"
      drop = controlPlaneConditions
    }
    const stats = yield* state.options.bufferStats
    if (Option.isSome(stats)) updates.push(bufferCondition(stats.value))

    yield* write(
      current,
      { ...fields, ...report.fields, ...(lastHeartbeat === undefined ? {} : { lastHeartbeat }), phase },
      updates,
      eventFor,
      drop
    )
    const elapsed = (yield* Effect.clockWith((c) => c.currentTimeMillis)) - (due ? now : last.at)
    return ReconcileResult.requeueAfter(Duration.millis(Math.max(1000, Duration.toMillis(interval) - elapsed)))
  })
