/**
 * The Operation reconciler: `key → Effect<ReconcileResult>`, level-based like the
 * ApplicationInstance reconciler.
 *
 * A pass: finalizer → (deletion: cancel a running workload, release the finalizer) → terminal
 * phases are final → cancel annotation → and, until the operation has started: validation →
 * target in the same namespace → capability annotation → namespace allowed-types → approval →
 * concurrency → engine registered → materialise. A started operation is only observed: timeout,
 * then the engine's view of its workload. Nothing that happens after the start (an expiring
 * claim, a new conflicting operation, a deleted target) sends it back to Pending.
 *
 * Waiting costs no polling: child informers, the target's and the namespace's informers, and the
 * end of an earlier conflicting operation wake the key; only deadlines (timeout, the grace period
 * of a workload not yet in the cache) use `requeueAfter`.
 */
import { DateTime, Duration, Effect, Either, Option, Redacted, Schema } from "effect"
import { ApplicationInstance } from "../api/applicationInstance.js"
import { OperationConditionType as T, OperationReason as R, type ConditionUpdate } from "../api/conditions.js"
import { Operation, type OperationPhase, type OperationStatus } from "../api/operation.js"
import { AnnotationValues, Annotations, ApiVersions, Finalizers } from "../api/wellKnown.js"
import { OperatorConfig } from "../config.js"
import {
  type EngineError,
  type EngineInput,
  EngineObservation,
  EngineRegistry,
  type OperationEngineService,
  type WorkloadRef
} from "../engines/engine.js"
import type { OperationTemplate } from "../engines/templates/index.js"
import { isTransient } from "../kube/errors.js"
import { Resources } from "../kube/resources.js"
import { recordAudit } from "../observability/audit.js"
import { EventRecorder, type EventType } from "../observability/events.js"
import { observe } from "../observability/metrics.js"
import { ReconcileResult, TerminalError } from "../runtime/controller.js"
import { approvalBlockReason } from "../validation/approvalClaim.js"
import {
  allowedTypesProblem,
  canBeBlocked,
  capabilityProblem,
  conflictMessage,
  findConflict,
  targetNotFoundMessage,
  validateOperationSpec
} from "../validation/operation.js"
import { ObjectLookup } from "./objectLookup.js"
import { writeStatus as writeStatusWith } from "./statusWriter.js"
import { addFinalizer, removeFinalizer, requeueOnConflict } from "./writes.js"
import { WrittenPhases } from "./writtenPhases.js"

type Op = Operation
type Status = OperationStatus

const OpType = Resources.Operation
const done = ReconcileResult.done
const decodeOperation = Schema.decodeUnknownEither(Operation)
const decodeTarget = Schema.decodeUnknownEither(ApplicationInstance)
const Timeout = Schema.Struct({ timeoutSeconds: Schema.optional(Schema.Int) })
const decodeTimeout = Schema.decodeUnknownOption(Timeout)

/** How long a materialised workload may be missing from the cache before the operation fails. */
export const workloadGracePeriod = Duration.seconds(60)

const terminalPhases: ReadonlyArray<OperationPhase> = ["Succeeded", "Failed", "Cancelled"]
export const isTerminal = (op: Op): boolean => terminalPhases.includes(op.status?.phase ?? "Pending")
const started = (op: Op): boolean => op.status?.phase === "Running"

const splitKey = (key: string): [string, string] => {
  const i = key.indexOf("/")
  return [key.slice(0, i), key.slice(i + 1)]
}

const nowDate = Effect.map(DateTime.now, (t) => new Date(DateTime.toEpochMillis(t)))
const rfc3339 = (d: Date): string => d.toISOString().replace(/\.\d{3}Z$/, "Z")

export const reconcileOperation = (key: string) => requeueOnConflict(reconcilePass(key))

