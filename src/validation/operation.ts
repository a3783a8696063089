/**
 * Rules for Operation (spec/api.md §3, §7.3), shared by the reconciler and the admission webhook.
 * Each returns the original's message, or undefined when the rule passes.
 */
import { Either } from "effect"
import type { ApplicationInstance } from "../api/applicationInstance.js"
import type { Operation, OperationType } from "../api/operation.js"
import { Annotations, ApiVersions } from "../api/wellKnown.js"
import { findTemplate, noTemplateMessage, type OperationTemplate, validateParameters } from "../engines/templates/index.js"

export type OperationRuleResult =
  | { readonly ok: true; readonly template: OperationTemplate; readonly parameters: unknown }
  | { readonly ok: false; readonly message: string }

const blank = (s: string | undefined): boolean => s === undefined || s.trim() === ""

/**
 * targetRef, type and engine (`ValidateOperationSpec`), the `(type, engine)` template, then the
 * template's parameter schema. On success: the template and the decoded parameters.
 */
export const validateOperationSpec = (op: Operation): OperationRuleResult => {
  const spec = op.spec
  const fail = (message: string): OperationRuleResult => ({ ok: false, message })
  if (spec.targetRef.apiVersion !== ApiVersions.ApplicationInstance) {
    return fail("spec.targetRef.apiVersion must be apps.vworkspace.io/v1alpha1")
  }
  if (spec.targetRef.kind !== "ApplicationInstance") return fail("spec.targetRef.kind must be ApplicationInstance")
  if (blank(spec.targetRef.name)) return fail("spec.targetRef.name is required")
  if (blank(spec.type)) return fail("spec.type is required")
  if (blank(spec.engine)) return fail("spec.engine is required")
  const template = findTemplate(spec.type, spec.engine)
  if (template === undefined) return fail(noTemplateMessage(spec.type, spec.engine))
  const parameters = validateParameters(template, spec.parameters)
  return Either.isLeft(parameters) ? fail(parameters.left) : { ok: true, template, parameters: parameters.right }
}

export const targetNotFoundMessage = (op: Operation): string =>
  `target ApplicationInstance "${op.spec.targetRef.name}" not found in namespace "${op.metadata.namespace ?? ""}"`

/** The target advertises the template's engine in its capability annotation. */
export const capabilityProblem = (target: ApplicationInstance, template: OperationTemplate): string | undefined => {
  const key = template.capabilityAnnotation
  const value = target.metadata.annotations?.[key]
  const name = target.metadata.name ?? ""
  if (value === undefined || value.trim() === "") {
    return `target "${name}" missing capability annotation ${key}="${template.engine}" required for template ${template.ref}`
  }
  if (value.trim() !== template.engine) {
    return `target "${name}" capability ${key}="${value}" does not match operation engine "${template.engine}" (template ${template.ref})`
  }
  return undefined
}

/** The namespace's `ops.vworkspace.io/allowed-types` annotation (missing or blank: everything) lists the type. */
export const allowedTypesProblem = (
  namespace: string,
  annotations: Readonly<Record<string, string>> | undefined,
  type: string
): string | undefined => {
  const list = annotations?.[Annotations.allowedTypes]
  if (list === undefined || list.trim() === "") return undefined
  const allowed = list.split(",").map((t) => t.trim())
  return allowed.includes(type)
    ? undefined
    : `operation type "${type}" not allowed in namespace "${namespace}" (annotation ${Annotations.allowedTypes})`
}

/** Which in-flight types block an incoming type (spec/api.md §7.3.3). */
const blockedBy: Readonly<Record<OperationType, ReadonlyArray<OperationType>>> = {
  Backup: ["Restore"],
  Restore: ["Backup", "Upgrade"],
  Upgrade: ["Upgrade"],
  Migration: [],
  RunCommand: [],
  Runbook: []
}

export const conflicts = (existing: OperationType, incoming: OperationType): boolean =>
  blockedBy[incoming].includes(existing)

const terminal = new Set(["Succeeded", "Failed", "Cancelled"])

/** Not finished yet. With the earlier-blocks-later rule, an operation that has not started counts too. */
export const inFlight = (op: Operation): boolean => !terminal.has(op.status?.phase ?? "")

/** A total order on creation: creationTimestamp, then name. */
const createdBefore = (a: Operation, b: Operation): boolean => {
  const ta = a.metadata.creationTimestamp ?? ""
  const tb = b.metadata.creationTimestamp ?? ""
  return ta < tb || (ta === tb && (a.metadata.name ?? "") < (b.metadata.name ?? ""))
}

/**
 * The earliest operation, created before `op` on the same target, that is still in flight and
 * conflicts with it. Only earlier operations can block a later one, so two never wait on each other.
 */
export const findConflict = (op: Operation, others: ReadonlyArray<Operation>): Operation | undefined =>
  others
    .filter(
      (o) =>
        o.metadata.name !== op.metadata.name &&
        o.metadata.namespace === op.metadata.namespace &&
        o.spec.targetRef.name === op.spec.targetRef.name &&
        createdBefore(o, op) &&
        inFlight(o) &&
        conflicts(o.spec.type, op.spec.type)
    )
    .sort((a, b) => (createdBefore(a, b) ? -1 : 1))[0]

export const conflictMessage = (other: Operation): string =>
  `conflicts with operation "${other.metadata.name ?? ""}" (${other.spec.type}); it starts when that operation finishes`
