/**
 * The ApplicationInstance reconciler: `key → Effect<ReconcileResult>`. Level-based: it reads the
 * current state from the caches and never trusts the event that woke it.
 *
 * Order of a pass: finalizer → deletion → namespace gate → cluster id → spec validation →
 * placeholder or managed (Flux HelmRelease + chart source) → status, written only when it changed,
 * with an Event for every condition transition.
 */
import { Duration, Effect, Option, Schema } from "effect"
import { ApplicationInstance } from "../api/applicationInstance.js"
import { AppConditionType as T, AppReason as R, type ConditionUpdate } from "../api/conditions.js"
import type { Condition } from "../api/meta.js"
import { Finalizers, Labels } from "../api/wellKnown.js"
import { OperatorConfig } from "../config.js"
import { desiredRelease, isSuspended, sourceName } from "../helm/desiredRelease.js"
import { missingFlux } from "../helm/fluxDependencies.js"
import { releaseHealth } from "../helm/fluxStatus.js"
import { isTransient } from "../kube/errors.js"
import { KubeApi } from "../kube/KubeApi.js"
import { matchesLabels } from "../kube/labelSelector.js"
import type { KubeObject, ResourceType } from "../kube/object.js"
import { Resources } from "../kube/resources.js"
import { EventRecorder } from "../observability/events.js"
import { ReconcileResult, TerminalError } from "../runtime/controller.js"
import { seaweedCatalogId, validateApplicationInstance } from "../validation/applicationInstance.js"
import { ObjectLookup } from "./objectLookup.js"
import { writeStatus as writeStatusWithEvents } from "./statusWriter.js"
import { addFinalizer, applyIfChanged, removeFinalizer, requeueOnConflict } from "./writes.js"

type AI = typeof ApplicationInstance.Type
type Status = NonNullable<AI["status"]>

const AIType = Resources.ApplicationInstance
const done = ReconcileResult.done

const decode = Schema.decodeUnknownEither(ApplicationInstance)

const splitKey = (key: string): [string, string] => {
  const i = key.indexOf("/")
  return [key.slice(0, i), key.slice(i + 1)]
}

export const reconcileApplicationInstance = (key: string) => requeueOnConflict(reconcilePass(key))

const reconcilePass = (key: string) =>
  Effect.gen(function* () {
    const lookup = yield* ObjectLookup
    const [namespace, name] = splitKey(key)
    const found = yield* lookup.get(AIType, namespace, name)
    if (Option.isNone(found)) return done
    const decoded = decode(found.value)
    if (decoded._tag === "Left") {
      // The CRD schema makes this unreachable for objects the API server accepted; refuse loudly.
      return yield* new TerminalError({ message: `cannot decode ApplicationInstance ${key}: ${decoded.left.message}` })
    }
    const ai = decoded.right
    if (ai.metadata.deletionTimestamp !== undefined) return yield* finalize(ai)
    const withFinalizer = yield* addFinalizer(AIType, ai, Finalizers.applicationInstance)
    return yield* reconcileLive({ ...ai, metadata: { ...ai.metadata, ...withFinalizer.metadata } })
  })