const reconcilePass = (key: string) =>
  Effect.gen(function* () {
    const lookup = yield* ObjectLookup
    const [namespace, name] = splitKey(key)
    const found = yield* lookup.get(OpType, namespace, name)
    if (Option.isNone(found)) return done
    const decoded = decodeOperation(found.value)
    if (Either.isLeft(decoded)) {
      // The CRD schema makes this unreachable for objects the API server accepted; refuse loudly.
      return yield* new TerminalError({ message: `cannot decode Operation ${key}: ${decoded.left.message}` })
    }
    const op = decoded.right
    const written = yield* WrittenPhases
    if (yield* written.isBehind(op.metadata.uid ?? "", op.status?.phase)) return done
    if (op.metadata.deletionTimestamp !== undefined) return yield* finalize(op)
    if (isTerminal(op)) return done
    const withFinalizer = yield* addFinalizer(OpType, op, Finalizers.operation)
    const live: Op = { ...op, metadata: { ...op.metadata, ...withFinalizer.metadata } }
    return yield* started(live) ? observeStarted(live) : admit(live)
  })

// ---------------------------------------------------------------------------------------------
// Status
// ---------------------------------------------------------------------------------------------

interface Transition {
  readonly phase: OperationPhase
  readonly fields?: Omit<Status, "conditions" | "phase">
  readonly conditions: ReadonlyArray<Omit<ConditionUpdate, "observedGeneration">>
  /** The Event announcing the phase change (recorded only when the phase changes). */
  readonly event: { readonly type: EventType; readonly reason: string; readonly message: string }
}

/**
 * Writes the next status (only when it differs; SSA to /status) and records one Event when the
 * phase moved. Fields not given keep their stored value.
 */
const writeStatus = (op: Op, next: Transition) =>
  Effect.gen(function* () {
    const { conditions: _c, phase: previous, ...stored } = op.status ?? {}
    const conditions = next.conditions.map((c) => ({ ...c, observedGeneration: op.metadata.generation }))
    yield* writeStatusWith(
      OpType,
      op,
      { fields: { ...stored, ...next.fields, phase: next.phase }, conditions, stampReconcileTime: false },
      () => undefined
    )
    if (previous !== next.phase) {
      yield* Effect.flatMap(WrittenPhases, (w) => w.remember(op.metadata.uid ?? "", next.phase))
      const recorder = yield* EventRecorder
      yield* recorder.record(op, next.event.type, next.event.reason, next.event.message)
    }
  })

const block = (op: Op, reason: string, message: string) =>
  writeStatus(op, {
    phase: "Pending",
    conditions: [
      { type: T.Blocked, status: "True", reason, message },
      { type: T.Accepted, status: "False", reason, message }
    ],
    event: { type: warningBlocks.has(reason) ? "Warning" : "Normal", reason, message }
  }).pipe(Effect.as(done))

/** Blocks that need someone to fix something; the others resolve by themselves or by approval. */
const warningBlocks = new Set<string>([R.ValidationFailed, R.TargetNotReady, R.CapabilityMissing, R.DependencyMissing])

const finish = (
  op: Op,
  phase: "Succeeded" | "Failed" | "Cancelled",
  outcome: { readonly reason: string; readonly message: string },
  extra: {
    readonly outputs?: Readonly<Record<string, unknown>>
    readonly logsRef?: WorkloadRef
    readonly workload?: WorkloadRef
    readonly degraded?: { readonly reason: string; readonly message: string }
  } = {}
) =>
  Effect.gen(function* () {
    const now = yield* nowDate
    const conditionType = phase === "Succeeded" ? T.Succeeded : phase === "Failed" ? T.Failed : T.Cancelled
    const runningMessage =
      phase === "Succeeded" ? "Engine completed" : phase === "Failed" ? "Engine finished with failure" : "Operation cancelled"
    const wasStarted = started(op)
    yield* writeStatus(op, {
      phase,
      fields: {
        finishedAt: rfc3339(now),
        ...(extra.outputs === undefined ? {} : { outputs: { ...extra.outputs } }),
        ...(extra.logsRef === undefined ? {} : { logsRef: { ...extra.logsRef } }),
        ...(extra.workload === undefined ? {} : { engineRef: { ...extra.workload } })
      },
      conditions: [
        { type: conditionType, status: "True", reason: outcome.reason, message: outcome.message },
        ...(wasStarted ? [{ type: T.Running, status: "False" as const, reason: R.EngineNotStarted, message: runningMessage }] : []),
        ...(op.status?.conditions?.some((c) => c.type === T.Blocked && c.status === "True")
          ? [{ type: T.Blocked, status: "False" as const, reason: R.Unblocked, message: `Operation ${phase.toLowerCase()}` }]
          : []),
        ...(extra.degraded === undefined
          ? []
          : [{ type: "Degraded", status: "True" as const, reason: extra.degraded.reason, message: extra.degraded.message }])
      ],
      event: { type: phase === "Failed" ? "Warning" : "Normal", reason: outcome.reason, message: outcome.message }
    })
    if (op.status?.phase !== phase) {
      yield* observe((m) => m.operationFinished({ type: op.spec.type, engine: op.spec.engine, result: operationResults[phase] }))
      if (phase === "Cancelled") yield* recordAudit({ action: "OperationCancelled", object: op, message: outcome.message })
    }
    return done
  })

