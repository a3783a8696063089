/**
 * The Pull agent (spec/connectivity.md §2.6, DESIGN.md items 7 and 8): long-polls the control
 * plane for jobs and runs each one ack → signature → expiry → idempotency → apply/delete/intent →
 * readiness (with interim `/status`) → exactly one `/result`. Independent jobs run concurrently
 * (bounded); jobs for the same object run in the order they arrived. Run it on the leader only.
 */
import type { KeyObject } from "node:crypto"
import { Deferred, Duration, Effect, Either, FiberSet, Option, Schema } from "effect"
import type { Job, JobResult } from "../../api/agentProtocol.js"
import type { KubeError } from "../../kube/errors.js"
import { KubeApi } from "../../kube/KubeApi.js"
import type { ResourceType } from "../../kube/object.js"
import { Resources } from "../../kube/resources.js"
import { withKubeRetry } from "../../kube/retry.js"
import { AgentClient, type JobEnvelope } from "../agentClient.js"
import { ConnectionState } from "../connectionState.js"
import { AgentCredentials, CredentialRotation } from "../credentials.js"
import type { AgentRetryOptions } from "../retry.js"
import { defaultAllowedKinds } from "./allowList.js"
import { type ApplierContext, objectKeyOf, type Outcome, runPayload } from "./applier.js"
import { observe } from "../../observability/metrics.js"
import { SpanNames } from "../../observability/tracing.js"
import { makeRepeatedWarning } from "../../observability/repeatedWarning.js"
import { makeRobust } from "./calls.js"
import { defaultIdempotencyStoreConfig, type IdempotencyStore, makeIdempotencyStore } from "./idempotencyStore.js"
import { parsePublicKey, signatureProblem } from "./signature.js"

export interface SigningKeyRef {
  /** Secret in `PullAgentConfig.namespace` holding the control plane's Ed25519 public key. */
  readonly secretName: string
  /** Data key; PEM (SPKI) or the raw 32-byte key in base64. Default `public-key`. */
  readonly key?: string
}

export interface PullAgentConfig {
  /** The operator's namespace: where the idempotency store lives (and the signing-key Secret). */
  readonly namespace: string
  /** `wait` of the long poll, in seconds (the original's `--agent-poll-interval`). Default 30. */
  readonly waitSeconds?: number
  /** Jobs applied at the same time. Default 8. */
  readonly concurrency?: number
  /** How long a job may wait for readiness before it is `failed`. Default 10 min. */
  readonly readinessTimeout?: Duration.DurationInput
  /** The kinds jobs may write. Default `defaultAllowedKinds`. */
  readonly allowedKinds?: ReadonlyArray<ResourceType>
  /** When set, every job must carry a valid Ed25519 signature over its payload. */
  readonly signingKey?: SigningKeyRef
  readonly idempotency?: { readonly ttl?: Duration.DurationInput; readonly maxEntries?: number; readonly linger?: Duration.DurationInput }
  /** Backoff of 429/5xx/transport errors (see `agentRetry`). */
  readonly retry?: AgentRetryOptions
  /** Rights in a target namespace before the first write there (`grantNamespaceAccess`). Default: none needed. */
  readonly grantNamespaceAccess?: (namespace: string) => Effect.Effect<void, string, KubeApi>
}

/** The error text of a job refused for its signature (also the audit reason of the original). */
export const signatureInvalid = "JobPayloadSignatureInvalid"

const nowIso = Effect.map(Effect.clockWith((c) => c.currentTimeMillis), (ms) => new Date(ms).toISOString())

const SecretData = Schema.Struct({ data: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.String })) })

/** The configured public key, or why there is none usable (then every job is refused: fail closed). */
const loadSigningKey = (namespace: string, ref: SigningKeyRef): Effect.Effect<Either.Either<KeyObject, string>, never, KubeApi> =>
  Effect.gen(function* () {
    const kube = yield* KubeApi
    const secret = yield* Effect.either(withKubeRetry(kube.get(Resources.Secret, ref.secretName, namespace)))
    if (Either.isLeft(secret)) return Either.left(`signing key Secret ${namespace}/${ref.secretName}: ${secret.left.message}`)
    const data = Option.getOrUndefined(Schema.decodeUnknownOption(SecretData)(secret.right))?.data ?? {}
    const encoded = data[ref.key ?? "public-key"]
    if (encoded === undefined) return Either.left(`signing key Secret ${namespace}/${ref.secretName} has no key ${ref.key ?? "public-key"}`)
    return Either.mapLeft(parsePublicKey(Buffer.from(encoded, "base64").toString("utf8")), (e) => e.message)
  })

export type PullAgentRequirements = KubeApi | AgentClient | AgentCredentials | ConnectionState | CredentialRotation

/**
 * Runs the agent until interrupted. Fails only when the idempotency store cannot be loaded at
 * start (the caller retries, e.g. the leader loop); every per-job problem becomes a job result.
 */
