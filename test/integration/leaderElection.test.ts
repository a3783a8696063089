import { describe, expect, it } from "@effect/vitest"
import { Deferred, Duration, Effect, Exit, Fiber, Layer, Option, Ref, Scope, Stream, SubscriptionRef } from "effect"
import { KubeApi } from "../../src/kube/KubeApi.js"
import { KubeApiLive } from "../../src/kube/KubeApiLive.js"
import { Resources } from "../../src/kube/resources.js"
import { Metrics } from "../../src/observability/metrics.js"
import {
  LeaderElection,
  type LeaderElectionConfig,
  type LeaderElector,
  type LeaseRecord,
  microTime,
  patchLease,
  readLeaseRecord
} from "../../src/runtime/leaderElection.js"
import { Manager } from "../../src/runtime/manager.js"
import { createTestNamespace, kubeconfigPath } from "../support/cluster.js"

const layer = Layer.mergeAll(KubeApiLive.fromKubeconfigFile(kubeconfigPath()), Metrics.test)

/** Resolves when the elector's `isLeader` becomes true. */
const becomesLeader = (e: LeaderElector) =>
  e.isLeader.changes.pipe(Stream.filter((leading) => leading), Stream.take(1), Stream.runDrain)

/** Fails the test if `effect` does not finish within `deadline`. */
const within = <A, E, R>(deadline: Duration.DurationInput, what: string, effect: Effect.Effect<A, E, R>) =>
  effect.pipe(Effect.timeoutFail({ duration: deadline, onTimeout: () => new Error(`timed out: ${what}`) }))

const getLease = (namespace: string, name: string) =>
  Effect.flatMap(KubeApi, (api) => api.get(Resources.Lease, name, namespace))

/** Polls the Lease until its renewTime has moved on from `from` at least `count` times. */
const renewals = (namespace: string, name: string, from: LeaseRecord, count: number) =>
  Effect.gen(function* () {
    let last = from.renewTime
    for (let seen = 0; seen < count; ) {
      const now = readLeaseRecord(yield* getLease(namespace, name))
      if (now.renewTime !== last) {
        seen++
        last = now.renewTime
      } else {
        yield* Effect.sleep("100 millis")
      }
    }
  })

/** Watches both electors and records any moment at which both believe they lead. */
const monitorSingleLeader = (a: LeaderElector, b: LeaderElector) =>
  Effect.gen(function* () {
    const violations = yield* Ref.make(0)
    const check = Effect.gen(function* () {
      if ((yield* SubscriptionRef.get(a.isLeader)) && (yield* SubscriptionRef.get(b.isLeader))) {
        yield* Ref.update(violations, (n) => n + 1)
      }
    })
    yield* Effect.forkScoped(Stream.runForEach(Stream.merge(a.isLeader.changes, b.isLeader.changes), () => check))
    return violations
  })

const twoElectors = (config: Omit<LeaderElectionConfig, "identity">) =>
  Effect.gen(function* () {
    const a = yield* LeaderElection.make({ ...config, identity: "candidate-a" })
    const b = yield* LeaderElection.make({ ...config, identity: "candidate-b" })
    const violations = yield* monitorSingleLeader(a, b)
    const fa = yield* Effect.fork(a.run)
    const fb = yield* Effect.fork(b.run)
    yield* within("20 seconds", "a first leader", Effect.raceFirst(becomesLeader(a), becomesLeader(b)))
    const aLeads = yield* SubscriptionRef.get(a.isLeader)
    return aLeads
      ? { leader: a, leaderFiber: fa, standby: b, standbyFiber: fb, violations }
      : { leader: b, leaderFiber: fb, standby: a, standbyFiber: fa, violations }
  })