const reconcileLive = (ai: AI) =>
  Effect.gen(function* () {
    const config = yield* OperatorConfig
    const lookup = yield* ObjectLookup
    const generation = ai.metadata.generation
    const cond = (type: string, status: Condition["status"], reason: string, message: string): ConditionUpdate => ({
      type,
      status,
      reason,
      message,
      observedGeneration: generation
    })
    const blocked = (reason: string, message: string) =>
      writeStatus(ai, { observedGeneration: generation }, [
        cond(T.Blocked, "True", reason, message),
        cond(T.Ready, "False", reason, message),
        cond(T.Reconciling, "False", R.Stable, "Reconciliation is blocked")
      ], { keep: true }).pipe(Effect.as(done))

    const ns = yield* lookup.get(Resources.Namespace, undefined, ai.metadata.namespace ?? "")
    const nsLabels = Option.getOrUndefined(ns)?.metadata.labels
    if (!matchesLabels(config.namespaceSelector, nsLabels)) {
      return yield* blocked(
        R.NamespaceNotGated,
        `namespace "${ai.metadata.namespace}" does not match the operator's namespace selector "${config.namespaceSelector.text}"`
      )
    }
    const clusterId = ai.metadata.labels?.[Labels.clusterId]
    if (clusterId !== undefined && config.clusterId !== undefined && clusterId !== config.clusterId) {
      return yield* blocked(
        R.ClusterIdMismatch,
        `label ${Labels.clusterId}="${clusterId}" does not match this cluster ("${config.clusterId}")`
      )
    }
    const invalid = validateApplicationInstance(ai)
    if (invalid !== undefined) return yield* blocked(R.ValidationFailed, invalid.message)

    if (ai.spec?.appRef.catalogId === seaweedCatalogId && ai.spec.mode !== "placeholder") {
      // The original's native SeaweedFS path is not part of this operator.
      return yield* blocked(R.MissingDependencies, "seaweed engine is not configured")
    }
    if (ai.spec?.mode === "placeholder") {
      yield* writeStatus(ai, { observedGeneration: generation }, [
        cond(T.Reconciling, "False", R.Stable, "Placeholder instance has no reconciliation in flight"),
        cond(T.Degraded, "False", R.Recovered, "Placeholder instance owns no workload"),
        cond(T.Ready, "True", R.Placeholder, "Placeholder instance is ready (no Helm release)"),
        cond(T.Blocked, "False", R.Unblocked, "Reconciliation can proceed")
      ])
      return done
    }
    const noFlux = yield* missingFlux(sourceTypeOf(ai))
    if (noFlux !== undefined) return yield* blocked(R.MissingDependencies, noFlux)
    return yield* reconcileManaged(ai, cond)
  })

const sourceTypeOf = (ai: AI): ResourceType =>
  ai.spec?.chart?.sourceType === "oci" ? Resources.OCIRepository : Resources.HelmRepository

