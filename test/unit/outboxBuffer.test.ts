/** The outbox's bounded queue: overflow, drain, in-flight batches, restore after a restart. */
import { describe, expect, it } from "vitest"
import type { AgentEvent } from "../../src/api/agentProtocol.js"
import { EventBuffer } from "../../src/connectivity/outbox/buffer.js"

const event = (key: string, kind = "ConditionTransition"): AgentEvent => ({
  eventKey: key,
  kind,
  resourceRef: { apiVersion: "v1", kind: "X", namespace: "", name: key },
  timestamp: "2026-05-28T10:00:00Z"
})

const keys = (batch: ReadonlyArray<{ readonly event: AgentEvent }>) => batch.map((p) => p.event.eventKey)

const filled = (capacity: number, count: number, occupancy: Array<number> = []) => {
  const buffer = new EventBuffer(capacity, (n) => occupancy.push(n))
  let dropped = 0
  for (let i = 1; i <= count; i++) dropped += buffer.push(event(`e${i}`), i)
  return { buffer, dropped }
}

describe("EventBuffer", () => {
  it("drops the oldest events beyond capacity, counts them and reports occupancy", () => {
    const occupancy: Array<number> = []
    const { buffer, dropped } = filled(3, 5, occupancy)
    expect(dropped).toBe(2)
    expect(buffer.stats()).toMatchObject({ occupancy: 3, capacity: 3, overflow: { active: true, dropped: 2 }, droppedTotal: 2 })
    expect(keys(buffer.takeBatch(10))).toEqual(["e3", "e4", "e5"])
    expect(occupancy.at(-1)).toBe(3)
  })

  it("never drops an event that is in flight: the oldest waiting one goes instead", () => {
    const { buffer } = filled(3, 3)
    expect(keys(buffer.takeBatch(2))).toEqual(["e1", "e2"])
    buffer.push(event("e4"), 4)
    buffer.failed()
    expect(keys(buffer.takeBatch(10))).toEqual(["e1", "e2", "e4"])
  })

  it("clears the overflow once delivery empties the buffer, and says so once", () => {
    const { buffer } = filled(2, 3)
    buffer.takeBatch(1)
    expect(buffer.delivered(100)).toBe(false)
    expect(buffer.overflowState.active).toBe(true)
    buffer.takeBatch(1)
    expect(buffer.delivered(200)).toBe(true)
    expect(buffer.stats()).toMatchObject({ occupancy: 0, overflow: { active: false, dropped: 0 }, droppedTotal: 1, deliveredTotal: 2, lastDrainedAt: 200 })
    buffer.push(event("e9"), 300)
    buffer.takeBatch(1)
    expect(buffer.delivered(400)).toBe(false)
  })

  it("puts a failed batch back in front, in order", () => {
    const { buffer } = filled(10, 4)
    buffer.takeBatch(2)
    buffer.failed()
    expect(keys(buffer.takeBatch(3))).toEqual(["e1", "e2", "e3"])
    buffer.delivered(10)
    expect(keys(buffer.takeBatch(3))).toEqual(["e4"])
    expect(buffer.settledThrough).toBe(3)
  })

  it("skips an event whose key is already queued, and keeps only the newest waiting heartbeat", () => {
    const buffer = new EventBuffer(10)
    buffer.push(event("a"), 1)
    buffer.push(event("a"), 2)
    buffer.push(event("hb1", "ClusterHeartbeat"), 3)
    buffer.push(event("b"), 4)
    buffer.push(event("hb2", "ClusterHeartbeat"), 5)
    expect(keys(buffer.takeBatch(10))).toEqual(["a", "b", "hb2"])
  })

  it("selects for the journal what waited long enough and is not journaled yet", () => {
    const { buffer } = filled(10, 5)
    expect(keys(buffer.unjournaled(3))).toEqual(["e1", "e2", "e3"])
    buffer.markJournaled(3)
    expect(keys(buffer.unjournaled(10))).toEqual(["e4", "e5"])
  })

  it("tracks the oldest resourceVersion of unjournaled events per kind", () => {
    const buffer = new EventBuffer(10)
    buffer.push(event("a"), 1, { kind: "ApplicationInstance", resourceVersion: 50n })
    buffer.push(event("b"), 2, { kind: "ApplicationInstance", resourceVersion: 40n })
    buffer.push(event("c"), 3, { kind: "Operation", resourceVersion: 60n })
    expect(buffer.oldestUnjournaledVersion("ApplicationInstance", 0)).toBe(40n)
    expect(buffer.oldestUnjournaledVersion("ApplicationInstance", 2)).toBeUndefined()
    expect(buffer.oldestUnjournaledVersion("Operation", 2)).toBe(60n)
  })

  it("restores journaled events in front of what was published before, renumbering the latter", () => {
    const buffer = new EventBuffer(10)
    buffer.push(event("early"), 1)
    buffer.restore(
      [
        { seq: 8, event: event("j8"), enqueuedAt: 0 },
        { seq: 7, event: event("j7"), enqueuedAt: 0 }
      ],
      { active: true, dropped: 4 },
      9
    )
    const batch = buffer.takeBatch(10)
    expect(keys(batch)).toEqual(["j7", "j8", "early"])
    expect(batch.map((p) => p.seq)).toEqual([7, 8, 10])
    expect(buffer.overflowState).toEqual({ active: true, dropped: 4 })
    expect(buffer.journaledThrough).toBe(9)
  })
})