describe("leader election (real API server)", () => {
  it.scopedLive("one of two candidates leads; releasing hands over at once", () =>
    Effect.gen(function* () {
      const namespace = yield* createTestNamespace("leader-release")
      const leaseName = "release-test"
      // Default timings (15 s lease): a handover well inside 15 s proves the release was used.
      const { leader, leaderFiber, standby, standbyFiber, violations } = yield* twoElectors({ leaseName, namespace })

      const held = readLeaseRecord(yield* getLease(namespace, leaseName))
      expect(held.holderIdentity).toBe(leader.identity)
      expect(held.leaseDurationSeconds).toBe(15)
      expect(yield* SubscriptionRef.get(standby.isLeader)).toBe(false)

      // The standby's leader-only work waits.
      const standbyWorkStarted = yield* Deferred.make<void>()
      yield* Effect.forkScoped(standby.runWhenLeader(Deferred.succeed(standbyWorkStarted, undefined)))
      // Two renewals later the standby is still a standby, and ready.
      yield* within("10 seconds", "two renewals", renewals(namespace, leaseName, held, 2))
      expect(yield* Deferred.isDone(standbyWorkStarted)).toBe(false)
      expect(yield* SubscriptionRef.get(standby.isLeader)).toBe(false)
      expect(yield* standby.ready).toBe(true)
      expect(yield* leader.ready).toBe(true)

      yield* Fiber.interrupt(leaderFiber)
      expect(yield* SubscriptionRef.get(leader.isLeader)).toBe(false)
      const released = readLeaseRecord(yield* getLease(namespace, leaseName))
      expect(released.holderIdentity === "" || released.holderIdentity === standby.identity).toBe(true)

      yield* within("6 seconds", "handover after release", becomesLeader(standby))
      yield* within("1 second", "standby's leader-only work", Deferred.await(standbyWorkStarted))
      const taken = readLeaseRecord(yield* getLease(namespace, leaseName))
      expect(taken.holderIdentity).toBe(standby.identity)
      expect(taken.leaseTransitions).toBe(held.leaseTransitions + 1)
      expect(yield* Ref.get(violations)).toBe(0)
      yield* Fiber.interrupt(standbyFiber)
    }).pipe(Effect.provide(layer))
  )

  it.scopedLive("a killed leader is replaced only after its lease expires", () =>
    Effect.gen(function* () {
      const namespace = yield* createTestNamespace("leader-kill")
      const leaseName = "kill-test"
      const { leader, leaderFiber, standby, standbyFiber, violations } = yield* twoElectors({
        leaseName,
        namespace,
        leaseDuration: "15 seconds",
        renewDeadline: "10 seconds",
        retryPeriod: "2 seconds",
        // A crash does not release anything.
        releaseOnCancel: false
      })
      yield* Fiber.interrupt(leaderFiber)
      const lastByOldLeader = readLeaseRecord(yield* getLease(namespace, leaseName))
      expect(lastByOldLeader.holderIdentity).toBe(leader.identity)

      yield* within("20 seconds", "takeover after expiry", becomesLeader(standby))
      const taken = readLeaseRecord(yield* getLease(namespace, leaseName))
      expect(taken.holderIdentity).toBe(standby.identity)
      // The standby respected the lease: it took over no earlier than one lease duration after
      // the old leader's last renewal (both times are written by this machine's clock).
      const gap = Date.parse(taken.acquireTime ?? "") - Date.parse(lastByOldLeader.renewTime ?? "")
      expect(gap).toBeGreaterThanOrEqual(15_000)
      expect(yield* Ref.get(violations)).toBe(0)
      yield* Fiber.interrupt(standbyFiber)
    }).pipe(Effect.provide(layer))
  )

  it.scopedLive("writes are preconditioned on resourceVersion; a leader whose lease is taken steps down", () =>
    Effect.gen(function* () {
      const namespace = yield* createTestNamespace("leader-steal")
      const leaseName = "steal-test"
      const config: LeaderElectionConfig = {
        leaseName,
        namespace,
        identity: "victim",
        leaseDuration: "4 seconds",
        renewDeadline: "3 seconds",
        retryPeriod: "500 millis"
      }
      const elector = yield* LeaderElection.make(config)
      const leaderWorkInterrupted = yield* Deferred.make<void>()
      yield* Effect.forkScoped(
        elector.runWhenLeader(
          Effect.never.pipe(Effect.onInterrupt(() => Deferred.succeed(leaderWorkInterrupted, undefined)))
        )
      )
      yield* Effect.forkScoped(elector.run)
      yield* within("10 seconds", "acquire", becomesLeader(elector))
      const metrics = yield* Metrics
      expect(yield* metrics.render).toContain(`leader_election_master_status{name="${leaseName}"} 1`)

      // A write carrying a stale resourceVersion is refused with 409 Conflict.
      const api = yield* KubeApi
      const before = yield* getLease(namespace, leaseName)
      const staleVersion = before.metadata.resourceVersion ?? ""
      yield* within("10 seconds", "a renewal", renewals(namespace, leaseName, readLeaseRecord(before), 1))
      const stale = yield* Effect.either(
        patchLease(api, config, staleVersion, { ...readLeaseRecord(before), holderIdentity: "thief" })
      )
      expect(stale._tag === "Left" ? stale.left._tag : "written").toBe("Conflict")
      expect(readLeaseRecord(yield* getLease(namespace, leaseName)).holderIdentity).toBe("victim")

      // With the current resourceVersion the thief's write goes through; the victim, unable to
      // renew, gives up within its renew deadline, stops its leader-only work and reports it.
      const steal = Effect.gen(function* () {
        const current = yield* getLease(namespace, leaseName)
        const record = readLeaseRecord(current)
        yield* patchLease(api, config, current.metadata.resourceVersion ?? "", {
          ...record,
          holderIdentity: "thief",
          leaseDurationSeconds: 60,
          renewTime: microTime(Date.now())
        })
      }).pipe(Effect.retry({ while: (e) => e._tag === "Conflict", times: 5 }))
      yield* steal
      yield* within("8 seconds", "loss of leadership", Deferred.await(elector.onLost))
      expect(yield* SubscriptionRef.get(elector.isLeader)).toBe(false)
      yield* within("1 second", "leader-only work interrupted", Deferred.await(leaderWorkInterrupted))
      expect(yield* metrics.render).toContain(`leader_election_master_status{name="${leaseName}"} 0`)
      expect(readLeaseRecord(yield* getLease(namespace, leaseName)).holderIdentity).toBe("thief")
    }).pipe(Effect.provide(layer))
  )

  it.effect("rejects inconsistent timings with a typed error", () =>
    Effect.gen(function* () {
      const result = yield* Effect.either(
        LeaderElection.make({ leaseName: "x", namespace: "y", leaseDuration: "5 seconds", renewDeadline: "10 seconds" })
      )
      expect(result).toMatchObject({ _tag: "Left", left: { _tag: "InvalidLeaderElectionConfig" } })
    }).pipe(Effect.provide(layer))
  )

  it.scopedLive("manager: leader work stops before the lease is released on shutdown", () =>
    Effect.gen(function* () {
      const namespace = yield* createTestNamespace("leader-manager")
      const leaseName = "manager-test"
      const started = yield* Deferred.make<void>()
      const holderWhenStopped = yield* Ref.make(Option.none<string>())
      const leaderWork = Deferred.succeed(started, undefined).pipe(
        Effect.zipRight(Effect.never),
        Effect.onInterrupt(() =>
          getLease(namespace, leaseName).pipe(
            Effect.flatMap((lease) => Ref.set(holderWhenStopped, Option.some(readLeaseRecord(lease).holderIdentity))),
            Effect.orDie
          )
        )
      )
      const scope = yield* Scope.make()
      const manager = yield* Manager.start({
        controllers: [],
        caches: [],
        leaderRunnables: [leaderWork],
        leaderElection: { leaseName, namespace, leaseDuration: "4 seconds", renewDeadline: "3 seconds", retryPeriod: "500 millis" },
        healthProbe: { host: "127.0.0.1", port: 0 }
      }).pipe(Scope.extend(scope))
      yield* within("10 seconds", "leader work starts", Deferred.await(started))
      const ready = yield* Effect.promise(() => fetch(`http://127.0.0.1:${manager.health.port}/readyz`))
      expect(ready.status).toBe(200)

      // What SIGTERM does under NodeRuntime.runMain: interrupt, which closes the manager's scope.
      yield* Scope.close(scope, Exit.void)
      expect(yield* Ref.get(holderWhenStopped)).toEqual(Option.some(manager.elector.identity))
      expect(readLeaseRecord(yield* getLease(namespace, leaseName)).holderIdentity).toBe("")
    }).pipe(Effect.provide(layer))
  )

  it.scopedLive("manager: losing the lease fails the manager with LeadershipLost", () =>
    Effect.gen(function* () {
      const namespace = yield* createTestNamespace("leader-lost")
      const leaseName = "lost-test"
      const config: LeaderElectionConfig = {
        leaseName,
        namespace,
        leaseDuration: "4 seconds",
        renewDeadline: "3 seconds",
        retryPeriod: "500 millis"
      }
      const manager = yield* Manager.start<never>({
        controllers: [],
        caches: [],
        leaderElection: config,
        healthProbe: { host: "127.0.0.1", port: 0 }
      })
      yield* within("10 seconds", "acquire", becomesLeader(manager.elector))
      const api = yield* KubeApi
      yield* Effect.gen(function* () {
        const current = yield* getLease(namespace, leaseName)
        yield* patchLease(api, config, current.metadata.resourceVersion ?? "", {
          ...readLeaseRecord(current),
          holderIdentity: "usurper",
          leaseDurationSeconds: 60,
          renewTime: microTime(Date.now())
        })
      }).pipe(Effect.retry({ while: (e) => e._tag === "Conflict", times: 5 }))
      const outcome = yield* within("8 seconds", "manager failure", Effect.flip(manager.wait))
      expect(outcome._tag).toBe("LeadershipLost")
    }).pipe(Effect.provide(layer))
  )
})
