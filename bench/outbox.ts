/**
 * `--only outbox`: the event outbox against the run's API server and the mock control plane on
 * loopback. A 10,000-event backlog builds up while the cluster is not registered (so every event
 * must be journaled); then credentials appear and the backlog drains. Reports events/s drained
 * and the API writes the journal spent per 1,000 events (target ≤ 50).
 */
import { Context, Duration, Effect, Layer, Option, SubscriptionRef } from "effect"
import type { AgentEvent } from "../src/api/agentProtocol.js"
import { agentClientLive } from "../src/connectivity/agentClientLive.js"
import { connectionStateLive } from "../src/connectivity/connectionState.js"
import { type AgentCredentialsValue, credentialsFromRef } from "../src/connectivity/credentials.js"
import { mockAdminClient } from "../src/connectivity/mock/adminClient.js"
import { makeMockControlPlane } from "../src/connectivity/mock/server.js"
import { Outbox } from "../src/connectivity/outbox/outbox.js"
import { StatusSink } from "../src/connectivity/statusSink.js"
import { KubeApi } from "../src/kube/KubeApi.js"
import { Metrics } from "../src/observability/metrics.js"
import type { BenchContext } from "./context.js"
import { countingKubeApi, describeWrites, sumWrites, WriteLog } from "./countingKubeApi.js"
import { gatedNamespace } from "./fixtures.js"
import { BenchError, pollUntil } from "./probe.js"
import { now, printTable, progress, seconds, verdict } from "./report.js"

const BACKLOG = 10_000
const CLUSTER_ID = "bench-outbox"
const TOKEN = "bench-outbox-token"
const ADMIN = "bench-outbox-admin"

/** A ConditionTransition of realistic size (an ApplicationInstance's Ready condition). */
const transition = (i: number): AgentEvent => {
  const name = `app-${String(i % 1000).padStart(5, "0")}`
  const lastTransitionTime = new Date(Date.UTC(2026, 5, 1) + i * 1000).toISOString().replace(/\.\d{3}Z$/, "Z")
  return {
    eventKey: `condition/apps.vworkspace.io/v1alpha1/ApplicationInstance/bench/${name}/uid-${i % 1000}/Ready/True/HelmReleaseReady@1/${lastTransitionTime}`,
    kind: "ConditionTransition",
    resourceRef: { apiVersion: "apps.vworkspace.io/v1alpha1", kind: "ApplicationInstance", namespace: "bench", name, uid: `uid-${i % 1000}`, generation: 1 },
    conditions: [
      { type: "Ready", status: "True", observedGeneration: 1, lastTransitionTime, reason: "HelmReleaseReady", message: "Helm install succeeded for release bench/" + name }
    ],
    timestamp: new Date().toISOString()
  }
}

export const outboxBench = (ctx: BenchContext): Effect.Effect<void, BenchError> =>
  Effect.scoped(
    Effect.gen(function* () {
      const namespace = yield* gatedNamespace(ctx.target, ctx.scope, "bench-outbox")
      const cp = yield* makeMockControlPlane({ adminToken: ADMIN, agentTokens: [{ token: TOKEN, clusterId: CLUSTER_ID }] }).pipe(
        Effect.mapError((e) => new BenchError({ message: e.message }))
      )
      const admin = yield* mockAdminClient(cp.url, ADMIN)
      const credentials = yield* SubscriptionRef.make<Option.Option<AgentCredentialsValue>>(Option.none())
      const writes = new WriteLog()
      const kube = countingKubeApi(writes).pipe(Layer.provide(Layer.succeed(KubeApi, ctx.api)))
      const deps = Layer.mergeAll(kube, credentialsFromRef(credentials), connectionStateLive, Metrics.test)
      const context = yield* Layer.build(
        Layer.mergeAll(Outbox.layer({ namespace, capacity: 2 * BACKLOG }), agentClientLive()).pipe(Layer.provideMerge(deps))
      )
      const outbox = Context.get(context, Outbox)
      yield* Effect.forkScoped(outbox.run([]).pipe(Effect.provide(context)))

      yield* progress(`outbox: publishing ${BACKLOG} events while unregistered`)
      const sink = Context.get(context, StatusSink)
      for (let i = 0; i < BACKLOG; i += 100) {
        yield* sink.publish(Array.from({ length: 100 }, (_, j) => transition(i + j)))
      }
      yield* pollUntil(
        "the backlog to be journaled",
        Effect.map(outbox.stats, (s) => (s.journaled >= BACKLOG ? s : undefined)),
        { interval: Duration.millis(100), timeout: Duration.minutes(2) }
      )
      const journalWrites = writes.snapshot()

      yield* progress("outbox: registering; draining")
      const drainStart = now()
      yield* SubscriptionRef.set(credentials, Option.some({ baseUrl: cp.url, clusterId: CLUSTER_ID, token: TOKEN }))
      const drained = yield* pollUntil(
        "the backlog to drain",
        Effect.map(outbox.stats, (s) => (s.deliveredTotal >= BACKLOG ? s : undefined)),
        { interval: Duration.millis(20), timeout: Duration.minutes(5) }
      )
      const drainMs = drained.at - drainStart
      yield* pollUntil(
        "the journal to be emptied",
        Effect.map(outbox.stats, (s) => (s.journaled === 0 ? s : undefined)),
        { interval: Duration.millis(100), timeout: Duration.minutes(1) }
      )
      const received = yield* admin.events(CLUSTER_ID).pipe(Effect.mapError((e) => new BenchError({ message: e.message })))
      const allWrites = writes.snapshot()
      const total = sumWrites(allWrites)
      const perThousand = (total / BACKLOG) * 1000
      yield* printTable({
        title: "Outbox: 10,000-event backlog drained to the mock control plane",
        caption: [
          "The backlog is published while the cluster is unregistered, so all of it is journaled; then credentials appear.",
          "Events are ConditionTransitions of realistic size; the mock is in-process on loopback."
        ],
        columns: ["item", "value", "target"],
        rows: [
          ["events received by the mock (distinct)", String(received.events.length), String(BACKLOG)],
          ["drain time", seconds(drainMs), ""],
          ["events/s drained", (BACKLOG / (drainMs / 1000)).toFixed(0), ""],
          ["journal writes while the backlog built", `${sumWrites(journalWrites)} (${describeWrites(journalWrites)})`, ""],
          ["journal writes in all (build + drain + cleanup)", `${total} (${describeWrites(allWrites)})`, ""],
          ["API writes per 1,000 events", perThousand.toFixed(1), `≤ 50: ${verdict(perThousand <= 50)}`]
        ]
      })
    })
  ).pipe(Effect.mapError((e) => (e instanceof BenchError ? e : new BenchError({ message: String(e) }))))
