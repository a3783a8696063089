/**
 * What the outbox sends, derived from objects (spec/connectivity.md §4.3, DESIGN.md item 7):
 * `ConditionTransition` events from the difference between two versions of an object's
 * conditions, the `Operation*` audit kinds from Operation conditions becoming True, and the
 * builders for the audit and heartbeat events other components publish.
 *
 * A condition transition is identified by its eventKey, built from type, status, reason,
 * observedGeneration and lastTransitionTime: re-deriving the same condition gives the same key
 * (the control plane de-duplicates it), a flap back to an earlier status moves
 * lastTransitionTime and so gives a new key, and a reason change is never de-duplicated away.
 * The message is not part of the key, so a message-only change is not a transition.
 */
import { Option, Schema } from "effect"
import { type AgentEvent, type AppliedRef, appliedRefOf, WireCondition } from "../../api/agentProtocol.js"
import { ClusterReason, OperationConditionType } from "../../api/conditions.js"
import { ApiVersions } from "../../api/wellKnown.js"
import type { KubeObject } from "../../kube/object.js"

const StatusConditions = Schema.Struct({
  status: Schema.optional(Schema.Struct({ conditions: Schema.optional(Schema.Array(Schema.Unknown)) }))
})
const decodeStatus = Schema.decodeUnknownOption(StatusConditions)
const decodeCondition = Schema.decodeUnknownOption(WireCondition)

/**
 * Decoded once per object: cached objects are never mutated, and each version is the `next` of
 * one change and the `previous` of the one after it.
 */
const decodedConditions = new WeakMap<KubeObject, ReadonlyArray<WireCondition>>()

/** The object's well-formed conditions; a malformed entry is skipped, not fatal for the others. */
export const conditionsOf = (object: KubeObject | undefined): ReadonlyArray<WireCondition> => {
  if (object === undefined) return []
  const known = decodedConditions.get(object)
  if (known !== undefined) return known
  const entries = Option.match(decodeStatus(object), {
    onNone: () => [],
    onSome: (s) => s.status?.conditions ?? []
  })
  const conditions = entries.flatMap((entry) => Option.toArray(decodeCondition(entry)))
  decodedConditions.set(object, conditions)
  return conditions
}

/** `<type>/<status>/<reason>@<generation>/<lastTransitionTime>`: what makes one transition unique. */
const transitionPart = (condition: WireCondition, generation: number | undefined): string =>
  `${condition.type}/${condition.status}/${condition.reason}@${condition.observedGeneration ?? generation ?? 0}/${
    condition.lastTransitionTime ?? "_"
  }`

/**
 * `condition/<apiVersion>/<kind>/<namespace|_>/<name>/<uid|_>/<type>/<status>/<reason>@<generation>/<lastTransitionTime>`:
 * the original key (spec §4.3) extended by reason and lastTransitionTime (gap G8). The generation
 * is the condition's observedGeneration, or the object's when the condition has none.
 */
export const conditionEventKey = (ref: AppliedRef, condition: WireCondition): string =>
  `condition/${ref.apiVersion}/${ref.kind}/${ref.namespace || "_"}/${ref.name}/${ref.uid || "_"}/${transitionPart(
    condition,
    ref.generation
  )}`

/** `<auditKind>/<uid|name>/<type>/<status>/<reason>@<generation>/<lastTransitionTime>`. */
export const auditEventKey = (kind: string, ref: AppliedRef, condition: WireCondition): string =>
  `${kind}/${ref.uid || ref.name}/${transitionPart(condition, ref.generation)}`

/** The conditions of `next` that are new or differ from `previous` in a field of the key. */
export const changedConditions = (
  previous: KubeObject | undefined,
  next: KubeObject
): ReadonlyArray<WireCondition> => {
  const seen = new Set(conditionsOf(previous).map((c) => transitionPart(c, previous?.metadata.generation)))
  return conditionsOf(next).filter((c) => !seen.has(transitionPart(c, next.metadata.generation)))
}

/** The Operation condition types whose becoming True is an audit event `Operation<Type>` (spec §4.3). */
const operationAuditTypes: ReadonlyArray<string> = [
  OperationConditionType.Accepted,
  OperationConditionType.Blocked,
  OperationConditionType.Running,
  OperationConditionType.Succeeded,
  OperationConditionType.Failed
]

const timestampOf = (now: Date): string => now.toISOString()

/**
 * The events one observed change yields: a `ConditionTransition` per changed condition and, for
 * an Operation, an `Operation<Type>` audit event per audit condition that changed to True.
 * `previous` is undefined when the object is seen for the first time: every condition counts.
 */
export const eventsForChange = (
  previous: KubeObject | undefined,
  next: KubeObject,
  now: Date
): ReadonlyArray<AgentEvent> => {
  const ref = appliedRefOf(next)
  const timestamp = timestampOf(now)
  const isOperation = next.kind === "Operation" && next.apiVersion === ApiVersions.Operation
  return changedConditions(previous, next).flatMap((condition): ReadonlyArray<AgentEvent> => {
    const transition: AgentEvent = {
      eventKey: conditionEventKey(ref, condition),
      kind: "ConditionTransition",
      resourceRef: ref,
      conditions: [condition],
      timestamp
    }
    if (!isOperation || condition.status !== "True" || !operationAuditTypes.includes(condition.type)) return [transition]
    const kind = `Operation${condition.type}`
    return [transition, { eventKey: auditEventKey(kind, ref, condition), kind, resourceRef: ref, conditions: [condition], timestamp }]
  })
}

const clusterRef = (cluster: { readonly name: string; readonly uid?: string }): AppliedRef => ({
  apiVersion: ApiVersions.Cluster,
  kind: "Cluster",
  namespace: "",
  name: cluster.name,
  ...(cluster.uid === undefined ? {} : { uid: cluster.uid })
})

/** The `CredentialRotated` audit event (spec §4.3), for the Cluster reconciler after a rotation. */
export const credentialRotatedEvent = (
  cluster: { readonly name: string; readonly uid?: string },
  rotatedAt: Date
): AgentEvent => {
  const ref = clusterRef(cluster)
  const condition: WireCondition = {
    type: "Authenticated",
    status: "True",
    lastTransitionTime: timestampOf(rotatedAt),
    reason: ClusterReason.CredentialRotated,
    message: "Bootstrap credential rotated successfully"
  }
  return {
    eventKey: auditEventKey("CredentialRotated", ref, condition),
    kind: "CredentialRotated",
    resourceRef: ref,
    conditions: [condition],
    timestamp: timestampOf(rotatedAt)
  }
}

/**
 * A `ClusterHeartbeat` with a snapshot of the Cluster's conditions (spec §2.3, gap G9). The key
 * is per beat, so a heartbeat re-sent after a crash is de-duplicated; the outbox keeps only the
 * newest undelivered heartbeat.
 */
export const heartbeatEvent = (
  cluster: { readonly name: string; readonly uid?: string },
  conditions: ReadonlyArray<WireCondition>,
  now: Date
): AgentEvent => ({
  eventKey: `heartbeat/${cluster.uid || cluster.name}/${timestampOf(now)}`,
  kind: "ClusterHeartbeat",
  resourceRef: clusterRef(cluster),
  conditions,
  timestamp: timestampOf(now)
})
