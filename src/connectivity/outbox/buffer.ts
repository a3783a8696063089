/**
 * The outbox's in-memory queue: bounded, first in first out, with the bookkeeping the journal
 * and the drainer need. Synchronous and mutable; the outbox calls it from `Effect.sync` only, so
 * every operation is atomic with respect to the other fibers.
 *
 * Overflow drops the oldest event that is not in flight: the newest transitions carry the
 * current state the control plane acts on, while an old transition has usually been superseded
 * (and the current conditions are re-derived after a restart anyway). Every drop is counted.
 */
import type { AgentEvent } from "../../api/agentProtocol.js"

/** Where a derived event came from: the kind and resourceVersion of the object version. */
export interface EventSource {
  readonly kind: string
  readonly resourceVersion: bigint
}

export interface PendingEvent {
  /** Position in the outbox, increasing with enqueue order; persisted with the event. */
  readonly seq: number
  readonly event: AgentEvent
  /** Epoch milliseconds. */
  readonly enqueuedAt: number
  readonly source?: EventSource
}

export interface OverflowState {
  /** Events were dropped since the buffer last drained. */
  readonly active: boolean
  /** How many, since the buffer last drained (0 when not active). */
  readonly dropped: number
}

export interface BufferStats {
  readonly occupancy: number
  readonly capacity: number
  readonly overflow: OverflowState
  /** Every event dropped by this process, across drains. */
  readonly droppedTotal: number
  /** Every event the control plane accepted from this process. */
  readonly deliveredTotal: number
  /** When the buffer last drained after an overflow, in epoch milliseconds. */
  readonly lastDrainedAt: number | undefined
}

export class EventBuffer {
  private items: Array<PendingEvent> = []
  private readonly keys = new Set<string>()
  /** The first `inflight` items are being posted. */
  private inflight = 0
  private nextSeq = 1
  /** Items up to this seq are in the persisted journal. */
  private journaled = 0
  private overflow: OverflowState = { active: false, dropped: 0 }
  private droppedTotal = 0
  private deliveredTotal = 0
  private lastDrainedAt: number | undefined = undefined

  constructor(
    readonly capacity: number,
    private readonly onOccupancy: (occupancy: number) => void = () => {}
  ) {}

  get size(): number {
    return this.items.length
  }

  /** Epoch ms of the oldest event not in flight, or undefined when there is none. */
  get oldestWaiting(): number | undefined {
    return this.items[this.inflight]?.enqueuedAt
  }

  get waiting(): number {
    return this.items.length - this.inflight
  }

  /** Adds an event; one whose eventKey is already queued is skipped. Returns how many were dropped. */
  push(event: AgentEvent, now: number, source?: EventSource): number {
    if (event.eventKey !== undefined && this.keys.has(event.eventKey)) return 0
    // Only the newest heartbeat is worth delivering.
    if (event.kind === "ClusterHeartbeat") this.removeWaiting((p) => p.event.kind === "ClusterHeartbeat")
    this.append({ seq: this.nextSeq++, event, enqueuedAt: now, ...(source === undefined ? {} : { source }) })
    const dropped = this.trim()
    this.onOccupancy(this.items.length)
    return dropped
  }

  /**
   * Puts back events loaded from the journal, in front of everything queued since start-up
   * (which is renumbered after them), and restores the persisted overflow state.
   */
  restore(loaded: ReadonlyArray<PendingEvent>, overflow: OverflowState, lastSeq: number): number {
    const later = this.items
    this.items = []
    this.keys.clear()
    this.inflight = 0
    for (const p of [...loaded].sort((a, b) => a.seq - b.seq)) {
      if (p.event.eventKey === undefined || !this.keys.has(p.event.eventKey)) this.append(p)
    }
    this.nextSeq = Math.max(lastSeq, this.items.at(-1)?.seq ?? 0) + 1
    this.journaled = this.nextSeq - 1
    for (const p of later) this.append({ ...p, seq: this.nextSeq++ })
    if (overflow.active) this.overflow = { active: true, dropped: this.overflow.dropped + overflow.dropped }
    const dropped = this.trim()
    this.onOccupancy(this.items.length)
    return dropped
  }

