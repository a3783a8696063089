/**
 * The outbox under TestClock with in-memory Layers: batching, error semantics, events before
 * registration, overflow and drain, the journal and a restart from it. The same behaviour against
 * a real API server and the mock control plane is in test/integration/outbox.test.ts.
 */
import { describe, expect, it } from "@effect/vitest"
import { Clock, Context, Duration, Effect, Fiber, Layer, Option, PubSub, Ref, type Scope, Stream, SubscriptionRef, TestClock } from "effect"
import type { AgentEvent } from "../../src/api/agentProtocol.js"
import { AgentClient, type AgentError, AgentHttpError } from "../../src/connectivity/agentClient.js"
import { ConnectionState, connectionStateLive } from "../../src/connectivity/connectionState.js"
import { AgentCredentials, type AgentCredentialsValue, credentialsFromRef, requireCredentials } from "../../src/connectivity/credentials.js"
import { JournalNames } from "../../src/connectivity/outbox/journal.js"
import { Outbox, type OutboxSettings } from "../../src/connectivity/outbox/outbox.js"
import { StatusSink } from "../../src/connectivity/statusSink.js"
import type { KubeObject } from "../../src/kube/object.js"
import { Metrics } from "../../src/observability/metrics.js"
import type { ObjectEvent, Subscribable } from "../../src/runtime/sources.js"
import { type MemoryConfigMaps, memoryConfigMaps } from "../support/memoryConfigMaps.js"

const credentials: AgentCredentialsValue = { baseUrl: "http://127.0.0.1:1", clusterId: "c1", token: "t" }

interface Post {
  readonly at: number
  readonly keys: ReadonlyArray<string>
}

/** Plays the control plane's events endpoint: answers from `script` first, then 204; records every attempt. */
const controlPlane = Effect.gen(function* () {
  const script = yield* Ref.make<ReadonlyArray<AgentError>>([])
  const attempts = yield* Ref.make<ReadonlyArray<Post>>([])
  const accepted = yield* Ref.make<ReadonlyArray<Post>>([])
  const unused = Effect.dieMessage("not used by the outbox")
  const layer = Layer.succeed(AgentClient, {
        register: () => unused,
        fetchJobs: () => unused,
        fetchJobEnvelopes: () => unused,
        ack: () => unused,
        postStatus: () => unused,
        postResult: () => unused,
        rotateCredentials: unused,
        postEvents: (events: ReadonlyArray<AgentEvent>) =>
          Effect.gen(function* () {
            const at = yield* Clock.currentTimeMillis
            const post = { at, keys: events.map((e) => e.eventKey ?? "") }
            yield* Ref.update(attempts, (a) => [...a, post])
            const [next, ...rest] = yield* Ref.get(script)
            if (next !== undefined) {
              yield* Ref.set(script, rest)
              return yield* Effect.fail(next)
            }
            yield* Ref.update(accepted, (a) => [...a, post])
          })
  })
  return { script, attempts, accepted, layer }
})

const event = (key: string, kind = "ConditionTransition"): AgentEvent => ({
  eventKey: key,
  kind,
  resourceRef: { apiVersion: "v1", kind: "X", namespace: "", name: key },
  timestamp: "2026-05-28T10:00:00Z"
})

const events = (n: number, prefix = "e") => Array.from({ length: n }, (_, i) => event(`${prefix}${i + 1}`))

/** An informer stand-in: replays its objects as `added` to each subscriber, then forwards changes. */
const fakeInformer = Effect.gen(function* () {
  const objects = new Map<string, KubeObject>()
  const changes = yield* PubSub.unbounded<ObjectEvent>()
  const replayed = () => [...objects.values()].map((object): ObjectEvent => ({ type: "added", object }))
  const informer: Subscribable = {
    subscribe: (handler) =>
      Effect.gen(function* () {
        const subscription = yield* PubSub.subscribe(changes)
        for (const event of replayed()) yield* handler(event)
        yield* Effect.forkScoped(Effect.forever(Effect.flatMap(subscription.take, handler)))
      }),
    events: Stream.unwrapScoped(
      Effect.map(PubSub.subscribe(changes), (subscription) => Stream.concat(Stream.fromIterable(replayed()), Stream.fromQueue(subscription)))
    )
  }
  const put = (object: KubeObject) =>
    Effect.suspend(() => {
      const key = object.metadata.name ?? ""
      const old = objects.get(key)
      objects.set(key, object)
      return PubSub.publish(changes, old === undefined ? { type: "added", object } : { type: "updated", object, old })
    })
  return { informer, put }
})