const reconcileManaged = (
  ai: AI,
  cond: (type: string, status: Condition["status"], reason: string, message: string) => ConditionUpdate
) =>
  Effect.gen(function* () {
    const lookup = yield* ObjectLookup
    const recorder = yield* EventRecorder
    const spec = ai.spec!
    const chart = spec.chart!
    const release = spec.release!
    const namespace = ai.metadata.namespace ?? ""
    const desired = desiredRelease(ai)
    const sourceType = sourceTypeOf(ai)
    const baseStatus = {
      observedGeneration: ai.metadata.generation,
      helmReleaseRef: { name: release.name, namespace },
      lastAppliedChart: { sourceType: chart.sourceType, url: chart.url, name: chart.name, version: chart.version }
    }
    const suspended = isSuspended(ai)
    const suspendCondition = suspended
      ? cond(T.Suspended, "True", R.ManuallySuspended, "Reconciliation is suspended by annotation apps.vworkspace.io/reconcile=disabled")
      : cond(T.Suspended, "False", R.Active, "Reconciliation is active")

    const observedSource = yield* lookup.get(sourceType, namespace, sourceName(release.name))
    const observedRelease = yield* lookup.get(Resources.HelmRelease, namespace, release.name)
    // Never take over a HelmRelease or source that another instance (or someone else) created.
    const foreign = [observedSource, observedRelease].find((o) => Option.isSome(o) && !ownedBy(ai, o.value))
    if (foreign !== undefined && Option.isSome(foreign)) {
      const o = foreign.value
      const message = `${o.kind} ${namespace}/${o.metadata.name} exists and is not owned by this instance${ownerName(o)}`
      yield* writeStatus(
        ai,
        {},
        [
          cond(T.Blocked, "True", R.ReleaseConflict, message),
          cond(T.Ready, "False", R.ReleaseConflict, message),
          cond(T.Reconciling, "False", R.Stable, "Reconciliation is blocked")
        ],
        { keep: true }
      )
      return done
    }

    const ensured = yield* Effect.gen(function* () {
      const source = yield* applyIfChanged(sourceType, desired.source, observedSource)
      // A switch of sourceType leaves the other kind of source behind; the cache says whether
      // there is one, so the common case costs no request.
      const otherType = otherSourceType(sourceType)
      const leftover = yield* lookup.get(otherType, namespace, sourceName(release.name))
      if (Option.isSome(leftover) && ownedBy(ai, leftover.value)) {
        yield* deleteOwned(ai, otherType, sourceName(release.name))
      }
      const hr = yield* applyIfChanged(Resources.HelmRelease, desired.helmRelease, observedRelease)
      return { hr: hr.object, written: source.written || hr.written }
    }).pipe(Effect.either)

    if (ensured._tag === "Left") {
      const error = ensured.left
      // Nothing new was applied, so what the status says was last applied stays as it was.
      yield* writeStatus(
        ai,
        { observedGeneration: ai.metadata.generation },
        [
          cond(T.Ready, "False", R.HelmReleaseFailed, `ensure HelmRelease: ${error.message}`),
          cond(T.Reconciling, "False", R.Stable, "Reconciliation failed"),
          suspendCondition
        ],
        { keep: true }
      )
      // Transient failures retry with backoff; anything else waits for a change to the instance.
      return yield* isTransient(error) ? Effect.fail(error) : new TerminalError({ message: error.message })
    }

    const previous = ai.status?.lastAppliedChart?.version
    if (ensured.right.written && previous !== undefined && previous !== chart.version) {
      yield* recorder.record(ai, "Normal", "HelmReleaseUpgraded", `chart ${chart.name} ${previous} -> ${chart.version}`)
    }
    const hr = ensured.right.hr
    const health = releaseHealth({
      generation: hr.metadata.generation,
      observedGeneration: (hr["status"] as { observedGeneration?: number } | undefined)?.observedGeneration,
      conditions: (hr["status"] as { conditions?: ReadonlyArray<Condition> } | undefined)?.conditions ?? []
    })
    yield* writeStatus(ai, baseStatus, [
      cond(T.Reconciling, health.reconciling.active ? "True" : "False", health.reconciling.reason, health.reconciling.message),
      cond(T.Degraded, health.degraded.active ? "True" : "False", health.degraded.reason, health.degraded.message),
      cond(T.Ready, health.ready.status, health.ready.reason, health.ready.message),
      cond(T.Blocked, "False", R.Unblocked, "Reconciliation can proceed"),
      suspendCondition
    ])
    return done
  })

const otherSourceType = (t: ResourceType): ResourceType =>
  t === Resources.OCIRepository ? Resources.HelmRepository : Resources.OCIRepository

/** The child names this instance as its controller. */
const ownedBy = (ai: AI, child: KubeObject): boolean =>
  (child.metadata.ownerReferences ?? []).some((r) => r.controller === true && r.uid === ai.metadata.uid)

const ownerName = (child: KubeObject): string => {
  const owner = (child.metadata.ownerReferences ?? []).find((r) => r.controller === true)
  return owner === undefined ? "" : ` (its controller is ${owner.kind} ${owner.name})`
}

/**
 * Deletes a child if it exists and this instance owns it; the uid precondition makes sure the
 * object deleted is the one that was checked. Returns whether an owned child still exists.
 */
