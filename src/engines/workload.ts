/**
 * What every engine does the same way with its workload (spec/operations.md §8.2): its name and
 * namespace, the ownership labels, the owner reference, and deletion only of what this Operation
 * owns.
 */
import { Effect, Option, ParseResult, Schema } from "effect"
import type { ApplicationInstance } from "../api/applicationInstance.js"
import type { Operation } from "../api/operation.js"
import { ApiVersions, Labels, ManagedBy, Names } from "../api/wellKnown.js"
import { isTransient, type KubeError } from "../kube/errors.js"
import { KubeApi } from "../kube/KubeApi.js"
import type { KubeObject, OwnerReference, ResourceType } from "../kube/object.js"
import { Resources } from "../kube/resources.js"
import { ObjectLookup } from "../reconcilers/objectLookup.js"
import { EngineError, type WorkloadRef } from "./engine.js"

/** `<namespace>--<name>` when that fits in 63 characters, else the Operation UID. */
export const workloadName = (op: Operation): string => {
  const name = `${op.metadata.namespace ?? ""}--${op.metadata.name ?? ""}`
  return name.length <= 63 ? name : (op.metadata.uid ?? name.slice(0, 63))
}

/** The release namespace of the target, else its own namespace (placeholders have no release). */
export const targetNamespace = (target: ApplicationInstance): string =>
  target.spec.release?.namespace || (target.metadata.namespace ?? "")

/** `app.vworkspace.io/managed-by` and `ops.vworkspace.io/operation=<uid>`. */
export const workloadLabels = (op: Operation): Record<string, string> => ({
  [Labels.managedBy]: ManagedBy.operator,
  [Labels.operation]: op.metadata.uid ?? ""
})

/** An owner reference to the Operation, only when the workload lives in the Operation's namespace. */
export const ownerReferences = (op: Operation, namespace: string): ReadonlyArray<OwnerReference> =>
  namespace === op.metadata.namespace
    ? [{ apiVersion: ApiVersions.Operation, kind: "Operation", name: op.metadata.name ?? "", uid: op.metadata.uid ?? "" }]
    : []

export const ownedBy = (op: Operation, object: KubeObject): boolean =>
  object.metadata.labels?.[Labels.operation] === op.metadata.uid

export const ownershipConflict = (type: ResourceType, object: KubeObject): EngineError =>
  new EngineError({
    reason: "WorkloadOwnershipConflict",
    message: `engine workload ownership conflict: ${type.kind} ${object.metadata.namespace ?? ""}/${object.metadata.name ?? ""} belongs to a different operation`
  })

export const kubeFailure = (what: string) => (cause: KubeError) =>
  new EngineError({ reason: isTransient(cause) ? "KubeApiUnavailable" : "KubeApiError", message: `${what}: ${cause.message}`, cause })

/**
 * The Operation's workload of `type`: by name when known, otherwise by the operation label. Only
 * objects carrying this Operation's UID label are returned; a foreign object by that name is an
 * ownership conflict.
 */
export const findWorkload = (type: ResourceType, op: Operation, namespace: string, name: string) =>
  Effect.gen(function* () {
    const lookup = yield* ObjectLookup
    const byName = yield* lookup.get(type, namespace, name).pipe(Effect.mapError(kubeFailure(`read ${type.kind}`)))
    if (Option.isSome(byName)) {
      if (!ownedBy(op, byName.value)) return yield* ownershipConflict(type, byName.value)
      return byName
    }
    const labelled = yield* lookup
      .byLabel(type, Labels.operation, op.metadata.uid ?? "")
      .pipe(Effect.mapError(kubeFailure(`read ${type.kind}`)))
    return Option.fromNullable(labelled[0])
  })

/** Deletes an object this Operation owns, with Background propagation and a UID precondition. */
export const deleteOwned = (type: ResourceType, op: Operation, object: KubeObject) =>
  Effect.gen(function* () {
    if (!ownedBy(op, object)) return yield* ownershipConflict(type, object)
    if (object.metadata.deletionTimestamp !== undefined) return
    const api = yield* KubeApi
    yield* api
      .delete(type, object.metadata.name ?? "", object.metadata.namespace, {
        propagationPolicy: "Background",
        preconditions: { uid: object.metadata.uid }
      })
      .pipe(
        Effect.catchTag("NotFound", () => Effect.void),
        // The UID changed under us: the object deleted is not the one checked, so leave it.
        Effect.catchTag("Conflict", () => Effect.void),
        Effect.mapError(kubeFailure(`delete ${type.kind}`))
      )
  })