export const runPullAgent = (config: PullAgentConfig): Effect.Effect<never, KubeError, PullAgentRequirements> =>
  Effect.scoped(
    Effect.gen(function* () {
      const client = yield* AgentClient
      const credentials = yield* AgentCredentials
      const rotation = yield* CredentialRotation
      const services = yield* Effect.context<KubeApi | AgentCredentials | ConnectionState>()
      const store = yield* makeIdempotencyStore({ namespace: config.namespace, ...defaultIdempotencyStoreConfig, ...config.idempotency })
      const signingKey = config.signingKey === undefined ? undefined : yield* loadSigningKey(config.namespace, config.signingKey)
      const concurrency = config.concurrency ?? 8
      const permits = yield* Effect.makeSemaphore(concurrency)
      const waitSeconds = config.waitSeconds ?? 30
      const robust = makeRobust(config.retry)
      const call = <A>(effect: Parameters<typeof robust<A>>[0]) => robust(effect).pipe(Effect.provide(services))

      /** Job ids being worked on: a redelivery of one of them is ignored. */
      const inFlight = new Set<string>()
      /** Per object: the completion of its last job, so the next one waits for it. */
      const lastOfObject = new Map<string, Deferred.Deferred<void>>()
      const fibers = yield* FiberSet.make()
      // The poll loop waits for room in both, so a burst cannot pile up: jobs taken and not applied
      // yet (enough to keep every permit busy), and jobs taken and not finished (applied ones wait
      // for readiness, their key's store write and their result without holding back the next applies).
      const notApplied = yield* Effect.makeSemaphore(concurrency * 4)
      const unfinished = yield* Effect.makeSemaphore(concurrency * 16)

      const postResult = (id: string, outcome: Outcome) =>
        Effect.gen(function* () {
          const result: JobResult = { ...outcome, timestamp: yield* nowIso }
          // Retried until the server takes it; 409 (already recorded) and 404 (unknown job) end it too.
          yield* call(client.postResult(id, result)).pipe(
            Effect.catchAll((e) => Effect.logWarning(`result of job ${id} not accepted: ${e.message}`))
          )
        })

      const knownNamespaces = new Set<string>()
      const context = (clusterId: string, jobId: string, applied: Effect.Effect<void>): ApplierContext => ({
        clusterId,
        knownNamespaces,
        allowedKinds: config.allowedKinds ?? defaultAllowedKinds,
        readinessTimeout: config.readinessTimeout ?? Duration.minutes(10),
        grantNamespaceAccess: config.grantNamespaceAccess ?? (() => Effect.void),
        // Once a job's writes are done it no longer counts as waiting to apply (a readiness wait may follow).
        writing: (writes) => permits.withPermits(1)(writes).pipe(Effect.ensuring(applied)),
        progress: (update) =>
          Effect.flatMap(nowIso, (timestamp) => call(client.postStatus(jobId, { ...update, timestamp }))).pipe(
            Effect.catchAll((e) => Effect.logDebug(`interim status of job ${jobId} not accepted: ${e.message}`))
          ),
        rotateCredentials: call(client.rotateCredentials).pipe(
          Effect.mapError((e) => e.message),
          Effect.flatMap((r) =>
            rotation.persist({ token: r.token, ...(r.expiresAt == null ? {} : { expiresAt: r.expiresAt }) }).pipe(Effect.mapError((e) => e.message))
          )
        )
      })

      /** Everything after the ack, up to the outcome. */
      const outcomeOf = (job: Job, idempotency: IdempotencyStore, applied: Effect.Effect<void>): Effect.Effect<Outcome, never, KubeApi> =>
        Effect.gen(function* () {
          if (signingKey !== undefined) {
            const problem = Either.isLeft(signingKey) ? signingKey.left : signatureProblem(signingKey.right, job.payload, job.signature)
            if (problem !== undefined) return { outcome: "failed", error: `${signatureInvalid}: ${problem}` }
          }
          const expiresAt = job.expiresAt ?? ""
          if (expiresAt !== "") {
            const at = Date.parse(expiresAt)
            if (Number.isNaN(at)) return { outcome: "failed", error: `invalid expiresAt ${JSON.stringify(expiresAt)}` }
            if (at < (yield* Effect.clockWith((c) => c.currentTimeMillis))) return { outcome: "noop", error: "expired" }
          }
          const key = job.idempotencyKey ?? ""
          if (key !== "" && (yield* idempotency.has(key))) return { outcome: "noop" }
          const clusterId = Option.getOrElse(Option.map(yield* credentials.current, (c) => c.clusterId), () => "")
          return yield* runPayload(context(clusterId, job.id, applied), job.kind, job.payload)
        })

      /** Ack, order, apply: the outcome, or none when the job was skipped (no result is due). */
      const applyPhase = (envelope: JobEnvelope, id: string, predecessor: Deferred.Deferred<void> | undefined, applied: Effect.Effect<void>) =>
        Effect.gen(function* () {
          const ack = yield* Effect.either(call(client.ack(id)))
          if (Either.isLeft(ack)) {
            // 404: the job is unknown (withdrawn); anything else the server refused: skip, no result.
            yield* Effect.logInfo(`job ${id} not acked (${ack.left.message}); skipped`)
            return Option.none<Outcome>()
          }
          if (ack.right === "alreadyClosed") {
            // 409: the job is closed (a result exists): it is done; applying it now would be a second effect.
            yield* Effect.logInfo(`job ${id} is already closed; not applied`)
            return Option.none<Outcome>()
          }
          if (predecessor !== undefined) yield* Deferred.await(predecessor)
          if (envelope._tag === "Malformed") return Option.some<Outcome>({ outcome: "failed", error: envelope.message })
          return Option.some(yield* outcomeOf(envelope.job, store, applied))
        })

      /** The key made durable, then the one result. */
      const reportPhase = (envelope: JobEnvelope, id: string, outcome: Outcome) =>
        Effect.gen(function* () {
          // Recorded before the result is posted: after a crash between the two, the redelivered
          // job is a replay (`noop`), not a second apply. Outside the permit, so that the keys of
          // many jobs share one store write while the next jobs apply.
          const key = envelope._tag === "Valid" ? (envelope.job.idempotencyKey ?? "") : ""
          if (outcome.outcome === "succeeded" && key !== "") yield* store.record(key)
          yield* postResult(id, outcome)
          yield* observe((m) => m.pullAgent.jobFinished(id, outcome.outcome === "succeeded"))
        })

      const runJob = (envelope: JobEnvelope, id: string, predecessor: Deferred.Deferred<void> | undefined, done: Deferred.Deferred<void>) => {
        // Its place among the jobs waiting to apply is free once its writes are done, or at the latest with its outcome.
        const job = Effect.flatMap(Effect.once(notApplied.release(1)), (applied) =>
          applyPhase(envelope, id, predecessor, applied).pipe(Effect.ensuring(applied))
        )
        return job.pipe(
          Effect.flatMap(Option.match({ onNone: () => Effect.void, onSome: (outcome) => reportPhase(envelope, id, outcome) })),
          Effect.withSpan(SpanNames.pullJob, {
            root: true,
            // The call site is the same for every job; capturing it costs a stack trace per job.
            captureStackTrace: false,
            attributes: { "job.id": id, "job.kind": envelope._tag === "Valid" ? envelope.job.kind : "malformed" }
          }),
          Effect.ensuring(
            Effect.sync(() => {
              inFlight.delete(id)
            }).pipe(
              // A job that ended without an outcome (skipped, interrupted) no longer lags either.
              Effect.zipRight(observe((m) => m.pullAgent.jobFinished(id, false))),
              Effect.zipRight(Deferred.succeed(done, undefined))
            )
          )
        )
      }

      const dispatch = (envelope: JobEnvelope) =>
        Effect.gen(function* () {
          const id = envelope._tag === "Valid" ? envelope.job.id : envelope.id
          if (id === undefined) {
            yield* Effect.logWarning(`a job without an id cannot be answered; ignored: ${envelope._tag === "Malformed" ? envelope.message : ""}`)
            return
          }
          if (inFlight.has(id)) return
          yield* unfinished.take(1)
          yield* notApplied.take(1)
          inFlight.add(id)
          const createdAt = envelope._tag === "Valid" ? Date.parse(envelope.job.createdAt ?? "") : NaN
          yield* observe((m) => m.pullAgent.jobStarted(id, createdAt))
          const objectKey = (envelope._tag === "Valid" ? objectKeyOf(envelope.job.kind, envelope.job.payload) : undefined) ?? `job:${id}`
          const predecessor = lastOfObject.get(objectKey)
          const done = yield* Deferred.make<void>()
          lastOfObject.set(objectKey, done)
          yield* FiberSet.run(
            fibers,
            runJob(envelope, id, predecessor, done).pipe(
              Effect.ensuring(Effect.sync(() => (lastOfObject.get(objectKey) === done ? lastOfObject.delete(objectKey) : false))),
              Effect.ensuring(unfinished.release(1)),
              Effect.provide(services)
            )
          )
        })

      // A steady refusal (a 400 or 404 on every poll) is one warning, not one a second.
      const pollWarning = yield* makeRepeatedWarning({ warning: "poll refused; polling again every second", recovered: "polling works again" })
      const pollOnce = Effect.gen(function* () {
        const envelopes = yield* call(client.fetchJobEnvelopes(waitSeconds)).pipe(
          Effect.tap(() => pollWarning.clear),
          Effect.catchAll((e) => Effect.as(Effect.zipRight(pollWarning.warn(e), Effect.sleep(Duration.seconds(1))), []))
        )
        for (const envelope of envelopes) yield* dispatch(envelope)
      })

      yield* Effect.logInfo("pull agent started")
      return yield* Effect.forever(pollOnce)
    })
  )
