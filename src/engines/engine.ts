/**
 * The contract between the Operation reconciler and an engine (job, helmHookJob, workflow,
 * velero, helm, volsync, snapshot). The reconciler does the checks (validation, target,
 * capability, approval, concurrency) and then asks the engine to materialise, observe and cancel
 * its workload. Engines read their child objects from informer caches (`ObjectLookup`); each
 * engine Layer adds itself to the `EngineRegistry`.
 */
import { Context, Data, Effect, Layer, Option, Ref } from "effect"
import type { ApplicationInstance } from "../api/applicationInstance.js"
import type { Operation, OperationEngine } from "../api/operation.js"
import type { KubeApi } from "../kube/KubeApi.js"
import type { KubeError } from "../kube/errors.js"
import type { ResourceType } from "../kube/object.js"
import type { ObjectLookup } from "../reconcilers/objectLookup.js"
import type { OperatorConfig } from "../config.js"

/** What an engine is given: the Operation, its target, and parameters decoded by the template's schema. */
export interface EngineInput {
  readonly operation: Operation
  readonly target: ApplicationInstance
  readonly parameters: unknown
}

/** The workload an engine created, as `status.engineRef` / `status.logsRef` show it. */
export interface WorkloadRef {
  readonly kind: string
  readonly name: string
  readonly namespace?: string
}

/** What the engine sees of its workload. `reason` values are the engine reasons of the docs. */
export type EngineObservation = Data.TaggedEnum<{
  /** The workload does not exist (not materialised yet, or gone). */
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type -- a variant without fields
  Absent: {}
  Running: { readonly reason: string; readonly message: string; readonly workload: WorkloadRef; readonly logsRef?: WorkloadRef }
  Succeeded: {
    readonly reason: string
    readonly message: string
    readonly workload: WorkloadRef
    readonly outputs?: Readonly<Record<string, unknown>>
    /** Completed with problems (e.g. Velero PartiallyFailed): Succeeded plus `Degraded=True`. */
    readonly degraded?: { readonly reason: string; readonly message: string }
    readonly logsRef?: WorkloadRef
  }
  Failed: {
    readonly reason: string
    readonly message: string
    readonly workload: WorkloadRef
    readonly outputs?: Readonly<Record<string, unknown>>
    readonly logsRef?: WorkloadRef
  }
}>
export const EngineObservation = Data.taggedEnum<EngineObservation>()

/** The engine could not do its part; `message` says what to fix. */
export class EngineError extends Data.TaggedError("EngineError")<{
  readonly reason: string
  readonly message: string
  readonly cause?: KubeError
}> {}

export type EngineServices = KubeApi | ObjectLookup | OperatorConfig

export interface OperationEngineService {
  readonly name: OperationEngine
  /** Kinds the engine creates; their informers wake the owning Operation (by the operation label). */
  readonly childKinds: ReadonlyArray<ResourceType>
  /** Create (or re-apply, idempotently) the workload. */
  readonly materialize: (input: EngineInput) => Effect.Effect<WorkloadRef, EngineError, EngineServices>
  readonly observe: (input: EngineInput) => Effect.Effect<EngineObservation, EngineError, EngineServices>
  /** Delete the workload (ownership checked first), for cancel and timeout. */
  readonly cancel: (input: EngineInput) => Effect.Effect<void, EngineError, EngineServices>
}

export interface EngineRegistryService {
  readonly register: (engine: OperationEngineService) => Effect.Effect<void>
  readonly get: (name: OperationEngine) => Effect.Effect<Option.Option<OperationEngineService>>
  readonly all: Effect.Effect<ReadonlyArray<OperationEngineService>>
}

export class EngineRegistry extends Context.Tag("vworkspace/EngineRegistry")<EngineRegistry, EngineRegistryService>() {}

export const engineRegistryLive = Layer.effect(
  EngineRegistry,
  Effect.map(Ref.make(new Map<OperationEngine, OperationEngineService>()), (ref) => ({
    register: (engine) => Ref.update(ref, (m) => new Map(m).set(engine.name, engine)),
    get: (name) => Effect.map(Ref.get(ref), (m) => Option.fromNullable(m.get(name))),
    all: Effect.map(Ref.get(ref), (m) => [...m.values()])
  }))
)

/** An engine's Layer: adds the engine to the registry when built. */
export const registerEngine = (engine: OperationEngineService): Layer.Layer<never, never, EngineRegistry> =>
  Layer.effectDiscard(Effect.flatMap(EngineRegistry, (r) => r.register(engine)))
