/**
 * Running one engine against the real API server, without the Operation reconciler: the
 * engine's services (informer-backed ObjectLookup for one namespace, the operator's config with
 * Velero's namespace set to that namespace), and real ApplicationInstance and Operation objects to
 * hand it.
 */
import { Effect, Layer, Schema } from "effect"
import { ApplicationInstance } from "../../src/api/applicationInstance.js"
import { Operation, type OperationEngine, type OperationType } from "../../src/api/operation.js"
import { operatorConfigLayer } from "../../src/config.js"
import type { EngineInput } from "../../src/engines/engine.js"
import { makeInformer } from "../../src/kube/informer.js"
import { KubeApi } from "../../src/kube/KubeApi.js"
import type { KubeObject, ResourceType } from "../../src/kube/object.js"
import { Resources } from "../../src/kube/resources.js"
import { ObjectLookup } from "../../src/reconcilers/objectLookup.js"

const informed: ReadonlyArray<ResourceType> = [
  Resources.ApplicationInstance,
  Resources.HelmRelease,
  Resources.VeleroBackup,
  Resources.VeleroRestore,
  Resources.Workflow,
  Resources.ReplicationSource,
  Resources.ReplicationDestination,
  Resources.VolumeSnapshot,
  Resources.PersistentVolumeClaim
]

/** ObjectLookup from informers of every kind the engines read, watching `namespace` only. */
const lookupLayer = (namespace: string) =>
  Layer.scoped(
    ObjectLookup,
    Effect.gen(function* () {
      const informers = new Map<ResourceType, Effect.Effect.Success<ReturnType<typeof makeInformer>>>()
      for (const kind of informed) informers.set(kind, yield* makeInformer(kind, { namespace }))
      yield* Effect.forEach([...informers.values()], (i) => i.synced)
      const cacheOf = (type: ResourceType) => {
        const informer = informers.get(type)
        return informer === undefined ? Effect.dieMessage(`no informer for ${type.kind}`) : Effect.succeed(informer.cache)
      }
      return {
        get: (type, ns, name) => Effect.flatMap(cacheOf(type), (c) => c.get(`${ns ?? ""}/${name}`)),
        list: (type, ns) => Effect.flatMap(cacheOf(type), (c) => c.list(ns)),
        byLabel: (type, key, value) => Effect.flatMap(cacheOf(type), (c) => c.byLabel(key, value))
      }
    })
  )

/** What an engine needs, for a test in `namespace`. */
export const engineServices = (namespace: string) =>
  Layer.mergeAll(lookupLayer(namespace), operatorConfigLayer({ veleroNamespace: namespace }))

const create = (type: ResourceType, o: KubeObject) => Effect.flatMap(KubeApi, (api) => api.create(type, o))

/** A placeholder instance carrying every capability: engines that need no Helm release accept it. */
export const createPlaceholder = (namespace: string, name = "ops-target") =>
  Effect.flatMap(
    create(Resources.ApplicationInstance, {
      apiVersion: "apps.vworkspace.io/v1alpha1",
      kind: "ApplicationInstance",
      metadata: { name, namespace },
      spec: { appRef: { catalogId: "cluster-ops" }, mode: "placeholder" }
    }),
    Schema.decodeUnknown(ApplicationInstance)
  )

export const createOperation = (
  namespace: string,
  name: string,
  type: OperationType,
  engine: OperationEngine,
  parameters: Record<string, unknown>,
  target = "ops-target"
) =>
  Effect.flatMap(
    create(Resources.Operation, {
      apiVersion: "ops.vworkspace.io/v1alpha1",
      kind: "Operation",
      metadata: { name, namespace },
      spec: { targetRef: { apiVersion: "apps.vworkspace.io/v1alpha1", kind: "ApplicationInstance", name: target }, type, engine, parameters }
    }),
    Schema.decodeUnknown(Operation)
  )

export const inputFor = (operation: Operation, target: ApplicationInstance): EngineInput => ({
  operation,
  target,
  parameters: operation.spec.parameters ?? {}
})

/** The object as the API server has it now. */
export const getObject = (type: ResourceType, namespace: string, name: string) =>
  Effect.flatMap(KubeApi, (api) => api.get(type, name, namespace))
