import { Cause, Data, Deferred, Duration, Effect, type Scope } from "effect"
import type { KubeApi } from "../kube/KubeApi.js"
import type { ResourceType } from "../kube/object.js"
import type { Metrics } from "../observability/metrics.js"
import type { Controller } from "./controller.js"
import * as Health from "./health.js"
import {
  type InvalidLeaderElectionConfig,
  type LeaderElectionConfig,
  type LeaderElector,
  LeaderElection
} from "./leaderElection.js"

/** What the manager needs of an informer (`Informer` of `src/kube/informer.ts` fits). */
export interface SyncedCache {
  readonly resource: ResourceType
  /** Completes once the first list is in the cache. */
  readonly synced: Effect.Effect<void>
  readonly hasSynced: Effect.Effect<boolean>
  /** For `/readyz`, when the cache can say more than whether it synced (a blind watch, a missing kind). */
  readonly health?: Effect.Effect<boolean | Health.HealthProblem>
}

export interface ManagerOptions<R> {
  /** Run only on the leader, once every cache has synced. */
  readonly controllers: ReadonlyArray<Controller<R>>
  /**
   * Informers the controllers read from. They run on every replica (so a new leader starts with
   * a warm cache); the caller creates them in the manager's scope.
   */
  readonly caches: ReadonlyArray<SyncedCache>
  /** Other work that must run only on the leader (the Pull agent, the outbox), after cache sync. */
  readonly leaderRunnables?: ReadonlyArray<Effect.Effect<void, never, R>>
  /** Absent: no election, this process always leads (`--leader-elect=false`). */
  readonly leaderElection?: LeaderElectionConfig
  /** Where `/healthz` and `/readyz` are served. */
  readonly healthProbe: Health.BindAddress
  /** Extra checks, e.g. a control-plane connectivity check for readiness. */
  readonly healthzChecks?: ReadonlyArray<Health.HealthCheck>
  readonly readyzChecks?: ReadonlyArray<Health.HealthCheck>
  /** Fail when the caches have not synced by then. Default 2 min, as controller-runtime. */
  readonly cacheSyncTimeout?: Duration.DurationInput
}

/** This process held the lease and lost it; it must exit so a clean replica takes over. */
export class LeadershipLost extends Data.TaggedError("LeadershipLost")<{ readonly message: string }> {}

export class CacheSyncTimeout extends Data.TaggedError("CacheSyncTimeout")<{ readonly message: string }> {}

export type ManagerError = LeadershipLost | CacheSyncTimeout | Health.HealthServerError | InvalidLeaderElectionConfig

export interface RunningManager {
  readonly health: Health.HealthServer
  readonly elector: LeaderElector
  /** Never succeeds: fails when leadership is lost or the caches do not sync. */
  readonly wait: Effect.Effect<never, LeadershipLost | CacheSyncTimeout>
}

const cacheName = (c: SyncedCache): string =>
  c.resource.group === "" ? c.resource.plural : `${c.resource.plural}.${c.resource.group}`

/**
 * Starts everything in the scope: the probe server, the leader election campaign, and (on the
 * leader, after cache sync) the controllers and leader runnables. Closing the scope stops the
 * leader work first and then releases the lease, so there is never a moment with two leaders
 * both running controllers.
 */
export const start = <R>(
  options: ManagerOptions<R>
): Effect.Effect<RunningManager, Health.HealthServerError | InvalidLeaderElectionConfig, R | KubeApi | Metrics | Scope.Scope> =>
  Effect.gen(function* () {
    const elector = options.leaderElection
      ? yield* LeaderElection.make(options.leaderElection)
      : yield* LeaderElection.alwaysLeader

    const health = yield* Health.serve({
      address: options.healthProbe,
      healthz: [{ name: "leader-election", check: elector.healthy }, ...(options.healthzChecks ?? [])],
      readyz: [
        ...options.caches.map((c) => ({ name: `cache-sync/${cacheName(c)}`, check: c.health ?? c.hasSynced })),
        { name: "leader-election", check: elector.ready },
        ...(options.readyzChecks ?? [])
      ]
    })
    yield* Effect.logInfo("health probes listening").pipe(Effect.annotateLogs({ port: health.port }))

    // Scope finalizers run in reverse: the leader work (forked second) stops before the
    // campaign (forked first) is interrupted and releases the lease.
    yield* Effect.forkScoped(elector.run)

    const failed = yield* Deferred.make<never, LeadershipLost | CacheSyncTimeout>()
    const syncTimeout = Duration.decode(options.cacheSyncTimeout ?? "2 minutes")
    const waitForCaches = Effect.forEach(options.caches, (c) => c.synced, { concurrency: "unbounded", discard: true }).pipe(
      Effect.timeoutFail({
        duration: syncTimeout,
        onTimeout: () =>
          new CacheSyncTimeout({ message: `caches did not sync within ${Duration.format(syncTimeout)}` })
      }),
      Effect.tap(() => Effect.logInfo("caches synced"))
    )
    const leaderWork = Effect.all(
      [...options.controllers.map((c) => c.run), ...(options.leaderRunnables ?? [])],
      { concurrency: "unbounded", discard: true }
    )
    const work = waitForCaches.pipe(Effect.zipRight(elector.runWhenLeader(leaderWork)))
    // A failure or defect of the leader work ends the manager instead of leaving it running idle.
    yield* Effect.forkScoped(
      work.pipe(
        Effect.catchAllCause((cause) => (Cause.isInterruptedOnly(cause) ? Effect.void : Deferred.failCause(failed, cause)))
      )
    )
    yield* Effect.forkScoped(
      Deferred.await(elector.onLost).pipe(
        Effect.zipRight(Deferred.fail(failed, new LeadershipLost({ message: "lost the leader-election lease" })))
      )
    )
    return { health, elector, wait: Deferred.await(failed) }
  })

/**
 * Runs the manager until interrupted (graceful shutdown: under `NodeRuntime.runMain`, SIGTERM
 * interrupts, the leader work stops and the lease is released) or until it fails with
 * `LeadershipLost` / `CacheSyncTimeout`, on which the process should exit non-zero.
 */
export const run = <R>(options: ManagerOptions<R>): Effect.Effect<never, ManagerError, R | KubeApi | Metrics> =>
  Effect.scoped(Effect.flatMap(start(options), (manager) => manager.wait))

export const Manager = { start, run } as const
