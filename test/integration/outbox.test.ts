/**
 * The outbox against a real API server (informers, the ConfigMap journal) and the mock control
 * plane over loopback (the live AgentClient, eventKey de-duplication, injected outages).
 *
 * The outage lasts 2 minutes; the suite shortens it to `OUTAGE` to keep `npm test`
 * short. Nothing in the outbox depends on the length: it only decides how many retries happen.
 */
import { describe, expect, layer } from "@effect/vitest"
import { Clock, Context, Duration, Effect, Exit, Fiber, Layer, Option, Scope, SubscriptionRef } from "effect"
import { appliedRefOf } from "../../src/api/agentProtocol.js"
import { setCondition } from "../../src/api/conditions.js"
import type { Condition } from "../../src/api/meta.js"
import { agentClientLive } from "../../src/connectivity/agentClientLive.js"
import { connectionStateLive } from "../../src/connectivity/connectionState.js"
import { type AgentCredentialsValue, credentialsFromRef } from "../../src/connectivity/credentials.js"
import { JournalNames } from "../../src/connectivity/outbox/journal.js"
import { Outbox } from "../../src/connectivity/outbox/outbox.js"
import { conditionEventKey, conditionsOf, credentialRotatedEvent } from "../../src/connectivity/outbox/transitions.js"
import { StatusSink } from "../../src/connectivity/statusSink.js"
import { makeInformer } from "../../src/kube/informer.js"
import { KubeApi } from "../../src/kube/KubeApi.js"
import { KubeApiLive } from "../../src/kube/KubeApiLive.js"
import type { KubeObject } from "../../src/kube/object.js"
import { Resources } from "../../src/kube/resources.js"
import { Metrics } from "../../src/observability/metrics.js"
import { createTestNamespace, kubeconfigPath } from "../support/cluster.js"
import { startMock } from "../support/mockControlPlane.js"
import { waitFor } from "../support/wait.js"

const Live = KubeApiLive.fromKubeconfigFile(kubeconfigPath())

/** The control-plane outage of the scenario (2 minutes in the issue; shortened for the suite). */
const OUTAGE = Duration.seconds(20)
const INSTANCES = 5
const CLUSTER_ID = "outbox-cluster"
const AGENT_TOKEN = "agent-token-outbox"

const instance = (namespace: string, name: string): KubeObject => ({
  apiVersion: "apps.vworkspace.io/v1alpha1",
  kind: "ApplicationInstance",
  metadata: { namespace, name },
  spec: {
    appRef: { catalogId: "nextcloud" },
    chart: { sourceType: "helm", url: "http://127.0.0.1:1/charts", name: "nextcloud", version: "6.6.0" },
    release: { name: `${name}-rel`, namespace },
    values: { source: "inline", inline: {} }
  }
})

/** Writes `Ready` the way the ApplicationInstance reconciler does (metav1 semantics, SSA to /status). */
const writeReady = (object: KubeObject, status: "True" | "False", reason: string, at: Date) =>
  Effect.gen(function* () {
    const api = yield* KubeApi
    const current = conditionsOf(object).map((c): Condition => ({ ...c, lastTransitionTime: c.lastTransitionTime ?? "" }))
    const conditions = setCondition(current, { type: "Ready", status, reason, message: `${reason} at ${at.toISOString()}`, observedGeneration: 1 }, at)
    return yield* api.applyStatus(
      Resources.ApplicationInstance,
      { apiVersion: object.apiVersion, kind: object.kind, metadata: { namespace: object.metadata.namespace, name: object.metadata.name }, status: { conditions } },
      { fieldManager: "test-applicationinstance-reconciler", force: true }
    )
  })

/** The eventKey of every condition of this version: what the control plane must receive. */
const keysOf = (object: KubeObject): ReadonlyArray<string> =>
  conditionsOf(object).map((c) => conditionEventKey(appliedRefOf(object), c))

interface OperatorProcess {
  readonly outbox: Context.Tag.Service<Outbox>
  readonly sink: Context.Tag.Service<StatusSink>
  /** kill -9: the scope closes without any flush. */
  readonly crash: Effect.Effect<void>
}

