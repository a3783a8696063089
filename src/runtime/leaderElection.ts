import { randomUUID } from "node:crypto"
import { hostname } from "node:os"
import {
  Clock,
  Data,
  Deferred,
  Duration,
  Effect,
  Option,
  Random,
  Ref,
  Stream,
  SubscriptionRef
} from "effect"
import type { KubeError } from "../kube/errors.js"
import { KubeApi, type KubeApiService } from "../kube/KubeApi.js"
import type { KubeObject } from "../kube/object.js"
import { Resources } from "../kube/resources.js"
import { Metrics } from "../observability/metrics.js"

export interface LeaderElectionConfig {
  /** Name of the Lease (the original uses `dad03b25.vworkspace.io`). */
  readonly leaseName: string
  /** Namespace of the Lease: the operator's own namespace. */
  readonly namespace: string
  /** Defaults to `<hostname>_<uuid>`, unique per process. */
  readonly identity?: string
  /** How long a lease stays valid without renewal. Default 15 s. */
  readonly leaseDuration?: Duration.DurationInput
  /** A leader that could not renew for this long gives up. Default 10 s. */
  readonly renewDeadline?: Duration.DurationInput
  /** Pause between acquire or renew attempts. Default 2 s. */
  readonly retryPeriod?: Duration.DurationInput
  /** Release the lease when `run` is interrupted (graceful shutdown). Default true. */
  readonly releaseOnCancel?: boolean
}

export class InvalidLeaderElectionConfig extends Data.TaggedError("InvalidLeaderElectionConfig")<{
  readonly message: string
}> {}

export interface LeaderElector {
  readonly identity: string
  /** True while this process holds the lease. */
  readonly isLeader: SubscriptionRef.SubscriptionRef<boolean>
  /** Completes when a lease this process held is lost; the process should then exit. */
  readonly onLost: Deferred.Deferred<void>
  /**
   * Campaigns: acquires the lease, then renews it. Returns once leadership is lost. When
   * interrupted while leading it releases the lease (unless `releaseOnCancel` is false), so the
   * next candidate takes over at once.
   */
  readonly run: Effect.Effect<void>
  /** Waits until leading, then runs `effect`, interrupting it if leadership is lost. */
  readonly runWhenLeader: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<void, E, R>
  /** For readiness: leading, or a standby that reached the API server recently. */
  readonly ready: Effect.Effect<boolean>
  /** For liveness: false when leading but renewals have stalled beyond the lease duration. */
  readonly healthy: Effect.Effect<boolean>
}

/** The `spec` of a coordination.k8s.io/v1 Lease, as far as leader election uses it. */
export interface LeaseRecord {
  readonly holderIdentity: string
  readonly leaseDurationSeconds: number
  readonly acquireTime?: string
  readonly renewTime?: string
  readonly leaseTransitions: number
}

/** Kubernetes MicroTime: RFC 3339 with exactly six fractional digits. */
export const microTime = (millis: number): string => new Date(millis).toISOString().replace(/\.(\d{3})Z$/, ".$1000Z")

export const readLeaseRecord = (lease: KubeObject): LeaseRecord => {
  const spec = (typeof lease.spec === "object" && lease.spec !== null ? lease.spec : {}) as Record<string, unknown>
  const str = (v: unknown) => (typeof v === "string" ? v : undefined)
  const num = (v: unknown) => (typeof v === "number" ? v : 0)
  const acquireTime = str(spec.acquireTime)
  const renewTime = str(spec.renewTime)
  return {
    holderIdentity: str(spec.holderIdentity) ?? "",
    leaseDurationSeconds: num(spec.leaseDurationSeconds),
    leaseTransitions: num(spec.leaseTransitions),
    ...(acquireTime === undefined ? {} : { acquireTime }),
    ...(renewTime === undefined ? {} : { renewTime })
  }
}

const sameRecord = (a: LeaseRecord, b: LeaseRecord): boolean =>
  a.holderIdentity === b.holderIdentity &&
  a.leaseDurationSeconds === b.leaseDurationSeconds &&
  a.acquireTime === b.acquireTime &&
  a.renewTime === b.renewTime &&
  a.leaseTransitions === b.leaseTransitions

/**
 * Writes a lease record only if the Lease is still at `resourceVersion`: a JSON merge patch
 * whose body carries `metadata.resourceVersion` is an optimistic-concurrency precondition, and
 * the API server answers 409 Conflict when someone else wrote the Lease in between.
 */
export const patchLease = (
  api: KubeApiService,
  config: Pick<LeaderElectionConfig, "leaseName" | "namespace">,
  resourceVersion: string,
  record: LeaseRecord
): Effect.Effect<KubeObject, KubeError> =>
  api.patch(Resources.Lease, config.leaseName, config.namespace, "merge", {
    metadata: { resourceVersion },
    spec: record
  })

interface Observation {
  readonly record: LeaseRecord
  /** Local time at which `record` was first seen: expiry is judged by our clock, not the holder's. */
  readonly observedAt: number
}

