/** Argo Workflows `Workflow` (argoproj.io/v1alpha1), as far as the workflow engine uses it. */
import { Schema } from "effect"
import { ObjectMeta, typeMeta } from "../meta.js"
import { FreeFormObject } from "../schemaKit.js"

export const WorkflowParameter = Schema.Struct({
  name: Schema.String,
  value: Schema.optional(Schema.String)
})

export const WorkflowSpec = Schema.Struct({
  workflowTemplateRef: Schema.optional(
    Schema.Struct({
      name: Schema.String,
      clusterScope: Schema.optional(Schema.Boolean)
    })
  ),
  entrypoint: Schema.optional(Schema.String),
  serviceAccountName: Schema.optional(Schema.String),
  arguments: Schema.optional(
    Schema.Struct({
      parameters: Schema.optional(Schema.Array(WorkflowParameter))
    })
  ),
  activeDeadlineSeconds: Schema.optional(Schema.Number),
  /** Setting `shutdown: Terminate` stops a running workflow. */
  shutdown: Schema.optional(Schema.String),
  ttlStrategy: Schema.optional(FreeFormObject),
  podGC: Schema.optional(FreeFormObject)
})
export type WorkflowSpec = typeof WorkflowSpec.Type

/** Workflow phases; the workflow engine treats Failed, Error, Terminated and Skipped as failure. */
export const WorkflowPhases = ["Pending", "Running", "Succeeded", "Failed", "Error"] as const

/** One step of a run, as `status.nodes[<id>]` reports it. */
export const WorkflowNodeStatus = Schema.Struct({
  name: Schema.optional(Schema.String),
  displayName: Schema.optional(Schema.String),
  type: Schema.optional(Schema.String),
  phase: Schema.optional(Schema.String),
  message: Schema.optional(Schema.String)
})
export type WorkflowNodeStatus = typeof WorkflowNodeStatus.Type

export const WorkflowStatus = Schema.Struct({
  phase: Schema.optional(Schema.String),
  message: Schema.optional(Schema.String),
  nodes: Schema.optional(Schema.Record({ key: Schema.String, value: WorkflowNodeStatus })),
  startedAt: Schema.optional(Schema.NullOr(Schema.String)),
  finishedAt: Schema.optional(Schema.NullOr(Schema.String)),
  progress: Schema.optional(Schema.String)
})
export type WorkflowStatus = typeof WorkflowStatus.Type

export const Workflow = Schema.Struct({
  ...typeMeta("argoproj.io/v1alpha1", "Workflow"),
  metadata: ObjectMeta,
  spec: Schema.optional(WorkflowSpec),
  status: Schema.optional(WorkflowStatus)
})
export type Workflow = typeof Workflow.Type