layer(Live, { excludeTestServices: true })("outbox against a real API server and the mock control plane", (it) => {
  const setup = Effect.gen(function* () {
    const operatorNs = yield* createTestNamespace("outbox-op")
    const appNs = yield* createTestNamespace("outbox-app", { "managed-by": "vworkspace" })
    const { mock, admin } = yield* startMock({ agentTokens: [{ token: AGENT_TOKEN, clusterId: CLUSTER_ID }] })
    const registered: AgentCredentialsValue = { baseUrl: mock.url, clusterId: CLUSTER_ID, token: AGENT_TOKEN }

    /** One operator process on the leader: its own informer, outbox, client and connection state. */
    const start = (credentials: SubscriptionRef.SubscriptionRef<Option.Option<AgentCredentialsValue>>) =>
      Effect.gen(function* () {
        const scope = yield* Scope.make()
        const kube = yield* KubeApi
        const informer = yield* makeInformer(Resources.ApplicationInstance, { namespace: appNs }).pipe(Scope.extend(scope))
        const deps = Layer.mergeAll(Layer.succeed(KubeApi, kube), credentialsFromRef(credentials), connectionStateLive, Metrics.test)
        const context = yield* Layer.buildWithScope(
          Layer.mergeAll(Outbox.layer({ namespace: operatorNs }), agentClientLive()).pipe(Layer.provideMerge(deps)),
          scope
        )
        const outbox = Context.get(context, Outbox)
        const fiber = yield* Effect.forkIn(outbox.run([informer]).pipe(Effect.provide(context)), scope)
        yield* informer.synced
        return {
          outbox,
          sink: Context.get(context, StatusSink),
          crash: Fiber.interrupt(fiber).pipe(Effect.zipRight(Scope.close(scope, Exit.void)))
        } satisfies OperatorProcess
      })

    const delivered = Effect.map(admin.events(CLUSTER_ID), (view) => ({
      keys: new Set(view.events.map((e) => e.event.eventKey ?? "")),
      duplicates: view.duplicatePosts
    }))
    const waitDelivered = (what: string, expected: Iterable<string>, timeout: Duration.DurationInput = Duration.seconds(30)) =>
      waitFor(
        what,
        Effect.map(delivered, (d) => ([...expected].every((k) => d.keys.has(k)) ? d : undefined)),
        { timeout, interval: Duration.millis(200) }
      )
    return { operatorNs, appNs, admin, registered, start, delivered, waitDelivered }
  })

  describe("outage and crash", () => {
    it.scoped(
      "delivers every transition raised during a control-plane outage with an operator crash in the middle; none is re-sent more than once",
      () =>
        Effect.gen(function* () {
          const api = yield* KubeApi
          const { appNs, admin, registered, start, delivered, waitDelivered } = yield* setup
          const credentials = yield* SubscriptionRef.make(Option.some(registered))
          const expected = new Set<string>()
          const record = (o: KubeObject) => {
            for (const k of keysOf(o)) expected.add(k)
            return o
          }
          // Synthetic transition times one minute apart: every round is a distinct transition.
          const base = Date.parse("2026-06-01T00:00:00Z")
          const at = (round: number) => new Date(base + round * 60_000)

          let first = yield* start(credentials)
          const names = Array.from({ length: INSTANCES }, (_, i) => `app-${i}`)
          let objects: Array<KubeObject> = []
          for (const name of names) {
            const created = yield* api.apply(Resources.ApplicationInstance, instance(appNs, name), { fieldManager: "test-control-plane", force: true })
            objects.push(record(yield* writeReady(created, "False", "Installing", at(0))))
          }
          yield* waitDelivered("round 0 delivered", expected)

          // The control plane goes away.
          const outageStart = yield* Clock.currentTimeMillis
          yield* admin.addFaults([{ status: 503, code: "ServiceUnavailable", message: "outage", routes: ["events"] }])
          const round = (n: number, status: "True" | "False", reason: string, only: ReadonlyArray<string> = names) =>
            Effect.gen(function* () {
              const next: Array<KubeObject> = []
              for (const o of objects) {
                next.push(only.includes(o.metadata.name ?? "") ? record(yield* writeReady(o, status, reason, at(n))) : o)
              }
              objects = next
            })
          yield* round(1, "True", "HelmReleaseReady")
          // Round 1 is in the journal before the crash ...
          yield* waitFor("round 1 journaled", Effect.map(first.outbox.stats, (s) => (s.journaled >= INSTANCES ? s : undefined)))
          // ... round 2 is only in memory (or not even observed) when the process dies.
          yield* round(2, "False", "ChartUnreachable")
          yield* first.crash

          const second = yield* start(credentials)
          first = second
          yield* waitFor("round 2 re-derived after the restart", Effect.map(second.outbox.stats, (s) => (s.occupancy >= 2 * INSTANCES ? s : undefined)))
          yield* round(3, "True", "HelmReleaseReady", names.slice(0, 3))

          // The outage lasts OUTAGE in all (a fault's duration, not a wait for a condition).
          const elapsed = (yield* Clock.currentTimeMillis) - outageStart
          yield* Effect.sleep(Duration.millis(Math.max(0, Duration.toMillis(OUTAGE) - elapsed)))
          expect((yield* delivered).keys.size).toBe(INSTANCES)
          yield* admin.clearFaults

          // Rounds 0-2 for every instance, round 3 for three of them: all distinct transitions.
          expect(expected.size).toBe(3 * INSTANCES + 3)
          const result = yield* waitDelivered("every transition delivered after the outage", expected, Duration.seconds(60))
          const aiKeys = [...result.keys].filter((k) => k.startsWith("condition/apps.vworkspace.io/"))
          expect(new Set(aiKeys)).toEqual(expected)
          // Re-sent after acceptance at most once (the crash); the control plane kept one copy.
          expect(Object.entries(result.duplicates).filter(([, resent]) => resent > 1)).toEqual([])
          expect((yield* second.outbox.stats).overflow.active).toBe(false)
          yield* second.crash
        }),
      120_000
    )
  })

  describe("before registration", () => {
    it.scoped("keeps transitions and audit events raised before registration, journals them, and delivers them after it", () =>
      Effect.gen(function* () {
        const api = yield* KubeApi
        const { appNs, operatorNs, registered, start, waitDelivered } = yield* setup
        const credentials = yield* SubscriptionRef.make<Option.Option<AgentCredentialsValue>>(Option.none())
        const process = yield* start(credentials)
        const created = yield* api.apply(Resources.ApplicationInstance, instance(appNs, "early"), { fieldManager: "test-control-plane", force: true })
        const written = yield* writeReady(created, "False", "Installing", new Date("2026-06-01T00:00:00Z"))
        const rotated = credentialRotatedEvent({ name: CLUSTER_ID, uid: "cluster-uid" }, new Date("2026-06-01T00:00:05Z"))
        yield* process.sink.publish([rotated])
        yield* waitFor("the events are journaled", Effect.map(process.outbox.stats, (s) => (s.journaled >= 2 ? s : undefined)))
        const segments = yield* api.list(Resources.ConfigMap, {
          namespace: operatorNs,
          labelSelector: `${JournalNames.segmentLabel}=${JournalNames.segmentLabelValue}`
        })
        expect(segments.items.length).toBeGreaterThan(0)
        yield* SubscriptionRef.set(credentials, Option.some(registered))
        yield* waitDelivered("delivered after registration", [...keysOf(written), rotated.eventKey ?? ""])
        yield* waitFor(
          "delivered segments deleted",
          Effect.map(
            api.list(Resources.ConfigMap, { namespace: operatorNs, labelSelector: `${JournalNames.segmentLabel}=${JournalNames.segmentLabelValue}` }),
            (l) => (l.items.length === 0 ? l : undefined)
          )
        )
        yield* process.crash
      })
    )
  })
})