const operationResults = { Succeeded: "succeeded", Failed: "failed", Cancelled: "cancelled" } as const

// ---------------------------------------------------------------------------------------------
// Before the start
// ---------------------------------------------------------------------------------------------

const wantsCancel = (op: Op): boolean => op.metadata.annotations?.[Annotations.cancel] === AnnotationValues.cancelTrue

const cancelledByUser = { reason: R.UserCancelled, message: `cancelled by annotation ${Annotations.cancel}=true` }

const admit = (op: Op) =>
  Effect.gen(function* () {
    if (wantsCancel(op)) return yield* finish(op, "Cancelled", cancelledByUser)
    const lookup = yield* ObjectLookup
    const config = yield* OperatorConfig
    const namespace = op.metadata.namespace ?? ""

    const valid = validateOperationSpec(op)
    if (!valid.ok) return yield* block(op, R.ValidationFailed, valid.message)
    const template = valid.template

    const rawTarget = yield* lookup.get(Resources.ApplicationInstance, namespace, op.spec.targetRef.name)
    if (Option.isNone(rawTarget)) return yield* block(op, R.TargetNotReady, targetNotFoundMessage(op))
    const target = decodeTarget(rawTarget.value)
    if (Either.isLeft(target)) {
      return yield* block(op, R.TargetNotReady, `target ApplicationInstance "${op.spec.targetRef.name}" cannot be read: ${target.left.message}`)
    }

    const capability = capabilityProblem(target.right, template)
    if (capability !== undefined) {
      return yield* block(op, R.CapabilityMissing, `${capability}; annotate the ApplicationInstance to allow it`)
    }

    const ns = yield* lookup.get(Resources.Namespace, undefined, namespace)
    const typeProblem = allowedTypesProblem(namespace, Option.getOrUndefined(ns)?.metadata.annotations, op.spec.type)
    if (typeProblem !== undefined) return yield* block(op, R.ValidationFailed, typeProblem)

    const now = yield* nowDate
    const approval = approvalBlockReason({
      required: template.requiresApproval || op.spec.approvals?.required === true,
      claim: op.spec.approvals?.claim,
      secret: Redacted.value(config.approvalClaimSecret),
      subject: { namespace, name: op.metadata.name ?? "" },
      nowSeconds: Math.floor(now.getTime() / 1000)
    })
    if (approval !== undefined) {
      const message = approvalHint(approval)
      // A claim that does not verify is a decision worth auditing (once per message); no claim yet is just waiting.
      const blocked = op.status?.conditions?.find((c) => c.type === T.Blocked && c.status === "True")
      if ((op.spec.approvals?.claim ?? "") !== "" && blocked?.message !== message) {
        yield* recordAudit({ action: "ApprovalRejected", object: op, message })
      }
      return yield* block(op, R.AwaitingApproval, message)
    }

    if (canBeBlocked(op.spec.type)) {
      const others = yield* lookup.list(OpType, namespace)
      const decodedOthers = others.flatMap((o) => Either.getOrElse(Either.map(decodeOperation(o), (d) => [d]), () => []))
      const conflict = findConflict(op, decodedOthers)
      if (conflict !== undefined) return yield* block(op, R.ConflictingOperation, conflictMessage(conflict))
    }

    const registry = yield* EngineRegistry
    const engine = yield* registry.get(op.spec.engine)
    if (Option.isNone(engine)) {
      return yield* block(
        op,
        R.DependencyMissing,
        `engine "${op.spec.engine}" is not registered; this operator build does not run template ${template.ref}`
      )
    }
    return yield* materialize(op, template, engine.value, { operation: op, target: target.right, parameters: valid.parameters })
  })

