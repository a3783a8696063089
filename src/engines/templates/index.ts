/**
 * The built-in Operation templates, keyed `type.engine` (spec/operations.md §2.1, plus the
 * migration.workflow, volsync and snapshot pairs of DESIGN.md item 6). A template is compiled in:
 * which capability annotation the target must carry, whether the operation needs an approval
 * claim, and the parameter schema that both validates `spec.parameters` and is published as JSON
 * Schema.
 */
import { Either, ParseResult, Schema } from "effect"
import type { OperationEngine, OperationType } from "../../api/operation.js"
import { type TemplateRef, templateParameterSchemas } from "../../api/operationParameters.js"
import { capabilityAnnotation } from "../../api/wellKnown.js"

export interface OperationTemplate {
  readonly ref: TemplateRef
  readonly type: OperationType
  readonly engine: OperationEngine
  /** The target's annotation `ops.vworkspace.io/<verb>` must equal the engine name. */
  readonly capabilityAnnotation: string
  readonly requiresApproval: boolean
  readonly parameters: Schema.Schema.AnyNoContext
}

const template = (type: OperationType, engine: OperationEngine, options: { readonly requiresApproval?: boolean } = {}) => {
  const ref = `${type[0]!.toLowerCase()}${type.slice(1)}.${engine}` as const
  return { ref, type, engine, verb: type.toLowerCase(), requiresApproval: options.requiresApproval ?? false }
}

const definitions = [
  template("Backup", "velero"),
  template("Restore", "velero", { requiresApproval: true }),
  template("Upgrade", "helm"),
  template("Migration", "helmHookJob"),
  template("Migration", "workflow"),
  template("RunCommand", "job"),
  template("Runbook", "workflow"),
  template("Backup", "volsync"),
  template("Restore", "volsync", { requiresApproval: true }),
  template("Backup", "snapshot"),
  template("Restore", "snapshot", { requiresApproval: true })
]

const isTemplateRef = (ref: string): ref is TemplateRef => ref in templateParameterSchemas

/** Every built-in template, in the order above. */
export const builtinTemplates: ReadonlyArray<OperationTemplate> = definitions.flatMap((d) =>
  isTemplateRef(d.ref)
    ? [
        {
          ref: d.ref,
          type: d.type,
          engine: d.engine,
          capabilityAnnotation: capabilityAnnotation(d.verb),
          requiresApproval: d.requiresApproval,
          parameters: templateParameterSchemas[d.ref]
        }
      ]
    : []
)

export const builtinTemplateRefs: ReadonlyArray<string> = builtinTemplates.map((t) => t.ref)

/** The template for an exact `(type, engine)` pair. */
export const findTemplate = (type: string, engine: string): OperationTemplate | undefined =>
  builtinTemplates.find((t) => t.type === type && t.engine === engine)

export const noTemplateMessage = (type: string, engine: string): string =>
  `no built-in operation template for type "${type}" and engine "${engine}" (expected refs such as ${builtinTemplateRefs.join(", ")})`

/**
 * One line per offending field. An optional field's "Expected undefined" alternative is noise
 * when the field has a real complaint too.
 */
const formatIssues = (error: ParseResult.ParseError): string => {
  const issues = ParseResult.ArrayFormatter.formatErrorSync(error).map((i) => ({ path: i.path.join("."), message: i.message }))
  return issues
    .filter((i) => !(i.message.startsWith("Expected undefined,") && issues.some((o) => o !== i && o.path === i.path)))
    .map((i) => (i.path === "" ? i.message : `${i.path}: ${i.message}`))
    .join("; ")
}

/**
 * Decodes `spec.parameters` (absent counts as `{}`) with the template's schema; unknown keys are
 * errors. The message names the template and every offending field.
 */
export const validateParameters = (t: OperationTemplate, parameters: unknown): Either.Either<unknown, string> =>
  Either.mapLeft(
    Schema.decodeUnknownEither(t.parameters, { onExcessProperty: "error", errors: "all" })(parameters ?? {}),
    (e): string => `parameters invalid for template ${t.ref}: ${formatIssues(e)}`
  )
