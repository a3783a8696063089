/**
 * The durable outbox (spec/connectivity.md §4, DESIGN.md items 7 and 8). One `Outbox.layer`
 * provides `StatusSink` (publish audit events and heartbeats) and `Outbox` (stats, and the
 * leader-only `run`). Design, in short (docs/connectivity/outbox.md has the long form):
 *
 * - Sources: `run` subscribes to the ApplicationInstance, Operation and Cluster informers and
 *   derives a `ConditionTransition` per changed condition (old vs new version), plus the
 *   `Operation*` audit kinds. Level-based: after a restart the informer replays every object,
 *   and an object whose resourceVersion is above the persisted watermark of its kind has its
 *   current conditions derived again; below it, they are known to be delivered or journaled.
 * - Durability at well under one write per event: an event delivered within `journalDelay`
 *   (the normal case) is never written to the cluster. Events still undelivered after it (an
 *   outage, no credentials yet, a backlog) are journaled in batched, immutable, gzipped segment
 *   ConfigMaps, one write per `persistInterval` at most; audit events published through the sink
 *   are journaled at the next tick regardless of age, because they cannot be re-derived. Segments
 *   are deleted once delivered. The watermark state is written every `watermarkInterval`.
 * - After a crash, journaled events that were not settled are loaded and sent; current conditions
 *   changed after the watermark are re-derived. What was delivered after the last state write may
 *   be sent once more (the control plane de-duplicates by eventKey).
 * - Not covered: a condition state observed and superseded within `journalDelay` of a crash,
 *   while undelivered, is gone from the object and from memory. The latest state is re-derived.
 * - Delivery (`drainer.ts`): batches of up to `batchSize` as soon as that many wait, else the
 *   oldest waiting event is at most `flushInterval` old; shared error semantics.
 * - Overflow: bounded by `capacity`; drops the oldest waiting event, counted, logged, in stats.
 */
import { randomBytes } from "node:crypto"
import { Clock, Context, Duration, Effect, Layer, Queue, Schedule, type Scope, type Stream, SubscriptionRef } from "effect"
import type { AgentEvent } from "../../api/agentProtocol.js"
import type { KubeApi } from "../../kube/KubeApi.js"
import type { KubeObject } from "../../kube/object.js"
import { Metrics } from "../../observability/metrics.js"
import type { ObjectEvent, Subscribable } from "../../runtime/sources.js"
import type { AgentClient } from "../agentClient.js"
import type { ConnectionState } from "../connectionState.js"
import type { AgentCredentials } from "../credentials.js"
import { StatusSink } from "../statusSink.js"
import { type BufferStats, EventBuffer, type OverflowState } from "./buffer.js"
import { runDrainer } from "./drainer.js"
import {
  deleteSegment,
  type JournalState,
  loadJournal,
  overflowOf,
  type Segment,
  type Watermarks,
  writeSegments,
  writeState
} from "./journal.js"
import { eventsForChange } from "./transitions.js"
import { makeRepeatedWarning } from "../../observability/repeatedWarning.js"

export interface OutboxSettings {
  /** The operator's namespace, where the journal ConfigMaps live. */
  readonly namespace: string
  /** Most events held; beyond it the oldest waiting one is dropped. Default 1000 (spec §2.5). */
  readonly capacity: number
  /** Most events per `POST /api/agent/events`. Default 100. */
  readonly batchSize: number
  /** A smaller batch is sent once its oldest event waited this long. Default 1 s. */
  readonly flushInterval: Duration.Duration
  /** Events undelivered for this long are journaled. Default 2 s. */
  readonly journalDelay: Duration.Duration
  /** How often the journal is written (when there is something to write). Default 1 s. */
  readonly persistInterval: Duration.Duration
  /** How often the watermark state is written (when it moved). Default 10 s. */
  readonly watermarkInterval: Duration.Duration
  /** Most events per segment ConfigMap (fewer when the gzipped body would be too big). Default 1000. */
  readonly segmentEvents: number
}