const ai = (name: string, resourceVersion: number, readyStatus: "True" | "False", lastTransitionTime: string): KubeObject => ({
  apiVersion: "apps.vworkspace.io/v1alpha1",
  kind: "ApplicationInstance",
  metadata: { namespace: "ns", name, uid: `uid-${name}`, generation: 1, resourceVersion: String(resourceVersion) },
  status: {
    conditions: [{ type: "Ready", status: readyStatus, reason: readyStatus === "True" ? "HelmReleaseReady" : "Installing", message: "", lastTransitionTime, observedGeneration: 1 }]
  }
})

interface Harness {
  readonly sink: Context.Tag.Service<StatusSink>
  readonly outbox: Context.Tag.Service<Outbox>
  readonly state: Context.Tag.Service<ConnectionState>
  readonly creds: SubscriptionRef.SubscriptionRef<Option.Option<AgentCredentialsValue>>
  readonly start: (sources?: ReadonlyArray<Subscribable>) => Effect.Effect<Fiber.RuntimeFiber<never>, never, Scope.Scope>
}

/** One operator process: an outbox over the shared store and control plane. */
const operatorProcess = (
  store: MemoryConfigMaps,
  cp: Effect.Effect.Success<typeof controlPlane>,
  settings: Partial<OutboxSettings> = {},
  registered = true
) =>
  Effect.gen(function* () {
    const creds = yield* SubscriptionRef.make<Option.Option<AgentCredentialsValue>>(registered ? Option.some(credentials) : Option.none())
    const deps = Layer.mergeAll(store.layer, credentialsFromRef(creds), connectionStateLive, Metrics.test)
    // As the live client: no credentials, no request.
    const client = Layer.effect(
      AgentClient,
      Effect.gen(function* () {
        const c = yield* AgentClient
        const held = yield* AgentCredentials
        return {
          ...c,
          postEvents: (es: ReadonlyArray<AgentEvent>) =>
            Effect.zipRight(Effect.provideService(requireCredentials, AgentCredentials, held), c.postEvents(es))
        }
      })
    ).pipe(Layer.provide(cp.layer))
    const context = yield* Layer.build(
      Layer.mergeAll(Outbox.layer({ namespace: "ops", ...settings }), client).pipe(Layer.provideMerge(deps))
    )
    const start = (sources: ReadonlyArray<Subscribable> = []) =>
      Effect.forkScoped(Context.get(context, Outbox).run(sources).pipe(Effect.provide(context)))
    return {
      sink: Context.get(context, StatusSink),
      outbox: Context.get(context, Outbox),
      state: Context.get(context, ConnectionState),
      creds,
      start
    } satisfies Harness
  })

const acceptedKeys = (cp: Effect.Effect.Success<typeof controlPlane>) =>
  Effect.map(Ref.get(cp.accepted), (posts) => posts.flatMap((p) => p.keys))

/** TestClock steps cost real time on a loaded machine; the default 5 s is too tight for minutes of simulated time. */
const TEST_TIMEOUT = 30_000

/** The delivery tests are not about the journal: a slow journal tick keeps TestClock steps few. */
const quietJournal = { persistInterval: Duration.minutes(10) }

/** Lets forked fibers run up to the current TestClock time. */
const settle = TestClock.adjust(Duration.zero)

