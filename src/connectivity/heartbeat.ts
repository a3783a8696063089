/**
 * What the periodic Cluster check sends and computes: the `ClusterHeartbeat` event (an unbatched
 * `POST /api/agent/events` carrying the Cluster's conditions), and `ControllersHealthy` from the
 * CRDs of the third-party controllers the operator drives.
 */
import { Effect, Option, Schema } from "effect"
import type { AgentEvent, WireCondition } from "../api/agentProtocol.js"
import { ClusterConditionType, ClusterReason, type ConditionUpdate } from "../api/conditions.js"
import type { Condition } from "../api/meta.js"
import { ApiVersions } from "../api/wellKnown.js"
import { KubeApi } from "../kube/KubeApi.js"
import type { ResourceType } from "../kube/object.js"
import { Resources } from "../kube/resources.js"

const crdName = (t: ResourceType) => `${t.plural}.${t.group}`

/** The controllers whose kinds the reconcilers and engines write, by the CRDs they install. */
export const controllerCrds: ReadonlyArray<{ readonly controller: string; readonly crds: ReadonlyArray<string> }> = [
  { controller: "Flux", crds: [Resources.HelmRelease, Resources.HelmRepository, Resources.OCIRepository, Resources.GitRepository, Resources.Kustomization].map(crdName) },
  { controller: "Velero", crds: [Resources.VeleroBackup, Resources.VeleroRestore].map(crdName) },
  { controller: "Argo Workflows", crds: [Resources.Workflow].map(crdName) },
  { controller: "VolSync", crds: [Resources.ReplicationSource, Resources.ReplicationDestination].map(crdName) },
  { controller: "CSI snapshots", crds: [Resources.VolumeSnapshot].map(crdName) }
]

const CrdStatus = Schema.Struct({
  status: Schema.optional(
    Schema.Struct({
      conditions: Schema.optional(Schema.Array(Schema.Struct({ type: Schema.String, status: Schema.String })))
    })
  )
})
const decodeCrd = Schema.decodeUnknownOption(CrdStatus)

type CrdState = "established" | "missing" | "notEstablished"

const crdState = (name: string) =>
  Effect.flatMap(KubeApi, (api) => api.get(Resources.CustomResourceDefinition, name)).pipe(
    Effect.map((crd): CrdState => {
      const established = Option.exists(decodeCrd(crd), (c) =>
        (c.status?.conditions ?? []).some((x) => x.type === "Established" && x.status === "True")
      )
      return established ? "established" : "notEstablished"
    }),
    Effect.catchTag("NotFound", () => Effect.succeed<CrdState>("missing")),
    Effect.catchAll(() => Effect.succeed<CrdState>("notEstablished"))
  )

/** `ControllersHealthy`: every controller's CRDs installed and Established. */
export const controllersHealthy: Effect.Effect<ConditionUpdate, never, KubeApi> = Effect.gen(function* () {
  const states = yield* Effect.forEach(
    controllerCrds.flatMap((c) => c.crds.map((crd) => ({ controller: c.controller, crd }))),
    (entry) => Effect.map(crdState(entry.crd), (state) => ({ ...entry, state })),
    { concurrency: 4 }
  )
  const controllersWith = (state: CrdState) => [...new Set(states.filter((s) => s.state === state).map((s) => s.controller))]
  const crdsWith = (state: CrdState) => states.filter((s) => s.state === state).map((s) => s.crd)
  const missing = controllersWith("missing")
  if (missing.length > 0) {
    return {
      type: ClusterConditionType.ControllersHealthy,
      status: "False",
      reason: ClusterReason.ControllerMissing,
      message: `not installed: ${missing.join(", ")} (missing CRDs: ${crdsWith("missing").join(", ")})`
    }
  }
  const degraded = controllersWith("notEstablished")
  if (degraded.length > 0) {
    return {
      type: ClusterConditionType.ControllersHealthy,
      status: "False",
      reason: ClusterReason.ControllerDegraded,
      message: `CRDs not Established: ${crdsWith("notEstablished").join(", ")}`
    }
  }
  return {
    type: ClusterConditionType.ControllersHealthy,
    status: "True",
    reason: ClusterReason.AllControllersReady,
    message: `${controllerCrds.map((c) => c.controller).join(", ")}: CRDs installed and Established`
  }
})

const toWire = (c: Condition): WireCondition => ({
  type: c.type,
  status: c.status,
  ...(c.observedGeneration === undefined ? {} : { observedGeneration: c.observedGeneration }),
  lastTransitionTime: c.lastTransitionTime,
  reason: c.reason,
  message: c.message
})

/** `{"kind":"ClusterHeartbeat","resourceRef":{…Cluster <clusterId>},"conditions":[…]}` (spec §2.3). */
export const heartbeatEvent = (clusterId: string, conditions: ReadonlyArray<Condition>, at: Date): AgentEvent => ({
  kind: "ClusterHeartbeat",
  resourceRef: { apiVersion: ApiVersions.Cluster, kind: "Cluster", namespace: "", name: clusterId },
  conditions: conditions.map(toWire),
  timestamp: at.toISOString()
})
