/**
 * Which Operations an informer event wakes. Progress of a workload, a change of the target or of
 * the namespace, and the end of an earlier operation that others wait for all arrive this way,
 * so nothing polls.
 */
import { Effect, Option, Schema } from "effect"
import type { CacheReader } from "../kube/cache.js"
import type { KubeObject } from "../kube/object.js"
import { objectKey } from "../kube/object.js"
import { Labels } from "../api/wellKnown.js"
import { keysFromEventsWith, type ObjectEvent } from "../runtime/sources.js"

/** The two fields the wake-up rules read, tolerant of anything else. */
const Routing = Schema.Struct({
  spec: Schema.optional(Schema.Struct({ targetRef: Schema.optional(Schema.Struct({ name: Schema.optional(Schema.String) })) })),
  status: Schema.optional(Schema.Struct({ phase: Schema.optional(Schema.String) }))
})
const routing = Schema.decodeUnknownOption(Routing)
const phaseOf = (o: KubeObject | undefined): string =>
  o === undefined ? "" : (Option.getOrUndefined(routing(o))?.status?.phase ?? "")
const targetOf = (o: KubeObject): string => Option.getOrUndefined(routing(o))?.spec?.targetRef?.name ?? ""
const terminal = new Set(["Succeeded", "Failed", "Cancelled"])

/** Operations in `namespace` (all when absent) that match `keep`. */
const operationKeys = (operations: CacheReader, namespace: string | undefined, keep: (op: KubeObject) => boolean) =>
  Effect.map(operations.list(namespace), (ops) => ops.filter(keep).map(objectKey))

/**
 * An Operation event wakes the Operation itself; when it finishes (or goes away), it also wakes
 * the unfinished operations on the same target, which may have been waiting for it.
 */
export const operationEventKeys = (operations: CacheReader) => (event: ObjectEvent) => {
  const op = event.object
  const finishedNow =
    event.type === "deleted" || (terminal.has(phaseOf(op)) && !terminal.has(phaseOf(event.old)))
  if (!finishedNow) return Effect.succeed([objectKey(op)])
  return Effect.map(
    operationKeys(operations, op.metadata.namespace, (o) => targetOf(o) === targetOf(op) && !terminal.has(phaseOf(o))),
    (waiters) => [objectKey(op), ...waiters]
  )
}

/** A target ApplicationInstance changed: the operations that name it. */
export const targetEventKeys = (operations: CacheReader) => (event: ObjectEvent) =>
  operationKeys(operations, event.object.metadata.namespace, (o) => targetOf(o) === (event.object.metadata.name ?? ""))

/** A Namespace changed (allowed-types): every operation in it. */
export const namespaceEventKeys = (operations: CacheReader) => (event: ObjectEvent) =>
  operationKeys(operations, event.object.metadata.name, () => true)

/** An engine's child changed: the Operation whose UID its `ops.vworkspace.io/operation` label carries. */
export const childEventKeys = (operations: CacheReader) => (event: ObjectEvent) => {
  const uid = event.object.metadata.labels?.[Labels.operation]
  if (uid === undefined || uid === "") return Effect.succeed([])
  return operationKeys(operations, undefined, (o) => o.metadata.uid === uid)
}

/**
 * An engine's kind became served (its CRD was installed) or stopped being served: every
 * unfinished operation, so those blocked on `DependencyMissing` go ahead at once.
 */
export const unfinishedOperationKeys = (operations: CacheReader) =>
  operationKeys(operations, undefined, (o) => !terminal.has(phaseOf(o)))

/** Runs an effectful key mapper over an informer's event stream (one stage per chunk of events). */
export const wakeups = keysFromEventsWith
