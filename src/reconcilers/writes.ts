/**
 * The write side of every reconciler, built so that an unchanged object costs no write:
 * children are applied only when the observed object lacks a desired field, status only when it
 * differs, and finalizers are changed under a resourceVersion precondition.
 */
import { Effect, Option } from "effect"
import { createHash } from "node:crypto"
import { Annotations, FieldManagers } from "../api/wellKnown.js"
import { Conflict, type KubeError } from "../kube/errors.js"
import { KubeApi } from "../kube/KubeApi.js"
import type { KubeObject, ResourceType } from "../kube/object.js"
import { ReconcileResult } from "../runtime/controller.js"

/** Every field of `desired` is present with the same value in `observed` (arrays compared whole). */
export const containsDesired = (desired: unknown, observed: unknown): boolean => {
  if (Array.isArray(desired)) {
    return (
      Array.isArray(observed) &&
      desired.length === observed.length &&
      desired.every((d, i) => containsDesired(d, observed[i]))
    )
  }
  if (typeof desired === "object" && desired !== null) {
    if (typeof observed !== "object" || observed === null || Array.isArray(observed)) return false
    const o = observed as Record<string, unknown>
    return Object.entries(desired).every(([k, v]) => containsDesired(v, o[k]))
  }
  return desired === observed
}

/** Deep equality of JSON values, key order ignored. */
export const jsonEqual = (a: unknown, b: unknown): boolean => containsDesired(a, b) && containsDesired(b, a)

/** A digest of what the operator last applied, kept on the child so removals are noticed too. */
const intentHash = (desired: KubeObject): string =>
  createHash("sha256").update(JSON.stringify(canonical(desired))).digest("hex").slice(0, 16)

const canonical = (v: unknown): unknown => {
  if (Array.isArray(v)) return v.map(canonical)
  if (typeof v === "object" && v !== null) {
    return Object.fromEntries(
      Object.entries(v)
        .filter(([, x]) => x !== undefined)
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([k, x]) => [k, canonical(x)])
    )
  }
  return v
}

/**
 * Server-side applies `desired` unless the observed copy was applied from the same intent and
 * still carries all of it. The intent digest catches fields the operator stopped setting (SSA then
 * removes them); the field comparison catches someone else changing ours.
 * Returns the object as it now stands and whether a write was made.
 */
export const applyIfChanged = (
  type: ResourceType,
  desired: KubeObject,
  observed: Option.Option<KubeObject>
): Effect.Effect<{ readonly object: KubeObject; readonly written: boolean }, KubeError, KubeApi> => {
  const hash = intentHash(desired)
  const stamped: KubeObject = {
    ...desired,
    metadata: { ...desired.metadata, annotations: { ...desired.metadata.annotations, [Annotations.appliedIntentHash]: hash } }
  }
  return Option.isSome(observed) && containsDesired(stripIdentity(stamped), observed.value)
    ? Effect.succeed({ object: observed.value, written: false })
    : Effect.flatMap(KubeApi, (api) =>
        api.apply(type, stamped, { fieldManager: FieldManagers.operator, force: true }).pipe(
          Effect.tap(() =>
            Effect.logInfo("applied").pipe(Effect.annotateLogs({ kind: type.kind, child: desired.metadata.name ?? "" }))
          ),
          Effect.map((object) => ({ object, written: true }))
        )
      )
}

/** apiVersion/kind/name/namespace always match; comparing them is noise. */
const stripIdentity = (o: KubeObject): Record<string, unknown> => {
  const { apiVersion: _a, kind: _k, metadata, ...rest } = o
  const { name: _n, namespace: _ns, ...meta } = metadata
  return { ...rest, metadata: meta }
}

