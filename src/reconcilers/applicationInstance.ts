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
import { releaseHealth } from "../helm/fluxStatus.js"
import { isTransient, type KubeError } from "../kube/errors.js"
import { KubeApi } from "../kube/KubeApi.js"
import { matchesLabels } from "../kube/labelSelector.js"
import { Resources } from "../kube/resources.js"
import { EventRecorder } from "../observability/events.js"
import { type ReconcileResult, TerminalError } from "../runtime/controller.js"
import { validateApplicationInstance } from "../validation/applicationInstance.js"
import { ObjectLookup } from "./objectLookup.js"
import { writeStatus as writeStatusWithEvents } from "./statusWriter.js"
import { addFinalizer, applyIfChanged, removeFinalizer } from "./writes.js"

type AI = typeof ApplicationInstance.Type
type Status = NonNullable<AI["status"]>

const AIType = Resources.ApplicationInstance
const done: ReconcileResult = {}

const decode = Schema.decodeUnknownEither(ApplicationInstance)

const splitKey = (key: string): [string, string] => {
  const i = key.indexOf("/")
  return [key.slice(0, i), key.slice(i + 1)]
}

export const reconcileApplicationInstance = (key: string) =>
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

    if (ai.spec?.mode === "placeholder") {
      yield* writeStatus(ai, { observedGeneration: generation }, [
        cond(T.Reconciling, "False", R.Stable, "Placeholder instance has no reconciliation in flight"),
        cond(T.Degraded, "False", R.Recovered, "Placeholder instance owns no workload"),
        cond(T.Ready, "True", R.Placeholder, "Placeholder instance is ready (no Helm release)"),
        cond(T.Blocked, "False", R.Unblocked, "Reconciliation can proceed")
      ])
      return done
    }
    return yield* reconcileManaged(ai, cond)
  })

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
    const sourceType = chart.sourceType === "oci" ? Resources.OCIRepository : Resources.HelmRepository
    const baseStatus = {
      observedGeneration: ai.metadata.generation,
      helmReleaseRef: { name: release.name, namespace },
      lastAppliedChart: { sourceType: chart.sourceType, url: chart.url, name: chart.name, version: chart.version }
    }
    const suspended = isSuspended(ai)
    const suspendCondition = suspended
      ? cond(T.Suspended, "True", R.ManuallySuspended, "Reconciliation is suspended by annotation apps.vworkspace.io/reconcile=disabled")
      : cond(T.Suspended, "False", R.Active, "Reconciliation is active")

    const ensured = yield* Effect.gen(function* () {
      const observedSource = yield* lookup.get(sourceType, namespace, sourceName(release.name))
      yield* applyIfChanged(sourceType, desired.source, observedSource)
      const observedRelease = yield* lookup.get(Resources.HelmRelease, namespace, release.name)
      return yield* applyIfChanged(Resources.HelmRelease, desired.helmRelease, observedRelease)
    }).pipe(Effect.either)

    if (ensured._tag === "Left") {
      const error = ensured.left
      yield* writeStatus(ai, baseStatus, [
        cond(T.Ready, "False", R.HelmReleaseFailed, `ensure HelmRelease: ${error.message}`),
        cond(T.Reconciling, "False", R.Stable, "Reconciliation failed"),
        suspendCondition
      ])
      // Transient failures retry with backoff; anything else waits for a change to the instance.
      return yield* isTransient(error) ? Effect.fail(error) : new TerminalError({ message: error.message })
    }

    const previous = ai.status?.lastAppliedChart?.version
    if (ensured.right.written && previous !== undefined && previous !== chart.version) {
      yield* recorder.record(ai, "Normal", "HelmReleaseUpgraded", `chart ${chart.name} ${previous} -> ${chart.version}`)
    }
    const hr = ensured.right.object
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

/** Uninstall: delete the HelmRelease and its source, wait until both are gone, then let go. */
const finalize = (ai: AI) =>
  Effect.gen(function* () {
    if (!(ai.metadata.finalizers ?? []).includes(Finalizers.applicationInstance)) return done
    const api = yield* KubeApi
    const namespace = ai.metadata.namespace ?? ""
    const release = ai.spec?.release?.name
    const managed = ai.spec?.mode !== "placeholder" && release !== undefined && release !== ""
    const deleting: ConditionUpdate = managed
      ? { type: T.Deleting, status: "True", reason: R.Uninstalling, message: "Removing HelmRelease" }
      : { type: T.Deleting, status: "True", reason: R.Deleting, message: "Removing placeholder instance (nothing to uninstall)" }
    yield* writeStatus(ai, {}, [deleting], { keep: true })
    if (managed) {
      const children = [
        [Resources.HelmRelease, release],
        [Resources.HelmRepository, sourceName(release)],
        [Resources.OCIRepository, sourceName(release)]
      ] as const
      const ignoreMissing = <A>(e: Effect.Effect<A, KubeError>) =>
        e.pipe(Effect.asVoid, Effect.catchTag("NotFound", () => Effect.void))
      for (const [type, name] of children) {
        yield* ignoreMissing(api.delete(type, name, namespace, { propagationPolicy: "Background" }))
      }
      for (const [type, name] of children) {
        const exists = yield* api.get(type, name, namespace).pipe(
          Effect.as(true),
          Effect.catchTag("NotFound", () => Effect.succeed(false))
        )
        // helm-controller uninstalls behind its own finalizer; its watch event wakes us when it is done.
        if (exists) return { requeueAfter: Duration.seconds(5) }
      }
    }
    yield* removeFinalizer(AIType, ai, Finalizers.applicationInstance)
    return done
  })

const eventFor = (c: Condition) => {
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
