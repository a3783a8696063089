/**
 * The workflow engine (`runbook.workflow`, `migration.workflow`): an Argo `Workflow` that runs a
 * `WorkflowTemplate` of the target's namespace, named `<namespace>--<name>` in the target
 * namespace, with the Operation's parameters as workflow arguments. Argo's `status.phase` decides:
 * Succeeded → Succeeded, Failed and Error → Failed, anything else → Running. Cancel deletes the
 * Workflow (its pods go with it). Parameters: `workflowTemplate` (or `template`), `arguments`
 * (name → value), the documented runbook keys (`targetChartVersion`, `snapshotClassName`,
 * `failureAction`, passed as arguments of the same name) and `timeoutSeconds` (also the Workflow's
 * `activeDeadlineSeconds`).
 */
import { Effect, Option } from "effect"
import type { Operation } from "../api/operation.js"
import { WorkflowParameters } from "../api/operationParameters.js"
import { Workflow, type WorkflowStatus } from "../api/thirdParty/argo.js"
import { Names } from "../api/wellKnown.js"
import { apiVersionOf, type KubeObject } from "../kube/object.js"
import { Resources } from "../kube/resources.js"
import { EngineError, EngineObservation, type OperationEngineService, registerEngine, type WorkloadRef } from "./engine.js"
import {
  createChild,
  decodeParameters,
  deleteChildUnless,
  type Dependency,
  findChild,
  ownerReferences,
  refOf,
  targetNamespace,
  workloadLabels,
  workloadName
} from "./workload.js"

const dependency: Dependency = {
  type: Resources.Workflow,
  install: "Argo Workflows (the argoproj.io CRDs and the workflow controller)"
}

export const WorkflowReason = {
  InProgress: "WorkflowInProgress",
  Succeeded: "WorkflowSucceeded",
  Failed: "WorkflowFailed",
  Error: "WorkflowError"
} as const

/** The workflow's arguments, sorted by name: the documented runbook keys, then `arguments` (which wins). */
export const workflowArguments = (p: WorkflowParameters): ReadonlyArray<{ name: string; value: string }> => {
  const documented = { targetChartVersion: p.targetChartVersion, snapshotClassName: p.snapshotClassName, failureAction: p.failureAction }
  const named = new Map<string, string>()
  for (const [k, v] of Object.entries(documented)) if (v !== undefined) named.set(k, v)
  for (const [k, v] of Object.entries(p.arguments ?? {})) named.set(k, v)
  return [...named.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([name, value]) => ({ name, value }))
}

export const desiredWorkflow = (op: Operation, namespace: string, templateName: string, p: WorkflowParameters): KubeObject => {
  const args = workflowArguments(p)
  return {
    apiVersion: apiVersionOf(Resources.Workflow),
    kind: Resources.Workflow.kind,
    metadata: {
      name: workloadName(op),
      namespace,
      labels: workloadLabels(op),
      ownerReferences: ownerReferences(op, namespace)
    },
    spec: {
      workflowTemplateRef: { name: templateName },
      serviceAccountName: p.serviceAccountName ?? Names.operationRunnerServiceAccount,
      ...(args.length > 0 ? { arguments: { parameters: args } } : {}),
      ...(p.timeoutSeconds !== undefined ? { activeDeadlineSeconds: p.timeoutSeconds } : {})
    }
  }
}

/** The first failed step, which usually says more than the workflow's own message. */
const failedStep = (status: WorkflowStatus): string | undefined => {
  const node = Object.values(status.nodes ?? {}).find(
    (n) => (n.phase === "Failed" || n.phase === "Error") && n.type !== "DAG" && n.type !== "Steps" && n.message
  )
  return node === undefined ? undefined : `step ${node.displayName ?? node.name ?? "?"}: ${node.message ?? ""}`
}

export const observeWorkflow = (workload: WorkloadRef, status: WorkflowStatus | undefined): EngineObservation => {
  const s = status ?? {}
  const outputs = { workflowName: workload.name }
  const logsRef = workload
  const detail = [s.message, failedStep(s)].filter((m): m is string => m !== undefined && m !== "").join("; ")
  switch (s.phase) {
    case "Succeeded":
      return EngineObservation.Succeeded({
        reason: WorkflowReason.Succeeded,
        message: `Workflow ${workload.name} succeeded${s.progress ? ` (${s.progress})` : ""}`,
        workload,
        logsRef,
        outputs
      })
    case "Failed":
    case "Error":
      return EngineObservation.Failed({
        reason: s.phase === "Failed" ? WorkflowReason.Failed : WorkflowReason.Error,
        message: `Workflow ${workload.name} ${s.phase === "Failed" ? "failed" : "errored"}${detail ? `: ${detail}` : ""}`,
        workload,
        logsRef,
        outputs
      })
    default:
      return EngineObservation.Running({
        reason: WorkflowReason.InProgress,
        message: `Workflow ${workload.name} is ${s.phase || "Pending"}${s.progress ? ` (${s.progress})` : ""}${s.message ? `: ${s.message}` : ""}`,
        workload,
        logsRef
      })
  }
}

const templateOf = (p: WorkflowParameters): Effect.Effect<string, EngineError> => {
  const name = p.workflowTemplate || p.template
  return name
    ? Effect.succeed(name)
    : Effect.fail(new EngineError({ reason: "ValidationFailed", message: "parameters.workflowTemplate is required" }))
}

export const workflowEngine: OperationEngineService = {
  name: "workflow",
  childKinds: [Resources.Workflow],
  materialize: ({ operation, target, parameters }) =>
    Effect.gen(function* () {
      const p = yield* decodeParameters(WorkflowParameters, parameters)
      const template = yield* templateOf(p)
      return yield* createChild(Resources.Workflow, operation, desiredWorkflow(operation, targetNamespace(target), template, p), dependency)
    }),
  observe: ({ operation, target }) =>
    Effect.map(
      findChild(Resources.Workflow, Workflow, operation, targetNamespace(target), workloadName(operation)),
      Option.match({
        onNone: () => EngineObservation.Absent(),
        onSome: (w) => observeWorkflow(refOf(w), w.status)
      })
    ),
  cancel: ({ operation, target }) =>
    deleteChildUnless(Resources.Workflow, operation, targetNamespace(target), workloadName(operation))
}

/** Registers the workflow engine. */
export const workflowEngineLayer = registerEngine(workflowEngine)