/** Creates `object`; one that already exists is accepted only when this Operation owns it. */
export const createOwned = (type: ResourceType, op: Operation, object: KubeObject) =>
  Effect.gen(function* () {
    const api = yield* KubeApi
    const what = `create ${type.kind}`
    // Create, not apply: an object someone else made under this name must never be taken over.
    const created = yield* api.create(type, object).pipe(
      Effect.map(Option.some),
      Effect.catchTag("AlreadyExists", () => Effect.succeed(Option.none<KubeObject>())),
      Effect.mapError(kubeFailure(what))
    )
    if (Option.isSome(created)) return created.value
    const existing = yield* api
      .get(type, object.metadata.name ?? "", object.metadata.namespace)
      .pipe(Effect.mapError(kubeFailure(what)))
    if (!ownedBy(op, existing)) return yield* ownershipConflict(type, existing)
    return existing
  })

/**
 * The runner ServiceAccount `vworkspace-operation-runner`, created by the operator in a namespace
 * when missing (it has no rights of its own; give it a RoleBinding for what the command needs).
 * Each namespace is ensured once per process: the namespaces where it was created or found are
 * remembered (at most `capacity`, then the record starts over), so a burst of operations costs
 * one create per namespace, not one per operation. One deleted later by hand comes back when
 * the operator restarts.
 */
export const makeRunnerServiceAccounts = (capacity = 10_000) => {
  const present = new Set<string>()
  const remember = (namespace: string) =>
    Effect.sync(() => {
      if (present.size >= capacity) present.clear()
      present.add(namespace)
    })
  const create = (namespace: string) =>
    Effect.flatMap(KubeApi, (api) =>
      api
        .create(Resources.ServiceAccount, {
          apiVersion: "v1",
          kind: "ServiceAccount",
          metadata: {
            name: Names.operationRunnerServiceAccount,
            namespace,
            labels: { [Labels.managedBy]: ManagedBy.operator }
          }
        })
        .pipe(
          Effect.asVoid,
          Effect.catchTag("AlreadyExists", () => Effect.void),
          Effect.mapError(kubeFailure("create ServiceAccount"))
        )
    )
  return {
    ensure: (namespace: string) =>
      Effect.suspend(() => (present.has(namespace) ? Effect.void : Effect.zipRight(create(namespace), remember(namespace))))
  }
}

// ---------------------------------------------------------------------------------------------
// Used by the velero, workflow, volsync and snapshot engines
// ---------------------------------------------------------------------------------------------

export const refOf = (child: KubeObject): WorkloadRef => ({
  kind: child.kind,
  name: child.metadata.name ?? "",
  namespace: child.metadata.namespace
})

/** An optional kind an engine creates, and what to install to have it. */
export interface Dependency {
  readonly type: ResourceType
  /** e.g. "Velero (the velero.io CRDs and the Velero server)". */
  readonly install: string
}

export const missingDependency = ({ type, install }: Dependency): EngineError =>
  new EngineError({
    reason: "MissingDependencies",
    message: `the ${type.kind} kind (${type.plural}.${type.group}/${type.version}) is not installed in this cluster: install ${install}`
  })

/**
 * The one place that decides an optional kind is not installed: the API server answers 404 for
 * the kind's collection. The runtime's "kind available" informer mechanism can replace the probe.
 */
export const requireKind = (dependency: Dependency): Effect.Effect<void, EngineError, KubeApi> =>
  Effect.flatMap(KubeApi, (api) => api.list(dependency.type, { limit: 1 })).pipe(
    Effect.asVoid,
    Effect.catchTag("NotFound", () => Effect.fail(missingDependency(dependency))),
    Effect.mapError((e) => (e._tag === "EngineError" ? e : kubeFailure(`list ${dependency.type.plural}`)(e)))
  )

