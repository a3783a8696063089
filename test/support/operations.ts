/** Helpers for Operation tests: targets, operations, and waiting for phases and conditions. */
import { type Duration, Effect, Option } from "effect"
import { findCondition } from "../../src/api/conditions.js"
import type { Condition } from "../../src/api/meta.js"
import { KubeApi } from "../../src/kube/KubeApi.js"
import type { KubeObject, ResourceType } from "../../src/kube/object.js"
import { Resources } from "../../src/kube/resources.js"
import { waitFor } from "./wait.js"

export const gated = { "managed-by": "vworkspace" }

/** A placeholder ApplicationInstance advertising the given capabilities (`verb → engine`). */
export const placeholderTarget = (namespace: string, name: string, capabilities: Readonly<Record<string, string>>): KubeObject => ({
  apiVersion: "apps.vworkspace.io/v1alpha1",
  kind: "ApplicationInstance",
  metadata: {
    name,
    namespace,
    annotations: Object.fromEntries(Object.entries(capabilities).map(([verb, engine]) => [`ops.vworkspace.io/${verb}`, engine]))
  },
  spec: { appRef: { catalogId: "cluster-ops" }, mode: "placeholder" }
})

export const operation = (
  namespace: string,
  name: string,
  spec: { readonly type: string; readonly engine: string; readonly target: string; readonly parameters?: unknown; readonly approvals?: unknown },
  annotations: Readonly<Record<string, string>> = {}
): KubeObject => ({
  apiVersion: "ops.vworkspace.io/v1alpha1",
  kind: "Operation",
  metadata: { name, namespace, ...(Object.keys(annotations).length > 0 ? { annotations } : {}) },
  spec: {
    targetRef: { apiVersion: "apps.vworkspace.io/v1alpha1", kind: "ApplicationInstance", name: spec.target },
    type: spec.type,
    engine: spec.engine,
    ...(spec.parameters === undefined ? {} : { parameters: spec.parameters }),
    ...(spec.approvals === undefined ? {} : { approvals: spec.approvals })
  }
})

/** Creates (or updates) an object as the control plane would: SSA under its own field manager. */
export const applyAs = (type: ResourceType, o: KubeObject) =>
  Effect.flatMap(KubeApi, (api) => api.apply(type, o, { fieldManager: "test-control-plane", force: true }))

export const getObject = (type: ResourceType, namespace: string | undefined, name: string) =>
  Effect.flatMap(KubeApi, (api) =>
    api.get(type, name, namespace).pipe(
      Effect.map(Option.some),
      Effect.catchTag("NotFound", () => Effect.succeed(Option.none<KubeObject>()))
    )
  )

export interface OperationStatusView {
  readonly phase?: string
  readonly startedAt?: string
  readonly finishedAt?: string
  readonly engineRef?: { readonly kind?: string; readonly name?: string; readonly namespace?: string }
  readonly logsRef?: { readonly kind?: string; readonly name?: string; readonly namespace?: string }
  readonly outputs?: Record<string, unknown>
  readonly conditions?: ReadonlyArray<Condition>
}

export const statusOf = (o: KubeObject): OperationStatusView => (o["status"] as OperationStatusView | undefined) ?? {}

/** Waits until the Operation is in `phase` (and, when given, has condition `type=True/reason`). */
export const waitPhase = (
  namespace: string,
  name: string,
  phase: string,
  condition?: { readonly type: string; readonly reason: string; readonly status?: string },
  timeout: Duration.DurationInput = "40 seconds"
) =>
  waitFor(
    `Operation ${namespace}/${name} phase ${phase}${condition ? ` with ${condition.type}/${condition.reason}` : ""}`,
    getObject(Resources.Operation, namespace, name).pipe(
      Effect.map((o) => {
        if (Option.isNone(o)) return undefined
        const status = statusOf(o.value)
        if (status.phase !== phase) return undefined
        if (condition === undefined) return o.value
        const c = findCondition(status.conditions, condition.type)
        return c !== undefined && c.status === (condition.status ?? "True") && c.reason === condition.reason ? o.value : undefined
      })
    ),
    { timeout }
  )

export const conditionOf = (o: KubeObject, type: string): Condition | undefined => findCondition(statusOf(o).conditions, type)

/** Events about an object, oldest first. */
export const eventsFor = (namespace: string, name: string) =>
  Effect.flatMap(KubeApi, (api) =>
    api
      .list(Resources.Event, { namespace, fieldSelector: `involvedObject.name=${name}` })
      .pipe(Effect.map((l) => l.items.map((e) => ({ type: String(e["type"]), reason: String(e["reason"]), message: String(e["message"]) }))))
  )

/** Events about an object once one with `reason` is among them (Events are written after the status). */
export const waitForEvent = (namespace: string, name: string, reason: string) =>
  waitFor(
    `a ${reason} Event about ${namespace}/${name}`,
    Effect.map(eventsFor(namespace, name), (events) => (events.some((e) => e.reason === reason) ? events : undefined))
  )

/** Merges annotations into an object (as `kubectl annotate` does). */
export const annotate = (type: ResourceType, namespace: string | undefined, name: string, annotations: Readonly<Record<string, string>>) =>
  Effect.flatMap(KubeApi, (api) => api.patch(type, name, namespace, "merge", { metadata: { annotations } }))

export const deleteObject = (type: ResourceType, namespace: string | undefined, name: string) =>
  Effect.flatMap(KubeApi, (api) => api.delete(type, name, namespace, { propagationPolicy: "Background" }))

/** Waits until the object is gone from the API server. */
export const waitGone = (type: ResourceType, namespace: string | undefined, name: string) =>
  waitFor(
    `${type.kind} ${namespace ?? ""}/${name} to be gone`,
    getObject(type, namespace, name).pipe(Effect.map((o) => (Option.isNone(o) ? true : undefined))),
    { timeout: "40 seconds" }
  )
