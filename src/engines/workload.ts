/**
 * What the velero, workflow, volsync and snapshot engines share about the objects they create:
 * the name rule, the ownership labels, reading a child from the informer cache, creating it
 * without ever taking over someone else's object, deleting it only when it is ours, and telling
 * "this kind is not installed" apart from every other failure.
 */
import { Effect, Option, ParseResult, Schema } from "effect"
import type { Operation } from "../api/operation.js"
import type { ApplicationInstance } from "../api/applicationInstance.js"
import { FieldManagers, Labels, ManagedBy } from "../api/wellKnown.js"
import type { KubeError } from "../kube/errors.js"
import { KubeApi } from "../kube/KubeApi.js"
import { apiVersionOf, type KubeObject, type OwnerReference, type ResourceType } from "../kube/object.js"
import { Resources } from "../kube/resources.js"
import { ObjectLookup } from "../reconcilers/objectLookup.js"
import { EngineError, type WorkloadRef } from "./engine.js"

/** Labels that name the Operation, so a child in another namespace (Velero's) maps back to it. */
export const OperationRefLabels = {
  namespace: "ops.vworkspace.io/operation-namespace",
  name: "ops.vworkspace.io/operation-name"
} as const

/** `<namespace>--<name>` when it fits a DNS label (63 characters), else the Operation's UID. */
export const workloadName = (op: Operation): string => {
  const name = `${op.metadata.namespace ?? ""}--${op.metadata.name ?? ""}`
  return name.length <= 63 ? name : (op.metadata.uid ?? name.slice(0, 63))
}

/** Where workloads for a target run: its release namespace, else its own (placeholders). */
export const targetNamespace = (target: ApplicationInstance): string =>
  target.spec?.release?.namespace || (target.metadata.namespace ?? "")

export const workloadLabels = (op: Operation): Record<string, string> => ({
  [Labels.managedBy]: ManagedBy.operator,
  [Labels.operation]: op.metadata.uid ?? "",
  // Label values are at most 63 characters, as are namespace names; Operation names can be longer.
  [OperationRefLabels.namespace]: op.metadata.namespace ?? "",
  ...((op.metadata.name ?? "").length <= 63 ? { [OperationRefLabels.name]: op.metadata.name ?? "" } : {})
})

/** A plain (non-controller) owner reference, only possible when the child shares the Operation's namespace. */
export const ownerReferences = (op: Operation, namespace: string): ReadonlyArray<OwnerReference> =>
  namespace === op.metadata.namespace
    ? [{ apiVersion: apiVersionOf(Resources.Operation), kind: "Operation", name: op.metadata.name ?? "", uid: op.metadata.uid ?? "" }]
    : []

export const isOwnedBy = (child: KubeObject, op: Operation): boolean =>
  child.metadata.labels?.[Labels.operation] === op.metadata.uid

export const refOf = (child: KubeObject): WorkloadRef => ({
  kind: child.kind,
  name: child.metadata.name ?? "",
  namespace: child.metadata.namespace
})

const describe = (type: ResourceType, namespace: string, name: string) => `${type.kind} ${namespace}/${name}`

const ownershipConflict = (type: ResourceType, child: KubeObject) =>
  new EngineError({
    reason: "WorkloadOwnershipConflict",
    message: `engine workload ownership conflict: ${describe(type, child.metadata.namespace ?? "", child.metadata.name ?? "")} belongs to a different operation (${Labels.operation}=${child.metadata.labels?.[Labels.operation] ?? "<none>"}); delete it or use another Operation name`
  })

/** What to install for each optional kind, for the MissingDependencies message. */
export interface Dependency {
  readonly type: ResourceType
  /** e.g. "Velero (velero.io CRDs and the Velero server)". */
  readonly install: string
}

/**
 * The one place that decides a kind is not installed. Today: the API server answers 404 for the
 * kind's collection. The runtime's "kind available" informer mechanism can replace the probe here.
 */
export const requireKind = (dependency: Dependency): Effect.Effect<void, EngineError, KubeApi> =>
  Effect.flatMap(KubeApi, (api) =>
    api.list(dependency.type, { limit: 1 }).pipe(
      Effect.asVoid,
      Effect.catchTag("NotFound", () => Effect.fail(missingDependency(dependency))),
      Effect.mapError((e) => (e._tag === "EngineError" ? e : apiError(`list ${dependency.type.plural}`, e)))
    )
  )

export const missingDependency = ({ type, install }: Dependency): EngineError =>
  new EngineError({
    reason: "MissingDependencies",
    message: `the ${type.kind} kind (${type.plural}.${type.group}/${type.version}) is not installed in this cluster: install ${install}`
  })

export const apiError = (what: string, cause: KubeError): EngineError =>
  new EngineError({ reason: "EngineFailed", message: `${what}: ${cause.message}`, cause })

