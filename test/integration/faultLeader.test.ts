/**
 * Leader failover with two operator instances in one process, each with its own identity,
 * metrics registry and proxy to the run's cluster, campaigning for the same Lease with the
 * default timings (15 s lease, 10 s renew deadline, 2 s retry). The leader is cut off from the
 * API server without releasing the Lease, as a crashed or partitioned pod would be.
 */
import { expect, layer } from "@effect/vitest"
import { Cause, Clock, Duration, Effect, Exit, Fiber, Option, Ref, Stream, SubscriptionRef } from "effect"
import { createTestNamespace, kubeconfigPath } from "../support/cluster.js"
import { Fleet, type ProxiedOperator, gated, proxyTo, reconcileCount, startProxiedOperator, waitConverged } from "../support/faultCluster.js"
import { kubeLayer } from "../support/operator.js"
import { waitFor } from "../support/wait.js"

const isLeader = (o: ProxiedOperator) => SubscriptionRef.get(o.manager.elector.isLeader)

layer(kubeLayer(), { timeout: "60 seconds", excludeTestServices: true })("leader failover", (it) => {
  it.scoped(
    "only the leader reconciles; when it is cut off without releasing the lease, the standby takes over within 20 s",
    () =>
      Effect.gen(function* () {
        const ns = yield* createTestNamespace("fault-leader", gated)
        const leaseName = "vworkspace-operator-failover"
        const start = (identity: string) =>
          Effect.gen(function* () {
            const proxy = yield* proxyTo(kubeconfigPath())
            const operator = yield* startProxiedOperator({
              kubeconfigPath: kubeconfigPath(),
              proxyPort: proxy.port,
              namespace: ns,
              leaderElection: { leaseName, namespace: ns, identity }
            })
            return { identity, proxy, operator }
          })
        const a = yield* start("operator-a")
        const b = yield* start("operator-b")

        // Two leaders at once would be a defect, whatever the test does.
        const overlaps = yield* Ref.make(0)
        yield* Effect.forkScoped(
          Stream.merge(a.operator.manager.elector.isLeader.changes, b.operator.manager.elector.isLeader.changes).pipe(
            Stream.runForEach(() =>
              Effect.gen(function* () {
                if ((yield* isLeader(a.operator)) && (yield* isLeader(b.operator))) yield* Ref.update(overlaps, (n) => n + 1)
              })
            )
          )
        )

        const leaderId = yield* waitFor(
          "a leader",
          Effect.gen(function* () {
            if (yield* isLeader(a.operator)) return a.identity
            if (yield* isLeader(b.operator)) return b.identity
            return undefined
          })
        )
        const [leader, standby] = leaderId === a.identity ? [a, b] : [b, a]

        const fleet = new Fleet(ns)
        yield* fleet.createMany("before", 3)
        yield* waitConverged(fleet, { operators: [leader.operator, standby.operator] })
        expect(yield* reconcileCount(leader.operator.metrics)).toBeGreaterThan(0)
        // The standby has warm caches but runs no controller.
        expect(yield* reconcileCount(standby.operator.metrics)).toBe(0)
        expect(yield* isLeader(standby.operator)).toBe(false)

        // The leader can no longer reach the API server: no renewals, no release.
        const leaderLost = yield* Effect.fork(Effect.exit(leader.operator.manager.wait))
        yield* leader.proxy.setRefusing(true)
        yield* leader.proxy.killAll
        const cutAt = yield* Clock.currentTimeMillis
        yield* fleet.createMany("after", 2, "6.9.0")
        yield* fleet.delete("before-0")

        // Failover completes within 20 s: the standby leads and has reconciled everything since.
        const tookOver = yield* waitFor(
          "the standby to lead",
          Effect.map(isLeader(standby.operator), (leading) => (leading ? true : undefined)),
          { timeout: Duration.seconds(20) }
        ).pipe(Effect.zipRight(Clock.currentTimeMillis))
        yield* waitConverged(fleet, {
          timeout: Duration.millis(Math.max(0, cutAt + 20_000 - tookOver)),
          operators: [standby.operator]
        })
        const convergedAt = yield* Clock.currentTimeMillis
        yield* Effect.logInfo(
          `failover: standby led ${((tookOver - cutAt) / 1000).toFixed(1)} s and had converged ${((convergedAt - cutAt) / 1000).toFixed(1)} s after the leader was cut off`
        )
        expect(yield* reconcileCount(standby.operator.metrics)).toBeGreaterThan(0)

        // The old leader noticed it could not renew and stepped down (it must then exit).
        const lost = yield* Fiber.join(leaderLost).pipe(
          Effect.timeoutFail({ duration: Duration.seconds(15), onTimeout: () => new Error("the cut-off leader never stepped down") })
        )
        const failure = Exit.isFailure(lost) ? Option.getOrUndefined(Cause.failureOption(lost.cause)) : undefined
        expect(failure?._tag).toBe("LeadershipLost")
        expect(yield* isLeader(leader.operator)).toBe(false)
        expect(yield* Ref.get(overlaps)).toBe(0)
      }),
    90_000
  )
})