const approvalHint = (reason: string): string =>
  reason === "approval claim required" ? `${reason}: set spec.approvals.claim to a vws1 claim issued for this operation` : reason

const materialize = (op: Op, template: OperationTemplate, engine: OperationEngineService, input: EngineInput) =>
  Effect.gen(function* () {
    const result = yield* Effect.either(engine.materialize(input))
    if (Either.isLeft(result)) {
      const error = result.left
      if (retryable(error)) return yield* Effect.fail(error)
      // A CRD the engine needs is not installed: wait (looking again now and then) instead of failing.
      if (error.reason === "MissingDependencies") {
        return yield* block(op, R.DependencyMissing, error.message).pipe(Effect.as(ReconcileResult.requeueAfter(missingDependencyRecheck)))
      }
      yield* engine.cancel(input).pipe(Effect.ignore)
      return yield* finish(op, "Failed", { reason: R.EngineFailed, message: `materialise ${template.ref}: ${error.message}` })
    }
    const now = yield* nowDate
    const workload = result.right
    yield* writeStatus(op, {
      phase: "Running",
      fields: { startedAt: rfc3339(now), engineRef: { ...workload } },
      conditions: [
        { type: T.Accepted, status: "True", reason: R.AdmissionPassed, message: "Operation accepted" },
        { type: T.Running, status: "True", reason: R.EngineStarted, message: "Engine is running" },
        { type: T.Blocked, status: "False", reason: R.Unblocked, message: "Operation started" }
      ],
      event: { type: "Normal", reason: R.EngineStarted, message: `started ${describe(workload)}` }
    })
    if (template.requiresApproval || op.spec.approvals?.required === true) {
      yield* recordAudit({ action: "ApprovalGranted", object: op, message: `approval claim verified; started ${describe(workload)}` })
    }
    // The child's informer reports progress; only the deadline needs a timer.
    const timeout = timeoutOf(input.parameters)
    return timeout === undefined ? done : ReconcileResult.requeueAfter(Duration.seconds(timeout))
  })

const describe = (w: WorkloadRef): string => `${w.kind} ${w.namespace ? `${w.namespace}/` : ""}${w.name}`

/** How often an operation blocked on a missing CRD looks again (the kind's informer also wakes it when the CRD is installed). */
const missingDependencyRecheck = Duration.seconds(30)

/** Transient API trouble is retried with backoff; anything else is the operation's failure. */
const retryable = (error: EngineError): boolean => error.cause !== undefined && isTransient(error.cause)

const timeoutOf = (parameters: unknown): number | undefined =>
  Option.getOrUndefined(decodeTimeout(parameters ?? {}))?.timeoutSeconds

// ---------------------------------------------------------------------------------------------
// After the start
// ---------------------------------------------------------------------------------------------

/**
 * The engine's input for an operation that has started. A target deleted since the start is
 * stood in for by a placeholder of the same name and namespace: the workload is found through
 * `status.engineRef` and the operation label, not through the target.
 */
const startedInput = (op: Op) =>
  Effect.gen(function* () {
    const lookup = yield* ObjectLookup
    const namespace = op.metadata.namespace ?? ""
    const raw = yield* lookup.get(Resources.ApplicationInstance, namespace, op.spec.targetRef.name)
    const target = Option.flatMap(raw, (t) => Either.getRight(decodeTarget(t)))
    const valid = validateOperationSpec(op)
    return {
      operation: op,
      target: Option.getOrElse(target, () => goneTarget(op)),
      parameters: valid.ok ? valid.parameters : (op.spec.parameters ?? {})
    } satisfies EngineInput
  })

const goneTarget = (op: Op): ApplicationInstance => ({
  apiVersion: ApiVersions.ApplicationInstance,
  kind: "ApplicationInstance",
  metadata: { name: op.spec.targetRef.name, namespace: op.metadata.namespace },
  spec: { appRef: { catalogId: "" }, mode: "placeholder" }
})

const engineOf = (op: Op) => Effect.flatMap(EngineRegistry, (r) => r.get(op.spec.engine))