interface ElectorState {
  readonly observed: Option.Option<Observation>
  /** Last time a call to the API server about the lease succeeded. */
  readonly lastContact: Option.Option<number>
  /** Last successful acquire or renew while leading. */
  readonly lastRenew: number
  readonly leading: boolean
}

export const make = (
  config: LeaderElectionConfig
): Effect.Effect<LeaderElector, InvalidLeaderElectionConfig, KubeApi | Metrics> =>
  Effect.gen(function* () {
    const api = yield* KubeApi
    const metrics = (yield* Metrics).leaderElection(config.leaseName)
    const leaseDuration = Duration.decode(config.leaseDuration ?? "15 seconds")
    const renewDeadline = Duration.decode(config.renewDeadline ?? "10 seconds")
    const retryPeriod = Duration.decode(config.retryPeriod ?? "2 seconds")
    if (!Duration.greaterThan(leaseDuration, renewDeadline)) {
      return yield* new InvalidLeaderElectionConfig({ message: "leaseDuration must be greater than renewDeadline" })
    }
    if (!Duration.greaterThan(renewDeadline, Duration.times(retryPeriod, 1.2))) {
      return yield* new InvalidLeaderElectionConfig({ message: "renewDeadline must be greater than 1.2 × retryPeriod" })
    }
    const identity = config.identity ?? `${hostname()}_${randomUUID()}`
    const leaseSeconds = Math.max(1, Math.ceil(Duration.toSeconds(leaseDuration)))
    const isLeader = yield* SubscriptionRef.make(false)
    const onLost = yield* Deferred.make<void>()
    const state = yield* Ref.make<ElectorState>({
      observed: Option.none(),
      lastContact: Option.none(),
      lastRenew: 0,
      leading: false
    })

    const observe = (record: LeaseRecord, now: number) =>
      Ref.update(state, (s) => {
        const unchanged = Option.isSome(s.observed) && sameRecord(s.observed.value.record, record)
        return {
          ...s,
          lastContact: Option.some(now),
          observed: unchanged ? s.observed : Option.some({ record, observedAt: now })
        }
      })

    /** One attempt; true when we hold the lease afterwards. */
    const tryAcquireOrRenew: Effect.Effect<boolean, KubeError> = Effect.gen(function* () {
      const now = yield* Clock.currentTimeMillis
      const ours = (previous: LeaseRecord | undefined): LeaseRecord => ({
        holderIdentity: identity,
        leaseDurationSeconds: leaseSeconds,
        acquireTime: previous?.holderIdentity === identity && previous.acquireTime ? previous.acquireTime : microTime(now),
        renewTime: microTime(now),
        leaseTransitions:
          previous === undefined
            ? 0
            : previous.holderIdentity === identity
              ? previous.leaseTransitions
              : previous.leaseTransitions + 1
      })
      const current = yield* api.get(Resources.Lease, config.leaseName, config.namespace).pipe(
        Effect.map(Option.some),
        Effect.catchTag("NotFound", () => Effect.succeed(Option.none<KubeObject>()))
      )
      if (Option.isNone(current)) {
        const record = ours(undefined)
        const created = yield* api
          .create(Resources.Lease, {
            apiVersion: "coordination.k8s.io/v1",
            kind: "Lease",
            metadata: { name: config.leaseName, namespace: config.namespace },
            spec: record
          })
          .pipe(
            Effect.as(true),
            Effect.catchTag("AlreadyExists", () => Effect.succeed(false))
          )
        if (created) yield* observe(record, now)
        return created
      }
      const lease = current.value
      const record = readLeaseRecord(lease)
      yield* observe(record, now)
      const { observed } = yield* Ref.get(state)
      const observedAt = Option.match(observed, { onNone: () => now, onSome: (o) => o.observedAt })
      const heldByOther =
        record.holderIdentity !== "" &&
        record.holderIdentity !== identity &&
        observedAt + record.leaseDurationSeconds * 1000 > now
      if (heldByOther) return false
      const next = ours(record)
      const written = yield* patchLease(api, config, lease.metadata.resourceVersion ?? "", next).pipe(
        Effect.as(true),
        Effect.catchTag("Conflict", () => Effect.succeed(false))
      )
      if (written) yield* observe(next, now)
      return written
    })

    const attempt = (timeout: Duration.Duration): Effect.Effect<boolean> =>
      tryAcquireOrRenew.pipe(
        Effect.timeoutFail({ duration: timeout, onTimeout: () => "timed out" as const }),
        Effect.catchAll((error) =>
          Effect.as(
            Effect.logWarning("leader election: lease update failed").pipe(
              Effect.annotateLogs({ lease: `${config.namespace}/${config.leaseName}`, error: typeof error === "string" ? error : error.message })
            ),
            false
          )
        )
      )

    const setLeading = (leading: boolean) =>
      Effect.all([
        Ref.update(state, (s) => ({ ...s, leading })),
        SubscriptionRef.set(isLeader, leading),
        metrics.setLeader(leading)
      ])

    /**
     * The pause before the next acquire attempt: client-go's jittered [period, 1.2 × period), but
     * no longer than until the observed lease expires, so a dead leader is replaced promptly.
     */
    const pauseBeforeAcquire = Effect.gen(function* () {
      const jittered = Duration.toMillis(retryPeriod) * (1 + 0.2 * (yield* Random.next))
      const { observed } = yield* Ref.get(state)
      const now = yield* Clock.currentTimeMillis
      const untilExpiry = Option.match(observed, {
        onNone: () => jittered,
        onSome: (o) =>
          o.record.holderIdentity === "" ? jittered : o.observedAt + o.record.leaseDurationSeconds * 1000 - now
      })
      yield* Effect.sleep(Duration.millis(untilExpiry > 0 && untilExpiry < jittered ? untilExpiry : jittered))
    })

    const acquire: Effect.Effect<void> = Effect.gen(function* () {
      for (;;) {
        if (yield* attempt(retryPeriod)) break
        yield* pauseBeforeAcquire
      }
      const now = yield* Clock.currentTimeMillis
      yield* Ref.update(state, (s) => ({ ...s, lastRenew: now }))
      yield* setLeading(true)
      yield* Effect.logInfo("leader election: acquired lease")
    })

    const renew: Effect.Effect<void> = Effect.gen(function* () {
      for (;;) {
        yield* Effect.sleep(retryPeriod)
        const { lastRenew } = yield* Ref.get(state)
        const remaining = Duration.millis(Math.max(1, lastRenew + Duration.toMillis(renewDeadline) - (yield* Clock.currentTimeMillis)))
        const renewed = yield* attempt(remaining)
        const now = yield* Clock.currentTimeMillis
        if (renewed) yield* Ref.update(state, (s) => ({ ...s, lastRenew: now }))
        else if (now - lastRenew >= Duration.toMillis(renewDeadline)) return
      }
    })

    const release: Effect.Effect<void> = Effect.gen(function* () {
      const lease = yield* api.get(Resources.Lease, config.leaseName, config.namespace)
      const record = readLeaseRecord(lease)
      if (record.holderIdentity !== identity) return
      const now = microTime(yield* Clock.currentTimeMillis)
      yield* patchLease(api, config, lease.metadata.resourceVersion ?? "", {
        holderIdentity: "",
        leaseDurationSeconds: 1,
        acquireTime: now,
        renewTime: now,
        leaseTransitions: record.leaseTransitions
      })
      yield* Effect.logInfo("leader election: released lease")
    }).pipe(
      Effect.timeout(renewDeadline),
      Effect.catchAll((error) => Effect.logWarning("leader election: could not release the lease", error))
    )

    const onInterruptWhileLeading = Effect.gen(function* () {
      const { leading } = yield* Ref.get(state)
      if (!leading) return
      yield* setLeading(false)
      if (config.releaseOnCancel ?? true) yield* release
    })

    const run: Effect.Effect<void> = Effect.gen(function* () {
      yield* Effect.logInfo("leader election: waiting to acquire lease").pipe(
        Effect.annotateLogs({ lease: `${config.namespace}/${config.leaseName}`, identity })
      )
      yield* acquire
      yield* renew
      yield* setLeading(false)
      yield* Effect.logError("leader election: lost lease")
      yield* Deferred.succeed(onLost, undefined)
    }).pipe(Effect.onInterrupt(() => onInterruptWhileLeading))

    const awaitLeader = isLeader.changes.pipe(
      Stream.filter((leading) => leading),
      Stream.take(1),
      Stream.runDrain
    )

    const runWhenLeader = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<void, E, R> =>
      Effect.zipRight(awaitLeader, Effect.raceFirst(Effect.asVoid(effect), Deferred.await(onLost)))

    const ready = Effect.gen(function* () {
      const s = yield* Ref.get(state)
      if (s.leading) return true
      const now = yield* Clock.currentTimeMillis
      return Option.match(s.lastContact, {
        onNone: () => false,
        onSome: (at) => now - at <= Duration.toMillis(leaseDuration)
      })
    })

    const healthy = Effect.gen(function* () {
      const s = yield* Ref.get(state)
      if (!s.leading) return true
      return (yield* Clock.currentTimeMillis) - s.lastRenew <= Duration.toMillis(leaseDuration) + Duration.toMillis(renewDeadline)
    })

    return { identity, isLeader, onLost, run, runWhenLeader, ready, healthy }
  })

/** For `--leader-elect=false`: always the leader, never loses. */
export const alwaysLeader: Effect.Effect<LeaderElector> = Effect.gen(function* () {
  const isLeader = yield* SubscriptionRef.make(true)
  const onLost = yield* Deferred.make<void>()
  return {
    identity: hostname(),
    isLeader,
    onLost,
    run: Effect.never,
    runWhenLeader: (effect) => Effect.asVoid(effect),
    ready: Effect.succeed(true),
    healthy: Effect.succeed(true)
  }
})

export const LeaderElection = { make, alwaysLeader } as const