export const defaultOutboxSettings: Omit<OutboxSettings, "namespace"> = {
  capacity: 1000,
  batchSize: 100,
  flushInterval: Duration.seconds(1),
  journalDelay: Duration.seconds(2),
  persistInterval: Duration.seconds(1),
  watermarkInterval: Duration.seconds(10),
  segmentEvents: 1000
}

/** What the Cluster reconciler turns into `BufferOverflow` (`EventBufferFull` / `BufferDrained`). */
export interface OutboxStats extends BufferStats {
  /** Batches the control plane refused for good (400 and the like): logged and counted, not retried. */
  readonly rejectedTotal: number
  /** Events held in the journal ConfigMaps right now. */
  readonly journaled: number
}

export type OutboxRequirements = KubeApi | AgentClient | AgentCredentials | ConnectionState

export interface OutboxService {
  readonly stats: Effect.Effect<OutboxStats>
  /** The overflow state whenever it changes (at most once per persist tick while overflowing). */
  readonly overflowChanges: Stream.Stream<OverflowState>
  /**
   * The leader-only runnable: loads the journal, derives transitions from `sources` (the
   * ApplicationInstance, Operation and Cluster informers), persists and drains, until
   * interrupted. Stopping it abruptly is safe: nothing is flushed on the way out.
   */
  readonly run: (sources: ReadonlyArray<Subscribable>) => Effect.Effect<never, never, OutboxRequirements>
}

export class Outbox extends Context.Tag("vworkspace/Outbox")<Outbox, OutboxService>() {
  static readonly layer = (
    settings: Partial<OutboxSettings> & Pick<OutboxSettings, "namespace">
  ): Layer.Layer<Outbox | StatusSink, never, Metrics> =>
    Layer.effectContext(
      Effect.gen(function* () {
        const outbox = yield* makeOutbox({ ...defaultOutboxSettings, ...settings })
        return Context.make(Outbox, outbox.service).pipe(Context.add(StatusSink, outbox.sink))
      })
    )
}

/** A decimal resourceVersion (etcd's revision); undefined when it is not one. */
const versionOf = (object: KubeObject): bigint | undefined => {
  const rv = object.metadata.resourceVersion
  return rv !== undefined && /^\d+$/.test(rv) ? BigInt(rv) : undefined
}

/** Reading the journal at start: jittered exponential from 0.5 s, at most 30 s apart, until it works. */
const journalRetry = Schedule.exponential(Duration.millis(500)).pipe(
  Schedule.jittered,
  Schedule.union(Schedule.spaced(Duration.seconds(30)))
)

/** Audit kinds cannot be re-derived from objects: the sink journals them without waiting. */
const isDerivable = (event: AgentEvent): boolean =>
  event.kind === "ConditionTransition" || event.kind === "ClusterHeartbeat"

/** The wiring shared by the sink, the source handler, the persister and the drainer. */
export interface OutboxCore {
  readonly settings: OutboxSettings
  readonly buffer: EventBuffer
  /** Wakes the drainer. */
  readonly wake: Queue.Queue<void>
  readonly overflow: SubscriptionRef.SubscriptionRef<OverflowState>
  /** Called after every push that dropped events. */
  readonly dropped: (count: number) => Effect.Effect<void>
  readonly counters: { rejected: number }
}