describe("outbox delivery", () => {
  it.scoped("sends full batches of 100 at once and the remainder once its oldest event is 1 s old", () =>
    Effect.gen(function* () {
      const cp = yield* controlPlane
      const op = yield* operatorProcess(memoryConfigMaps(), cp, quietJournal)
      yield* op.start()
      yield* op.sink.publish(events(250))
      yield* settle
      expect((yield* Ref.get(cp.accepted)).map((p) => [p.at, p.keys.length])).toEqual([
        [0, 100],
        [0, 100]
      ])
      yield* TestClock.adjust(Duration.millis(999))
      expect((yield* Ref.get(cp.accepted)).length).toBe(2)
      yield* TestClock.adjust(Duration.millis(1))
      expect((yield* Ref.get(cp.accepted)).map((p) => [p.at, p.keys.length])).toEqual([
        [0, 100],
        [0, 100],
        [1000, 50]
      ])
      expect(yield* acceptedKeys(cp)).toEqual(events(250).map((e) => e.eventKey))
      expect(yield* op.outbox.stats).toMatchObject({ occupancy: 0, deliveredTotal: 250 })
    }), TEST_TIMEOUT)

  it.scoped("keeps events raised before registration and delivers them once credentials exist", () =>
    Effect.gen(function* () {
      const cp = yield* controlPlane
      const op = yield* operatorProcess(memoryConfigMaps(), cp, quietJournal, false)
      yield* op.sink.publish(events(5))
      yield* op.start()
      yield* TestClock.adjust(Duration.minutes(1))
      expect(yield* Ref.get(cp.attempts)).toEqual([])
      expect((yield* op.outbox.stats).occupancy).toBe(5)
      yield* SubscriptionRef.set(op.creds, Option.some(credentials))
      yield* settle
      expect(yield* acceptedKeys(cp)).toEqual(events(5).map((e) => e.eventKey))
    }), TEST_TIMEOUT)

  it.scoped("backs off on 5xx, never faster than once a second, honours Retry-After on 429, and records the outcome", () =>
    Effect.gen(function* () {
      const cp = yield* controlPlane
      const op = yield* operatorProcess(memoryConfigMaps(), cp, quietJournal)
      yield* Ref.set(cp.script, [
        new AgentHttpError({ status: 503, code: "", message: "down" }),
        new AgentHttpError({ status: 503, code: "", message: "down" }),
        new AgentHttpError({ status: 429, code: "", message: "slow down", retryAfter: Duration.seconds(30) })
      ])
      yield* op.start()
      yield* op.sink.publish(events(100))
      yield* settle
      expect(Option.isSome((yield* op.state.get).lastFailure)).toBe(true)
      yield* TestClock.adjust(Duration.minutes(2))
      const times = (yield* Ref.get(cp.attempts)).map((p) => p.at)
      expect(times.length).toBe(4)
      const gaps = times.slice(1).map((t, i) => t - (times[i] ?? 0))
      // Delays are computed in floating point: compare whole milliseconds.
      for (const gap of gaps) expect(Math.round(gap)).toBeGreaterThanOrEqual(1000)
      expect(Math.round(gaps[2] ?? 0)).toBeGreaterThanOrEqual(30_000)
      expect((yield* acceptedKeys(cp)).length).toBe(100)
      expect(Option.isSome((yield* op.state.get).lastSuccessAt)).toBe(true)
    }), TEST_TIMEOUT)

  it.scoped("401: one credential reload and one more attempt, then halts as CredentialRejected until resumed", () =>
    Effect.gen(function* () {
      const cp = yield* controlPlane
      const op = yield* operatorProcess(memoryConfigMaps(), cp, quietJournal)
      const unauthorized = new AgentHttpError({ status: 401, code: "Unauthorized", message: "bad token" })
      yield* Ref.set(cp.script, [unauthorized, unauthorized])
      yield* op.start()
      yield* op.sink.publish(events(3))
      yield* TestClock.adjust(Duration.seconds(1))
      yield* TestClock.adjust(Duration.minutes(1))
      expect((yield* Ref.get(cp.attempts)).length).toBe(2)
      expect(Option.map((yield* op.state.get).halted, (h) => h.reason)).toEqual(Option.some("CredentialRejected"))
      expect((yield* op.outbox.stats).occupancy).toBe(3)
      yield* op.state.resume
      yield* settle
      expect((yield* acceptedKeys(cp)).length).toBe(3)
    }), TEST_TIMEOUT)

  it.scoped("403 halts as Forbidden; a 400 is logged and counted as rejected, not retried", () =>
    Effect.gen(function* () {
      const cp = yield* controlPlane
      const op = yield* operatorProcess(memoryConfigMaps(), cp, quietJournal)
      yield* Ref.set(cp.script, [
        new AgentHttpError({ status: 403, code: "Forbidden", message: "wrong cluster" }),
        new AgentHttpError({ status: 400, code: "InvalidJSON", message: "bad body" })
      ])
      yield* op.start()
      yield* op.sink.publish(events(2))
      yield* TestClock.adjust(Duration.seconds(1))
      expect(Option.map((yield* op.state.get).halted, (h) => h.reason)).toEqual(Option.some("Forbidden"))
      yield* op.state.resume
      yield* settle
      expect(yield* op.outbox.stats).toMatchObject({ occupancy: 0, rejectedTotal: 2, deliveredTotal: 0 })
    }), TEST_TIMEOUT)
})

