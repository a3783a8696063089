/**
 * Building blocks shared by every API schema: field helpers that carry `kubectl explain` text, the
 * annotation that feeds Kubernetes-only keywords (CEL rules, list types, formats) to the CRD
 * generator, and a few scalar types that Kubernetes serialises in a particular way.
 */
import { Schema } from "effect"

/** One CEL rule of `x-kubernetes-validations`. */
export interface ValidationRule {
  readonly rule: string
  readonly message?: string
  readonly messageExpression?: string
  readonly reason?: "FieldValueInvalid" | "FieldValueForbidden" | "FieldValueRequired" | "FieldValueDuplicate"
  readonly fieldPath?: string
  readonly optionalOldSelf?: boolean
}

/** The subset of the apiextensions `JSONSchemaProps` that a structural CRD schema uses. */
export interface JSONSchemaProps {
  readonly description?: string
  readonly type?: "object" | "array" | "string" | "integer" | "number" | "boolean"
  readonly format?: string
  readonly enum?: ReadonlyArray<string | number | boolean>
  readonly default?: unknown
  readonly nullable?: boolean
  readonly pattern?: string
  readonly minLength?: number
  readonly maxLength?: number
  readonly minimum?: number
  readonly maximum?: number
  readonly exclusiveMinimum?: boolean
  readonly exclusiveMaximum?: boolean
  readonly minItems?: number
  readonly maxItems?: number
  readonly minProperties?: number
  readonly maxProperties?: number
  readonly items?: JSONSchemaProps
  readonly properties?: Readonly<Record<string, JSONSchemaProps>>
  readonly additionalProperties?: JSONSchemaProps
  readonly required?: ReadonlyArray<string>
  readonly "x-kubernetes-preserve-unknown-fields"?: boolean
  readonly "x-kubernetes-embedded-resource"?: boolean
  readonly "x-kubernetes-list-type"?: "atomic" | "set" | "map"
  readonly "x-kubernetes-list-map-keys"?: ReadonlyArray<string>
  readonly "x-kubernetes-map-type"?: "granular" | "atomic"
  readonly "x-kubernetes-validations"?: ReadonlyArray<ValidationRule>
}

/**
 * Kubernetes-only schema keywords for a node, merged by the CRD generator over what it derives from
 * the effect/Schema itself. Put it on a type (`X.annotations({ [CrdSchema]: … })`) or on a property
 * signature (`opt(X, "…").annotations({ [CrdSchema]: … })`).
 */
export const CrdSchema: unique symbol = Symbol.for("vworkspace/api/CrdSchema")

export type CrdSchemaExtras = Pick<
  JSONSchemaProps,
  | "format"
  | "maxItems"
  | "maxProperties"
  | "x-kubernetes-preserve-unknown-fields"
  | "x-kubernetes-embedded-resource"
  | "x-kubernetes-list-type"
  | "x-kubernetes-list-map-keys"
  | "x-kubernetes-map-type"
  | "x-kubernetes-validations"
>

/** Annotations object carrying CRD extras, for `.annotations(crd({...}))`. */
export const crd = (extras: CrdSchemaExtras): { readonly [CrdSchema]: CrdSchemaExtras } => ({ [CrdSchema]: extras })

/** CEL rules as an annotations object, for `.annotations(cel(...))`. */
export const cel = (...rules: ReadonlyArray<ValidationRule>): { readonly [CrdSchema]: CrdSchemaExtras } =>
  crd({ "x-kubernetes-validations": rules })

/** A required field with the text `kubectl explain` shows for it. */
export const req = <S extends Schema.Schema.All>(schema: S, description: string) =>
  Schema.propertySignature(schema).annotations({ description })

/** An optional field (absent on the wire when unset) with the text `kubectl explain` shows for it. */
export const opt = <S extends Schema.Schema.All>(schema: S, description: string) =>
  Schema.optional(schema).annotations({ description })

/** RFC 3339 timestamp as Kubernetes serialises `metav1.Time` (kept as a string on purpose). */
export const DateTimeString = Schema.String.annotations({
  identifier: "DateTimeString",
  jsonSchema: { type: "string", format: "date-time" },
  ...crd({ format: "date-time" })
})

/** A 64-bit integer (`format: int64` in the CRD). */
export const Int64 = Schema.Int.annotations({ ...crd({ format: "int64" }) })

/** A 32-bit integer (`format: int32` in the CRD). */
export const Int32 = Schema.Int.annotations({ ...crd({ format: "int32" }) })

/** A non-empty string (`minLength: 1`). */
export const NonEmpty = Schema.String.pipe(Schema.minLength(1))

/**
 * A free-form JSON object. The CRD generator turns it into
 * `type: object` + `x-kubernetes-preserve-unknown-fields: true`.
 */
export const FreeFormObject = Schema.Record({ key: Schema.String, value: Schema.Unknown })

/** A map of strings (labels, string outputs, …). */
export const StringMap = Schema.Record({ key: Schema.String, value: Schema.String })

/** One `additionalPrinterColumns` entry (`kubectl get` column). */
export interface PrinterColumn {
  readonly name: string
  readonly type: "string" | "integer" | "number" | "boolean" | "date"
  readonly jsonPath: string
  readonly description?: string
  readonly priority?: number
}

/** Everything the CRD generator needs to know about one kind besides its schema. */
export interface CrdInfo {
  readonly group: string
  readonly version: string
  readonly kind: string
  readonly listKind: string
  readonly plural: string
  readonly singular: string
  readonly shortNames: ReadonlyArray<string>
  readonly scope: "Namespaced" | "Cluster"
  readonly printerColumns: ReadonlyArray<PrinterColumn>
  /** The whole object: apiVersion, kind, metadata, spec, status. */
  readonly schema: Schema.Schema.AnyNoContext
}
