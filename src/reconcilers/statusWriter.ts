/**
 * One way for every reconciler to write status: compute the next status from the current one,
 * write it only when it differs, and record an Event for each condition whose status or reason
 * moved. `lastReconcileTime` (when the kind has it) changes only together with a real change, so
 * resyncs of an unchanged object write nothing.
 *
 * The write is conditional on the resourceVersion of `object` (see `applyStatus`): a status
 * computed from a stale copy is refused with Conflict, never applied over a newer one. Returns the
 * object as it now stands, so a pass that writes the same object again carries on from the new
 * version.
 */
import { DateTime, Effect } from "effect"
import { type ConditionUpdate, formatConditionTime, setConditions } from "../api/conditions.js"
import type { Condition } from "../api/meta.js"
import type { KubeObject, ResourceType } from "../kube/object.js"
import { EventRecorder, type EventType } from "../observability/events.js"
import { applyStatus, jsonEqual } from "./writes.js"

export interface StatusWithConditions {
  readonly conditions?: ReadonlyArray<Condition>
  readonly lastReconcileTime?: string
  readonly [field: string]: unknown
}

export interface StatusChange {
  /** Every status field except `conditions` and `lastReconcileTime`; absent fields are dropped. */
  readonly fields: Record<string, unknown>
  readonly conditions: ReadonlyArray<ConditionUpdate>
  readonly stampReconcileTime: boolean
}

/**
 * How a condition transition is announced as a Kubernetes Event; `undefined` for none. `previous`
 * is absent when the condition appears for the first time.
 */
export type EventFor = (
  c: Condition,
  previous: Condition | undefined
) => { readonly type: EventType; readonly reason: string } | undefined

const defined = (o: Record<string, unknown>): Record<string, unknown> =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined))

export const writeStatus = (
  type: ResourceType,
  object: KubeObject & { readonly status?: StatusWithConditions },
  change: StatusChange,
  eventFor: EventFor
) =>
  Effect.gen(function* () {
    const now = new Date(DateTime.toEpochMillis(yield* DateTime.now))
    const before = object.status?.conditions ?? []
    const conditions = setConditions(before, change.conditions, now)
    const { lastReconcileTime: _previousTime, ...current } = object.status ?? {}
    const next = defined({ ...change.fields, conditions })
    if (jsonEqual(next, defined(current))) return object
    const status = change.stampReconcileTime ? { ...next, lastReconcileTime: formatConditionTime(now) } : next
    const written = yield* applyStatus(type, object, status)
    yield* Effect.logDebug("status updated")
    const recorder = yield* EventRecorder
    for (const c of conditions) {
      const old = before.find((b) => b.type === c.type)
      if (old !== undefined && old.status === c.status && old.reason === c.reason) continue
      const ev = eventFor(c, old)
      if (ev !== undefined) yield* recorder.record(object, ev.type, ev.reason, `${c.type}=${c.status}: ${c.message}`)
    }
    return written
  })