describe("outbox overflow", () => {
  it.scoped("drops the oldest beyond capacity, counts them in stats and the overflow stream, and reports the drain", () =>
    Effect.gen(function* () {
      const cp = yield* controlPlane
      const op = yield* operatorProcess(memoryConfigMaps(), cp, { capacity: 10 }, false)
      yield* op.start()
      yield* op.sink.publish(events(25))
      expect(yield* op.outbox.stats).toMatchObject({ occupancy: 10, capacity: 10, overflow: { active: true, dropped: 15 }, droppedTotal: 15 })
      yield* TestClock.adjust(Duration.seconds(1))
      expect(yield* Stream.runHead(op.outbox.overflowChanges)).toEqual(Option.some({ active: true, dropped: 15 }))
      yield* SubscriptionRef.set(op.creds, Option.some(credentials))
      yield* settle
      expect(yield* acceptedKeys(cp)).toEqual(events(25).slice(15).map((e) => e.eventKey))
      const stats = yield* op.outbox.stats
      expect(stats).toMatchObject({ occupancy: 0, overflow: { active: false, dropped: 0 }, droppedTotal: 15 })
      expect(stats.lastDrainedAt).toBeDefined()
      expect(yield* Stream.runHead(op.outbox.overflowChanges)).toEqual(Option.some({ active: false, dropped: 0 }))
    }), TEST_TIMEOUT)
})