/** Reads a child from the informer cache and decodes it; a shape the schema rejects is an error, not a guess. */
export const readChild = <A, I>(
  type: ResourceType,
  schema: Schema.Schema<A, I>,
  namespace: string,
  name: string
): Effect.Effect<Option.Option<A>, EngineError, ObjectLookup> =>
  Effect.flatMap(ObjectLookup, (lookup) => lookup.get(type, namespace, name)).pipe(
    Effect.mapError((e) => apiError(`read ${describe(type, namespace, name)}`, e)),
    Effect.flatMap((found) =>
      Option.match(found, {
        onNone: () => Effect.succeed(Option.none()),
        onSome: (o) =>
          Schema.decodeUnknown(schema)(o).pipe(
            Effect.map(Option.some),
            Effect.mapError(
              (e) =>
                new EngineError({
                  reason: "EngineFailed",
                  message: `cannot read ${describe(type, namespace, name)}: ${ParseResult.TreeFormatter.formatErrorSync(e)}`
                })
            )
          )
      })
    )
  )

/** A child the engine can see, or `Absent` when there is none (or it is not this Operation's). */
export const ownedChild = <A extends KubeObject, I>(
  type: ResourceType,
  schema: Schema.Schema<A, I>,
  op: Operation,
  namespace: string,
  name: string
): Effect.Effect<Option.Option<A>, EngineError, ObjectLookup> =>
  Effect.flatMap(readChild(type, schema, namespace, name), (found) =>
    Option.match(found, {
      onNone: () => Effect.succeed(Option.none()),
      onSome: (child) => (isOwnedBy(child, op) ? Effect.succeed(Option.some(child)) : Effect.fail(ownershipConflict(type, child)))
    })
  )

/** An authoritative read (not the cache), for decisions that must not act on a stale copy. */
const getLive = (type: ResourceType, namespace: string, name: string) =>
  Effect.flatMap(KubeApi, (api) => api.get(type, name, namespace)).pipe(
    Effect.map(Option.some),
    Effect.catchTag("NotFound", () => Effect.succeed(Option.none<KubeObject>())),
    Effect.mapError((e) => apiError(`get ${describe(type, namespace, name)}`, e))
  )

/**
 * Creates the child unless it exists. An existing child must carry this Operation's UID label;
 * it is not written again (a running workload is never mutated). Absent from the cache is
 * confirmed with a GET, so a stale cache cannot make the engine overwrite another Operation's
 * object. A 404 on create means the kind is not installed (`requireKind` says so).
 */
export const createChild = (
  type: ResourceType,
  desired: KubeObject,
  op: Operation,
  dependency: Dependency
): Effect.Effect<WorkloadRef, EngineError, KubeApi | ObjectLookup> =>
  Effect.gen(function* () {
    const api = yield* KubeApi
    const lookup = yield* ObjectLookup
    const namespace = desired.metadata.namespace ?? ""
    const name = desired.metadata.name ?? ""
    const cached = yield* lookup.get(type, namespace, name).pipe(Effect.mapError((e) => apiError(`read ${describe(type, namespace, name)}`, e)))
    const existing = Option.isSome(cached) ? cached : yield* getLive(type, namespace, name)
    if (Option.isSome(existing)) {
      if (!isOwnedBy(existing.value, op)) return yield* ownershipConflict(type, existing.value)
      return refOf(existing.value)
    }
    const created = yield* api.apply(type, desired, { fieldManager: FieldManagers.operator }).pipe(
      Effect.catchTag("NotFound", (e) =>
        // The kind, or the namespace, is missing: say which.
        Effect.zipRight(requireKind(dependency), Effect.fail(apiError(`create ${describe(type, namespace, name)}`, e)))
      ),
      Effect.mapError((e) => (e._tag === "EngineError" ? e : apiError(`create ${describe(type, namespace, name)}`, e)))
    )
    return refOf(created)
  })

/**
 * Deletes the child if it exists and is this Operation's, with Background propagation and a UID
 * precondition (the object deleted is the one checked). `keep` spares children in a final state
 * worth keeping (a completed backup).
 */
export const deleteOwnedChild = (
  type: ResourceType,
  op: Operation,
  namespace: string,
  name: string,
  keep: (child: KubeObject) => boolean = () => false
): Effect.Effect<void, EngineError, KubeApi> =>
  Effect.gen(function* () {
    const api = yield* KubeApi
    const found = yield* getLive(type, namespace, name)
    if (Option.isNone(found) || !isOwnedBy(found.value, op) || keep(found.value)) return
    if (found.value.metadata.deletionTimestamp !== undefined) return
    yield* api
      .delete(type, name, namespace, { propagationPolicy: "Background", preconditions: { uid: found.value.metadata.uid } })
      .pipe(
        Effect.catchTag("NotFound", () => Effect.void),
        Effect.mapError((e) => apiError(`delete ${describe(type, namespace, name)}`, e))
      )
  })

/** Decodes the parameters with the engine's own reading of them; a mismatch is a typed error, not a guess. */
export const decodeParameters = <A, I>(schema: Schema.Schema<A, I>, parameters: unknown): Effect.Effect<A, EngineError> =>
  Schema.decodeUnknown(schema)(parameters ?? {}).pipe(
    Effect.mapError(
      (e) => new EngineError({ reason: "ValidationFailed", message: `parameters: ${ParseResult.TreeFormatter.formatErrorSync(e)}` })
    )
  )