  /** Marks up to `max` of the oldest waiting events as in flight and returns them. */
  takeBatch(max: number): ReadonlyArray<PendingEvent> {
    const batch = this.items.slice(this.inflight, this.inflight + max)
    this.inflight += batch.length
    return batch
  }

  /** The in-flight events were accepted. Returns true when this drained the buffer after an overflow. */
  delivered(now: number): boolean {
    for (const p of this.items.slice(0, this.inflight)) this.forget(p)
    this.deliveredTotal += this.inflight
    this.items = this.items.slice(this.inflight)
    this.inflight = 0
    this.onOccupancy(this.items.length)
    if (this.items.length > 0 || !this.overflow.active) return false
    this.overflow = { active: false, dropped: 0 }
    this.lastDrainedAt = now
    return true
  }

  /** The control plane refused the in-flight events for good: they leave, counted by the caller. */
  rejected(): void {
    for (const p of this.items.slice(0, this.inflight)) this.forget(p)
    this.items = this.items.slice(this.inflight)
    this.inflight = 0
    this.onOccupancy(this.items.length)
  }

  /** The post failed: the in-flight events wait again, in front. */
  failed(): void {
    this.inflight = 0
  }

  /** Every event before the first queued one is delivered or dropped. */
  get settledThrough(): number {
    return (this.items[0]?.seq ?? this.nextSeq) - 1
  }

  get lastSeq(): number {
    return this.nextSeq - 1
  }

  /** Events not yet in the journal that were enqueued at or before `cutoff` (epoch ms). */
  unjournaled(cutoff: number): ReadonlyArray<PendingEvent> {
    const out: Array<PendingEvent> = []
    for (const p of this.items) {
      if (p.seq <= this.journaled) continue
      if (p.enqueuedAt > cutoff) break
      out.push(p)
    }
    return out
  }

  markJournaled(throughSeq: number): void {
    this.journaled = Math.max(this.journaled, throughSeq)
  }

  get journaledThrough(): number {
    return this.journaled
  }

  /** The lowest resourceVersion among queued events of `kind` after seq `journaledThrough`. */
  oldestUnjournaledVersion(kind: string, journaledThrough: number): bigint | undefined {
    let oldest: bigint | undefined = undefined
    for (const p of this.items) {
      if (p.seq <= journaledThrough || p.source?.kind !== kind) continue
      if (oldest === undefined || p.source.resourceVersion < oldest) oldest = p.source.resourceVersion
    }
    return oldest
  }

  get overflowState(): OverflowState {
    return this.overflow
  }

  stats(): BufferStats {
    return {
      occupancy: this.items.length,
      capacity: this.capacity,
      overflow: this.overflow,
      droppedTotal: this.droppedTotal,
      deliveredTotal: this.deliveredTotal,
      lastDrainedAt: this.lastDrainedAt
    }
  }

  private append(p: PendingEvent): void {
    this.items.push(p)
    if (p.event.eventKey !== undefined) this.keys.add(p.event.eventKey)
  }

  private forget(p: PendingEvent): void {
    if (p.event.eventKey !== undefined) this.keys.delete(p.event.eventKey)
  }

  private removeWaiting(match: (p: PendingEvent) => boolean): void {
    const kept = this.items.slice(0, this.inflight)
    for (const p of this.items.slice(this.inflight)) {
      if (match(p)) this.forget(p)
      else kept.push(p)
    }
    this.items = kept
  }

  /** Drops the oldest waiting events beyond capacity (the newest when everything is in flight). */
  private trim(): number {
    let dropped = 0
    while (this.items.length > this.capacity) {
      const index = this.inflight < this.items.length - 1 ? this.inflight : this.items.length - 1
      const [gone] = this.items.splice(index, 1)
      if (gone !== undefined) this.forget(gone)
      dropped++
    }
    if (dropped > 0) {
      this.overflow = { active: true, dropped: this.overflow.dropped + dropped }
      this.droppedTotal += dropped
    }
    return dropped
  }
}