const makeOutbox = (settings: OutboxSettings) =>
  Effect.gen(function* () {
    const metrics = yield* Metrics
    const buffer = new EventBuffer(settings.capacity, metrics.outbox.occupancy)
    const wake = yield* Queue.sliding<void>(1)
    const urgent = yield* Queue.sliding<void>(1)
    const overflow = yield* SubscriptionRef.make<OverflowState>({ active: false, dropped: 0 })
    const counters = { rejected: 0 }
    let journaled = 0

    const dropped = (count: number): Effect.Effect<void> =>
      Effect.gen(function* () {
        const before = yield* SubscriptionRef.get(overflow)
        if (before.active) return
        yield* SubscriptionRef.set(overflow, buffer.overflowState)
        yield* Effect.logWarning("outbound event buffer is full: dropping the oldest events").pipe(
          Effect.annotateLogs({ dropped: count, capacity: settings.capacity })
        )
      })

    const core: OutboxCore = { settings, buffer, wake, overflow, dropped, counters }

    const sink = {
      publish: (events: ReadonlyArray<AgentEvent>) =>
        Effect.gen(function* () {
          const now = yield* Clock.currentTimeMillis
          const lost = yield* Effect.sync(() => events.reduce((n, e) => n + buffer.push(e, now), 0))
          if (lost > 0) yield* dropped(lost)
          yield* Queue.offer(wake, undefined)
          if (events.some((e) => !isDerivable(e))) yield* Queue.offer(urgent, undefined)
        })
    }

    const service: OutboxService = {
      stats: Effect.sync(() => ({ ...buffer.stats(), rejectedTotal: counters.rejected, journaled })),
      overflowChanges: overflow.changes,
      run: (sources) =>
        Effect.scoped(
          runOutbox(core, sources, urgent, (n) => {
            journaled = n
          })
        )
    }
    return { sink, service }
  })

/** Per source kind, the highest resourceVersion handled; `null` once a kind's versions are not decimal. */
type Observed = Map<string, bigint | null>

const mergeWatermarks = (all: ReadonlyArray<Watermarks>): Observed => {
  const merged: Observed = new Map()
  for (const w of all) {
    for (const [kind, rv] of Object.entries(w)) {
      if (!/^\d+$/.test(rv)) continue
      const value = BigInt(rv)
      const current = merged.get(kind)
      if (current === undefined || current === null || value > current) merged.set(kind, value)
    }
  }
  return merged
}