describe("outbox sources and journal", () => {
  it.scoped("derives transitions from informer changes, journals what stays undelivered, and a restart resends only that", () =>
    Effect.gen(function* () {
      const store = memoryConfigMaps()
      const cp = yield* controlPlane
      const { informer, put } = yield* fakeInformer
      yield* put(ai("a", 10, "False", "2026-05-28T10:00:00Z"))
      const first = yield* operatorProcess(store, cp, {}, false)
      const running = yield* first.start([informer])
      yield* settle
      yield* put(ai("a", 11, "True", "2026-05-28T10:00:01Z"))
      yield* put(ai("b", 12, "False", "2026-05-28T10:00:02Z"))
      yield* put(ai("a", 13, "False", "2026-05-28T10:00:03Z"))
      yield* settle
      expect((yield* first.outbox.stats).occupancy).toBe(4)
      // Not registered: after journalDelay the four transitions go into one segment.
      yield* TestClock.adjust(Duration.seconds(3))
      expect((yield* first.outbox.stats).journaled).toBe(4)
      const segments = [...store.objects.values()].filter((o) => o.metadata.labels?.[JournalNames.segmentLabel] === JournalNames.segmentLabelValue)
      expect(segments.length).toBe(1)
      const writesBefore = store.writes.count
      yield* TestClock.adjust(Duration.minutes(1))
      // Nothing new: no more segment writes (the watermark state moves at most every 10 s).
      expect(store.writes.count - writesBefore).toBeLessThanOrEqual(1)

      // kill -9: no flush on the way out.
      yield* Fiber.interrupt(running)
      yield* put(ai("b", 14, "True", "2026-05-28T10:00:04Z"))
      const second = yield* operatorProcess(store, cp)
      yield* second.start([informer])
      yield* TestClock.adjust(Duration.seconds(1))
      const keys = yield* acceptedKeys(cp)
      expect(keys).toEqual([
        "condition/apps.vworkspace.io/v1alpha1/ApplicationInstance/ns/a/uid-a/Ready/False/Installing@1/2026-05-28T10:00:00Z",
        "condition/apps.vworkspace.io/v1alpha1/ApplicationInstance/ns/a/uid-a/Ready/True/HelmReleaseReady@1/2026-05-28T10:00:01Z",
        "condition/apps.vworkspace.io/v1alpha1/ApplicationInstance/ns/b/uid-b/Ready/False/Installing@1/2026-05-28T10:00:02Z",
        "condition/apps.vworkspace.io/v1alpha1/ApplicationInstance/ns/a/uid-a/Ready/False/Installing@1/2026-05-28T10:00:03Z",
        "condition/apps.vworkspace.io/v1alpha1/ApplicationInstance/ns/b/uid-b/Ready/True/HelmReleaseReady@1/2026-05-28T10:00:04Z"
      ])
      // The delivered segment is deleted, and a third start resends nothing.
      yield* TestClock.adjust(Duration.seconds(11))
      expect([...store.objects.keys()]).toEqual([`ops/${JournalNames.state}`])
      const third = yield* operatorProcess(store, cp)
      yield* third.start([informer])
      yield* TestClock.adjust(Duration.seconds(5))
      expect((yield* acceptedKeys(cp)).length).toBe(5)
    }), TEST_TIMEOUT)

  it.scoped("after a restart, every object changed since the watermark is derived again, whatever order the informer replays them in", () =>
    Effect.gen(function* () {
      const store = memoryConfigMaps()
      const cp = yield* controlPlane
      const { informer, put } = yield* fakeInformer
      yield* put(ai("a", 10, "False", "2026-05-28T10:00:00Z"))
      yield* put(ai("b", 11, "False", "2026-05-28T10:00:01Z"))
      const first = yield* operatorProcess(store, cp)
      const running = yield* first.start([informer])
      // Both delivered, and the watermark state (every 10 s) records resourceVersion 11.
      yield* TestClock.adjust(Duration.seconds(11))
      expect((yield* acceptedKeys(cp)).length).toBe(2)
      yield* Fiber.interrupt(running)
      // While no leader runs, b changes and then a: the replay (a, then b) is not in resourceVersion order.
      yield* put(ai("b", 20, "True", "2026-05-28T10:00:02Z"))
      yield* put(ai("a", 21, "True", "2026-05-28T10:00:03Z"))
      const second = yield* operatorProcess(store, cp)
      yield* second.start([informer])
      yield* TestClock.adjust(Duration.seconds(1))
      expect((yield* acceptedKeys(cp)).slice(2).sort()).toEqual([
        "condition/apps.vworkspace.io/v1alpha1/ApplicationInstance/ns/a/uid-a/Ready/True/HelmReleaseReady@1/2026-05-28T10:00:03Z",
        "condition/apps.vworkspace.io/v1alpha1/ApplicationInstance/ns/b/uid-b/Ready/True/HelmReleaseReady@1/2026-05-28T10:00:02Z"
      ])
    }), TEST_TIMEOUT)

  it.scoped("journals an audit event at the next tick, even when it is young", () =>
    Effect.gen(function* () {
      const store = memoryConfigMaps()
      const cp = yield* controlPlane
      const op = yield* operatorProcess(store, cp, { journalDelay: Duration.minutes(10) }, false)
      yield* op.start()
      yield* op.sink.publish([event("rotated", "CredentialRotated")])
      yield* settle
      expect((yield* op.outbox.stats).journaled).toBe(1)
    }), TEST_TIMEOUT)

  it.scoped("costs a handful of writes for a 1,000-event backlog", () =>
    Effect.gen(function* () {
      const store = memoryConfigMaps()
      const cp = yield* controlPlane
      const op = yield* operatorProcess(store, cp, { capacity: 2000 }, false)
      yield* op.start()
      for (let i = 0; i < 10; i++) {
        yield* op.sink.publish(events(100, `b${i}-`))
        yield* TestClock.adjust(Duration.millis(500))
      }
      yield* TestClock.adjust(Duration.seconds(3))
      yield* SubscriptionRef.set(op.creds, Option.some(credentials))
      yield* TestClock.adjust(Duration.seconds(15))
      expect((yield* acceptedKeys(cp)).length).toBe(1000)
      expect((yield* op.outbox.stats).journaled).toBe(0)
      expect(store.writes.count).toBeLessThanOrEqual(20)
    }), TEST_TIMEOUT)
})