const observeStarted = (op: Op) =>
  Effect.gen(function* () {
    const engine = yield* engineOf(op)
    if (Option.isNone(engine)) {
      return yield* finish(op, "Failed", {
        reason: R.DependencyMissing,
        message: `engine "${op.spec.engine}" is not registered any more; the workload is no longer observed`
      })
    }
    const input = yield* startedInput(op)
    if (wantsCancel(op)) {
      yield* cancelWorkload(engine.value, input)
      return yield* finish(op, "Cancelled", cancelledByUser)
    }
    const now = yield* nowDate
    const startedAt = Date.parse(op.status?.startedAt ?? "") || now.getTime()
    const elapsed = now.getTime() - startedAt
    const timeout = timeoutOf(input.parameters)
    if (timeout !== undefined && elapsed >= timeout * 1000) {
      yield* cancelWorkload(engine.value, input)
      return yield* finish(op, "Failed", { reason: R.Timeout, message: `operation exceeded timeoutSeconds=${timeout}; workload cancelled` })
    }
    const untilTimeout = timeout === undefined ? undefined : Duration.millis(timeout * 1000 - elapsed)

    const observed = yield* Effect.either(engine.value.observe(input))
    if (Either.isLeft(observed)) {
      if (retryable(observed.left)) return yield* Effect.fail(observed.left)
      return yield* finish(op, "Failed", { reason: R.EngineFailed, message: observed.left.message })
    }
    return yield* EngineObservation.$match(observed.right, {
      Absent: () => {
        // Just created and not in the cache yet: its informer event will wake us; the timer is the backstop.
        const remaining = Duration.toMillis(workloadGracePeriod) - elapsed
        if (remaining > 0) {
          const wait = untilTimeout === undefined ? remaining : Math.min(remaining, Duration.toMillis(untilTimeout))
          return Effect.succeed(ReconcileResult.requeueAfter(Duration.millis(wait)))
        }
        const ref = op.status?.engineRef
        return finish(op, "Failed", {
          reason: R.EngineFailed,
          message: `engine workload not found: ${ref?.kind ?? "workload"} ${ref?.namespace ?? ""}/${ref?.name ?? ""} is gone`
        })
      },
      Running: (o) =>
        writeStatus(op, {
          phase: "Running",
          fields: { engineRef: { ...o.workload }, ...(o.logsRef === undefined ? {} : { logsRef: { ...o.logsRef } }) },
          conditions: [{ type: T.Running, status: "True", reason: o.reason, message: o.message }],
          event: { type: "Normal", reason: o.reason, message: o.message }
        }).pipe(Effect.as(untilTimeout === undefined ? done : ReconcileResult.requeueAfter(untilTimeout))),
      Succeeded: (o) =>
        finish(op, "Succeeded", o, { outputs: o.outputs, logsRef: o.logsRef, workload: o.workload, degraded: o.degraded }),
      Failed: (o) => finish(op, "Failed", o, { outputs: o.outputs, logsRef: o.logsRef, workload: o.workload })
    })
  })

/** Cancels the workload; a transient failure retries the pass, anything else is logged and the operation moves on. */
const cancelWorkload = (engine: OperationEngineService, input: EngineInput) =>
  engine.cancel(input).pipe(
    Effect.catchAll((e) =>
      retryable(e)
        ? Effect.fail(e)
        : Effect.logWarning("cancel failed").pipe(Effect.annotateLogs({ reason: e.reason, error: e.message }))
    )
  )

// ---------------------------------------------------------------------------------------------
// Deletion
// ---------------------------------------------------------------------------------------------

/**
 * A running operation's workload is cancelled before the finalizer goes; a finished one keeps
 * what it produced (a succeeded backup keeps its Velero Backup). A target that is gone does not
 * stop the deletion.
 */
const finalize = (op: Op) =>
  Effect.gen(function* () {
    if (!(op.metadata.finalizers ?? []).includes(Finalizers.operation)) return done
    if (started(op)) {
      const engine = yield* engineOf(op)
      if (Option.isSome(engine)) yield* cancelWorkload(engine.value, yield* startedInput(op))
    }
    yield* removeFinalizer(OpType, op, Finalizers.operation)
    return done
  })