const runOutbox = (
  core: OutboxCore,
  sources: ReadonlyArray<Subscribable>,
  urgent: Queue.Queue<void>,
  setJournaled: (n: number) => void
): Effect.Effect<never, never, OutboxRequirements | Scope.Scope> =>
  Effect.gen(function* () {
    const { settings, buffer } = core
    const loaded = yield* loadJournal(settings.namespace).pipe(
      Effect.tapError((e) => Effect.logWarning("cannot read the outbox journal yet; retrying").pipe(Effect.annotateLogs({ error: e.message }))),
      // The schedule never ends, so the error channel is empty in fact.
      Effect.retry(journalRetry),
      Effect.orDie
    )
    for (const name of loaded.unreadable) {
      yield* Effect.logError("outbox journal object is unreadable and was left in place").pipe(Effect.annotateLogs({ name }))
    }
    const settled = loaded.state?.settledThrough ?? 0
    const lastSeq = Math.max(loaded.state?.lastSeq ?? 0, ...loaded.segments.map((s) => s.lastSeq))
    // What was handled before the restart (fixed), and the highest version seen since (moving).
    const restored = mergeWatermarks([loaded.state?.watermarks ?? {}, ...loaded.segments.map((s) => s.watermarks)])
    const observed: Observed = new Map(restored)
    const live: Array<Segment> = [...loaded.segments]
    const writer = randomBytes(3).toString("hex")
    const lost = yield* Effect.sync(() =>
      buffer.restore(
        loaded.segments.flatMap((s) => s.events.filter((e) => e.seq > settled)),
        overflowOf(loaded.state),
        lastSeq
      )
    )
    if (lost > 0) yield* core.dropped(lost)
    /** Events held in live segments that are not settled yet. */
    const countJournaled = () => {
      const settledNow = buffer.settledThrough
      setJournaled(live.reduce((n, s) => n + s.events.filter((e) => e.seq > settledNow).length, 0))
    }
    countJournaled()
    yield* Effect.logInfo("outbox started").pipe(
      Effect.annotateLogs({ pending: buffer.size, segments: live.length })
    )

    const onChange = (change: ObjectEvent): Effect.Effect<void> =>
      Effect.gen(function* () {
        if (change.type === "deleted") return
        const now = yield* Clock.currentTimeMillis
        const lostNow = yield* Effect.sync(() => {
          const kind = change.object.kind
          const version = versionOf(change.object)
          // A first sight at or below the restored watermark was handled before the restart. Compare
          // with the restored value, not the moving one: the informer replays its cache in no
          // particular order, so a newer object may come before an older one that changed too.
          const handled = restored.get(kind)
          if (change.old === undefined && version !== undefined && typeof handled === "bigint" && version <= handled) return 0
          let lostHere = 0
          for (const event of eventsForChange(change.old, change.object, new Date(now))) {
            lostHere += buffer.push(event, now, version === undefined ? undefined : { kind, resourceVersion: version })
          }
          const known = observed.get(kind)
          if (version === undefined) observed.set(kind, null)
          else if (known !== null && (known === undefined || version > known)) observed.set(kind, version)
          return lostHere
        })
        if (lostNow > 0) yield* core.dropped(lostNow)
        yield* Queue.offer(core.wake, undefined)
      })
    for (const source of sources) yield* source.subscribe(onChange)

    /** The watermarks that hold once every event through seq `journaledThrough` is in the journal. */
    const safeWatermarks = (journaledThrough: number): Watermarks => {
      const out: Record<string, string> = {}
      for (const [kind, version] of observed) {
        if (version === null) continue
        const oldest = buffer.oldestUnjournaledVersion(kind, journaledThrough)
        out[kind] = (oldest === undefined ? version : oldest - 1n).toString()
      }
      return out
    }

    let lastState: JournalState | undefined = loaded.state
    let lastStateAt = 0
    const persistOnce = (force: boolean) =>
      Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        const cutoff = force ? now : now - Duration.toMillis(settings.journalDelay)
        const fresh = buffer.unjournaled(cutoff)
        if (fresh.length > 0) {
          const last = fresh.at(-1)!.seq
          const written = yield* writeSegments(settings.namespace, writer, fresh, safeWatermarks(last), settings.segmentEvents)
          buffer.markJournaled(last)
          live.push(...written)
        }
        const settledNow = buffer.settledThrough
        const done = live.filter((s) => s.lastSeq <= settledNow)
        const state: JournalState = {
          settledThrough: settledNow,
          lastSeq: buffer.lastSeq,
          watermarks: safeWatermarks(buffer.journaledThrough),
          overflow: buffer.overflowState
        }
        const due = done.length > 0 || now - lastStateAt >= Duration.toMillis(settings.watermarkInterval)
        if (due && JSON.stringify(state) !== JSON.stringify(lastState)) {
          yield* writeState(settings.namespace, state)
          lastState = state
          lastStateAt = now
        }
        for (const segment of done) {
          yield* deleteSegment(settings.namespace, segment.name)
          live.splice(live.indexOf(segment), 1)
        }
        countJournaled()
        yield* SubscriptionRef.update(core.overflow, (o) =>
          o.active === buffer.overflowState.active && o.dropped === buffer.overflowState.dropped ? o : buffer.overflowState
        )
      })

    const journalWarning = yield* makeRepeatedWarning({
      warning: "cannot write the outbox journal; retrying at every tick",
      recovered: "the outbox journal is written again"
    })
    const persister = Effect.gen(function* () {
      const forced = yield* Queue.take(urgent).pipe(
        Effect.as(true),
        Effect.timeoutTo({ duration: settings.persistInterval, onTimeout: () => false, onSuccess: (b) => b })
      )
      yield* persistOnce(forced).pipe(Effect.zipRight(journalWarning.clear), Effect.catchAll(journalWarning.warn))
    }).pipe(Effect.forever)

    yield* Effect.forkScoped(persister)
    return yield* runDrainer(core)
  })
