/**
 * What every engine does the same way with its workload (spec/operations.md §8.2): its name and
 * namespace, the ownership labels, the owner reference, and deletion only of what this Operation
 * owns.
 */
import { Effect, Option } from "effect"
import type { ApplicationInstance } from "../api/applicationInstance.js"
import type { Operation } from "../api/operation.js"
import { ApiVersions, Labels, ManagedBy, Names } from "../api/wellKnown.js"
import { isTransient, type KubeError } from "../kube/errors.js"
import { KubeApi } from "../kube/KubeApi.js"
import type { KubeObject, OwnerReference, ResourceType } from "../kube/object.js"
import { Resources } from "../kube/resources.js"
import { ObjectLookup } from "../reconcilers/objectLookup.js"
import { EngineError } from "./engine.js"

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
 * The runner ServiceAccount `vworkspace-operation-runner` in `namespace`, created by the operator
 * when missing (it has no rights of its own; give it a RoleBinding for what the command needs).
 */
export const ensureRunnerServiceAccount = (namespace: string) =>
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