/**
 * Server-side applies `status` to the object's `/status` subresource, on condition that the object
 * is still at the resourceVersion the status was computed from. A status computed from a cache
 * that trails the server (it lacks this manager's last write, or someone's newer change) would
 * otherwise be applied whole: SSA would drop the fields this manager owned but the stale copy
 * lacks, and re-assert the stale conditions. The server refuses such a write with Conflict; see
 * `requeueOnConflict`. Returns the object as written.
 */
export const applyStatus = (
  type: ResourceType,
  object: KubeObject,
  status: Record<string, unknown>
): Effect.Effect<KubeObject, KubeError, KubeApi> =>
  Effect.flatMap(KubeApi, (api) =>
    api.applyStatus(
      type,
      {
        apiVersion: object.apiVersion,
        kind: object.kind,
        metadata: {
          name: object.metadata.name,
          namespace: object.metadata.namespace,
          ...(object.metadata.resourceVersion === undefined ? {} : { resourceVersion: object.metadata.resourceVersion })
        },
        status
      },
      { fieldManager: FieldManagers.operator, force: true }
    )
  )

/**
 * Before a call that must not happen twice (a one-time token exchange, a credential rotation):
 * the server's copy must be the one the pass read. Fails with Conflict when the cache trails it,
 * for instance when it does not show yet this manager's own write that cleared the request.
 */
export const confirmCurrent = (type: ResourceType, object: KubeObject): Effect.Effect<void, KubeError, KubeApi> =>
  Effect.flatMap(KubeApi, (api) => api.get(type, object.metadata.name ?? "", object.metadata.namespace)).pipe(
    Effect.flatMap((live) =>
      live.metadata.resourceVersion === object.metadata.resourceVersion
        ? Effect.void
        : Effect.fail(
            new Conflict({
              message: `${type.kind} ${object.metadata.name ?? ""} changed since it was read (resourceVersion ${object.metadata.resourceVersion ?? "none"}, now ${live.metadata.resourceVersion ?? "none"})`
            })
          )
    )
  )

/**
 * A reconcile pass that met a Conflict read a copy older than the server's: nothing it computed
 * was written. It runs again after the key's backoff (not counted as an error), from the cache
 * that has caught up by then — what a controller-runtime reconciler does with `Requeue: true`.
 */
export const requeueOnConflict = <E extends { readonly _tag: string }, R>(
  pass: Effect.Effect<ReconcileResult, E, R>
): Effect.Effect<ReconcileResult, E, R> =>
  Effect.catchIf(
    pass,
    (e) => e._tag === "Conflict",
    (e) =>
      Effect.logDebug("stale read: requeued").pipe(
        Effect.annotateLogs("conflict", e instanceof Conflict ? e.message : e._tag),
        Effect.as(ReconcileResult.requeue)
      )
  )

const setFinalizers = (type: ResourceType, object: KubeObject, finalizers: ReadonlyArray<string>) =>
  Effect.flatMap(KubeApi, (api) =>
    api.patch(type, object.metadata.name ?? "", object.metadata.namespace, "merge", {
      // The resourceVersion makes this a precondition: a concurrent change gives Conflict, not a lost update.
      metadata: { resourceVersion: object.metadata.resourceVersion, finalizers }
    })
  )

export const addFinalizer = (
  type: ResourceType,
  object: KubeObject,
  finalizer: string
): Effect.Effect<KubeObject, KubeError, KubeApi> =>
  (object.metadata.finalizers ?? []).includes(finalizer)
    ? Effect.succeed(object)
    : setFinalizers(type, object, [...(object.metadata.finalizers ?? []), finalizer])

export const removeFinalizer = (
  type: ResourceType,
  object: KubeObject,
  finalizer: string
): Effect.Effect<void, KubeError, KubeApi> =>
  (object.metadata.finalizers ?? []).includes(finalizer)
    ? Effect.asVoid(
        setFinalizers(
          type,
          object,
          (object.metadata.finalizers ?? []).filter((f) => f !== finalizer)
        )
      ).pipe(Effect.catchTag("NotFound", () => Effect.void))
    : Effect.void