const deleteOwned = (ai: AI, type: ResourceType, name: string) =>
  Effect.gen(function* () {
    const api = yield* KubeApi
    const namespace = ai.metadata.namespace ?? ""
    const found = yield* api.get(type, name, namespace).pipe(
      Effect.map(Option.some),
      Effect.catchTag("NotFound", () => Effect.succeed(Option.none<KubeObject>()))
    )
    if (Option.isNone(found) || !ownedBy(ai, found.value)) return false
    const child = found.value
    if (type === Resources.HelmRelease && (child["spec"] as { suspend?: boolean } | undefined)?.suspend === true) {
      // helm-controller skips the Helm uninstall of a suspended release; deleting the instance means uninstall.
      yield* api.patch(type, name, namespace, "merge", { spec: { suspend: false } })
    }
    if (child.metadata.deletionTimestamp === undefined) {
      yield* api
        .delete(type, name, namespace, { propagationPolicy: "Background", preconditions: { uid: child.metadata.uid } })
        .pipe(Effect.catchTag("NotFound", () => Effect.void))
    }
    return true
  })

/**
 * Uninstall: delete the HelmRelease and its source (only those this instance owns), wait until
 * they are gone, then release the finalizer.
 */
const finalize = (ai: AI) =>
  Effect.gen(function* () {
    if (!(ai.metadata.finalizers ?? []).includes(Finalizers.applicationInstance)) return done
    const release = ai.spec?.release?.name
    const managed = ai.spec?.mode !== "placeholder" && release !== undefined && release !== ""
    const deleting: ConditionUpdate = {
      type: T.Deleting,
      status: "True",
      ...(managed
        ? { reason: R.Uninstalling, message: "Removing HelmRelease" }
        : { reason: R.Deleting, message: "Removing placeholder instance (nothing to uninstall)" }),
      observedGeneration: ai.metadata.generation
    }
    // The finalizer patch is conditional on the version this status write produced.
    const current = yield* writeStatus(ai, {}, [deleting], { keep: true })
    if (managed) {
      const remaining = yield* Effect.all([
        deleteOwned(ai, Resources.HelmRelease, release),
        deleteOwned(ai, Resources.HelmRepository, sourceName(release)),
        deleteOwned(ai, Resources.OCIRepository, sourceName(release))
      ])
      // helm-controller uninstalls behind its own finalizer; its watch event wakes us when it is done.
      if (remaining.some((exists) => exists)) return { requeueAfter: Duration.seconds(5) }
    }
    yield* removeFinalizer(AIType, current, Finalizers.applicationInstance)
    return done
  })

/** Conditions whose `True` is news; their `False` is the quiet default. */
const alarming = new Set<string>([T.Blocked, T.Degraded, T.Suspended, T.Deleting])

/**
 * One Event per change of a condition's status or reason. A condition that first appears in its
 * quiet state (Blocked=False, Reconciling, ...) is not news, so a new instance gets one Event
 * (its first Ready), not one per condition.
 */
const eventFor = (c: Condition, previous: Condition | undefined) => {
  if (previous === undefined && c.type !== T.Ready && !(alarming.has(c.type) && c.status === "True")) return undefined
  if (c.type === T.Ready && c.status === "True") return { type: "Normal", reason: "ReconcileSucceeded" } as const
  if (c.type === T.Ready && c.status === "False") return { type: "Warning", reason: "ReconcileFailed" } as const
  const warning = c.status === "True" && (c.type === T.Blocked || c.type === T.Degraded)
  return { type: warning ? "Warning" : "Normal", reason: c.reason } as const
}

/** `fields` replace every status field but the conditions; `keep` carries the stored ones over. */
const writeStatus = (
  ai: AI,
  fields: Omit<Status, "conditions" | "lastReconcileTime">,
  conditions: ReadonlyArray<ConditionUpdate>,
  options: { readonly keep?: boolean } = {}
) => {
  const { conditions: _c, lastReconcileTime: _t, ...stored } = ai.status ?? {}
  return writeStatusWithEvents(
    AIType,
    ai,
    { fields: options.keep ? { ...stored, ...fields } : fields, conditions, stampReconcileTime: true },
    eventFor
  )
}