/** `createOwned`, telling a kind that is not installed (404 on create) apart from other failures. */
export const createChild = (type: ResourceType, op: Operation, desired: KubeObject, dependency: Dependency) =>
  createOwned(type, op, desired).pipe(
    Effect.catchIf(
      (e) => e.cause?._tag === "NotFound",
      (e) => Effect.zipRight(requireKind(dependency), Effect.fail(e))
    ),
    Effect.map(refOf)
  )

/** The Operation's child, decoded; a shape the schema rejects is an error, not a guess. */
export const findChild = <A, I>(type: ResourceType, schema: Schema.Schema<A, I>, op: Operation, namespace: string, name: string) =>
  Effect.flatMap(findWorkload(type, op, namespace, name), (found) =>
    Option.match(found, {
      onNone: () => Effect.succeed(Option.none<A>()),
      onSome: (o) => Effect.map(decodeChild(type, schema, o), Option.some)
    })
  )

const decodeChild = <A, I>(type: ResourceType, schema: Schema.Schema<A, I>, o: KubeObject): Effect.Effect<A, EngineError> =>
  Schema.decodeUnknown(schema)(o).pipe(
    Effect.mapError(
      (e) =>
        new EngineError({
          reason: "EngineFailed",
          message: `cannot read ${type.kind} ${o.metadata.namespace ?? ""}/${o.metadata.name ?? ""}: ${ParseResult.TreeFormatter.formatErrorSync(e)}`
        })
    )
  )

/** An object read live from the API server (not the cache), decoded; absent is `None`. */
export const getLive = <A, I>(type: ResourceType, schema: Schema.Schema<A, I>, namespace: string, name: string) =>
  Effect.flatMap(KubeApi, (api) => api.get(type, name, namespace)).pipe(
    Effect.map(Option.some),
    Effect.catchTag("NotFound", () => Effect.succeed(Option.none<KubeObject>())),
    Effect.mapError(kubeFailure(`get ${type.kind} ${namespace}/${name}`)),
    Effect.flatMap((found) =>
      Option.match(found, {
        onNone: () => Effect.succeed(Option.none<A>()),
        onSome: (o) => Effect.map(decodeChild(type, schema, o), Option.some)
      })
    )
  )

/** Cancel: deletes the Operation's child unless `keep` says it is a result worth keeping (a finished backup). */
export const deleteChildUnless = (
  type: ResourceType,
  op: Operation,
  namespace: string,
  name: string,
  keep: (child: KubeObject) => boolean = () => false
) =>
  Effect.flatMap(findWorkload(type, op, namespace, name), (found) =>
    Option.isSome(found) && !keep(found.value) ? deleteOwned(type, op, found.value) : Effect.void
  )

/** Decodes the parameters the engine reads; a mismatch is a typed error, not a guess. */
export const decodeParameters = <A, I>(schema: Schema.Schema<A, I>, parameters: unknown): Effect.Effect<A, EngineError> =>
  Schema.decodeUnknown(schema)(parameters ?? {}).pipe(
    Effect.mapError(
      (e) => new EngineError({ reason: "ValidationFailed", message: `parameters: ${ParseResult.TreeFormatter.formatErrorSync(e)}` })
    )
  )

/** Any object from the informer cache, decoded (not necessarily the Operation's: the helm engine reads the HelmRelease). */
export const readCached = <A, I>(type: ResourceType, schema: Schema.Schema<A, I>, namespace: string, name: string) =>
  Effect.flatMap(ObjectLookup, (lookup) => lookup.get(type, namespace, name)).pipe(
    Effect.mapError(kubeFailure(`read ${type.kind}`)),
    Effect.flatMap((found) =>
      Option.match(found, {
        onNone: () => Effect.succeed(Option.none<A>()),
        onSome: (o) => Effect.map(decodeChild(type, schema, o), Option.some)
      })
    )
  )

/** The backup/restore engines act on these two types only. */
export const backupOrRestore = (op: Operation): Effect.Effect<"Backup" | "Restore", EngineError> =>
  op.spec.type === "Backup" || op.spec.type === "Restore"
    ? Effect.succeed(op.spec.type)
    : Effect.fail(
        new EngineError({ reason: "ValidationFailed", message: `${op.spec.engine} engine does not support operation type "${op.spec.type}"` })
      )
