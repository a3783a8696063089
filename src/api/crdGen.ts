/**
 * Generates the CRDs from the effect/Schema definitions by walking the Schema AST, and the JSON
 * Schemas of the agent wire types with `JSONSchema`. Output is deterministic: same code, same bytes.
 *
 * Conventions the walker relies on (see schemaKit.ts):
 * - descriptions come from property signatures (`req`/`opt`) and from `Schema.Struct(...)`
 *   annotations, never from effect's built-in descriptions of keywords and filters;
 * - filters must carry a `jsonSchema` annotation (all of effect's string/number filters do);
 * - Kubernetes-only keywords come from the `CrdSchema` annotation.
 */
import { Data, Effect, JSONSchema, type Schema, SchemaAST as AST } from "effect"
import YAML from "yaml"
import { agentProtocolSchemas } from "./agentProtocol.js"
import { ApplicationInstanceCrd } from "./applicationInstance.js"
import { ClusterCrd } from "./cluster.js"
import { OperationCrd } from "./operation.js"
import { templateParameterSchemas } from "./operationParameters.js"
import { chartRbacTemplate, chartRbacTemplatePath } from "../rbac.js"
import { CrdSchema, type CrdInfo, type CrdSchemaExtras, type JSONSchemaProps, type ValidationRule } from "./schemaKit.js"

export class UnsupportedSchema extends Data.TaggedError("UnsupportedSchema")<{
  readonly path: string
  readonly message: string
}> {}

/** The CRDs this operator owns, in a fixed order. */
export const ownedCrds: ReadonlyArray<CrdInfo> = [ApplicationInstanceCrd, OperationCrd, ClusterCrd]

type MutableProps = { -readonly [K in keyof JSONSchemaProps]: JSONSchemaProps[K] }

/** Key order of the emitted schema nodes (controller-gen-like, so diffs stay readable). */
const keyOrder: ReadonlyArray<keyof JSONSchemaProps> = [
  "description",
  "type",
  "format",
  "enum",
  "default",
  "nullable",
  "pattern",
  "minLength",
  "maxLength",
  "minimum",
  "exclusiveMinimum",
  "maximum",
  "exclusiveMaximum",
  "minItems",
  "maxItems",
  "minProperties",
  "maxProperties",
  "items",
  "properties",
  "additionalProperties",
  "required",
  "x-kubernetes-embedded-resource",
  "x-kubernetes-preserve-unknown-fields",
  "x-kubernetes-list-type",
  "x-kubernetes-list-map-keys",
  "x-kubernetes-map-type",
  "x-kubernetes-validations"
]

const ordered = (props: MutableProps): JSONSchemaProps => {
  const out: Record<string, unknown> = {}
  for (const key of keyOrder) if (props[key] !== undefined) out[key] = props[key]
  return out as JSONSchemaProps
}

const fail = (path: string, message: string): never => {
  throw new UnsupportedSchema({ path: path === "" ? "<root>" : path, message })
}

const extrasOf = (annotations: AST.Annotations): CrdSchemaExtras | undefined => {
  const extras = annotations[CrdSchema]
  return typeof extras === "object" && extras !== null ? (extras as CrdSchemaExtras) : undefined
}

const descriptionOf = (annotations: AST.Annotations): string | undefined => {
  const d = annotations[AST.DescriptionAnnotationId]
  return typeof d === "string" ? d : undefined
}

const defaultOf = (annotations: AST.Annotations): { readonly value: unknown } | undefined =>
  AST.DefaultAnnotationId in annotations ? { value: annotations[AST.DefaultAnnotationId] } : undefined

const applyExtras = (props: MutableProps, extras: CrdSchemaExtras | undefined): void => {
  if (extras === undefined) return
  const { "x-kubernetes-validations": rules, ...rest } = extras
  Object.assign(props, rest)
  if (rules !== undefined) {
    const existing: ReadonlyArray<ValidationRule> = props["x-kubernetes-validations"] ?? []
    props["x-kubernetes-validations"] = [...existing, ...rules]
  }
}

/** Translates the `jsonSchema` annotation of an effect filter into OpenAPI v3.0 keywords. */
const applyFilterJsonSchema = (props: MutableProps, jsonSchema: object, path: string): void => {
  for (const [key, value] of Object.entries(jsonSchema)) {
    switch (key) {
      case "type":
        if (value !== "integer") fail(path, `filter sets unsupported type ${String(value)}`)
        props.type = "integer"
        break
      case "pattern":
        // JS escapes "/" in RegExp sources; the API server's RE2 patterns do not need it.
        props.pattern = String(value).replace(/\\\//g, "/")
        break
      case "minLength":
      case "maxLength":
      case "minimum":
      case "maximum":
      case "minItems":
      case "maxItems":
        props[key] = Number(value)
        break
      case "exclusiveMinimum":
        props.minimum = Number(value)
        props.exclusiveMinimum = true
        break
      case "exclusiveMaximum":
        props.maximum = Number(value)
        props.exclusiveMaximum = true
        break
      case "format":
        props.format = String(value)
        break
      default:
        fail(path, `filter keyword ${key} has no structural-schema equivalent`)
    }
  }
}

const literalType = (value: AST.LiteralValue, path: string): "string" | "number" | "boolean" =>
  typeof value === "string"
    ? "string"
    : typeof value === "number"
      ? "number"
      : typeof value === "boolean"
        ? "boolean"
        : fail(path, `literal ${String(value)} cannot be expressed`)

const walk = (ast: AST.AST, path: string): MutableProps => {
  switch (ast._tag) {
    case "StringKeyword":
      return withExtras({ type: "string" }, ast)
    case "NumberKeyword":
      return withExtras({ type: "number" }, ast)
    case "BooleanKeyword":
      return withExtras({ type: "boolean" }, ast)
    case "UnknownKeyword":
    case "AnyKeyword":
      return withExtras({ "x-kubernetes-preserve-unknown-fields": true }, ast)
    case "Literal": {
      if (ast.literal === null) return fail(path, "a lone null literal cannot be expressed")
      return withExtras({ type: literalType(ast.literal, path), enum: [ast.literal as string | number | boolean] }, ast)
    }
    case "Union":
      return walkUnion(ast, path)
    case "Refinement": {
      const props = walk(ast.from, path)
      const jsonSchema = AST.getJSONSchemaAnnotation(ast)
      if (jsonSchema._tag === "None") return fail(path, "a filter without a jsonSchema annotation cannot be expressed")
      applyFilterJsonSchema(props, jsonSchema.value, path)
      return withExtras(props, ast)
    }
    case "TupleType": {
      if (ast.elements.length > 0 || ast.rest.length !== 1) return fail(path, "only arrays (no tuples) are supported")
      return withExtras({ type: "array", items: ordered(walk(ast.rest[0]!.type, `${path}[]`)) }, ast)
    }
    case "TypeLiteral":
      return walkTypeLiteral(ast, path)
    case "Suspend":
      return walk(ast.f(), path)
    case "Transformation":
      // The wire carries the encoded side.
      return walk(ast.from, path)
    default:
      return fail(path, `${ast._tag} cannot be expressed in a structural schema`)
  }
}

const withExtras = (props: MutableProps, ast: AST.AST): MutableProps => {
  applyExtras(props, extrasOf(ast.annotations))
  const d = defaultOf(ast.annotations)
  if (d !== undefined) props.default = d.value
  return props
}

const walkUnion = (ast: AST.Union, path: string): MutableProps => {
  let nullable = false
  const members: Array<AST.AST> = []
  for (const member of ast.types) {
    if (member._tag === "UndefinedKeyword") continue
    if (member._tag === "Literal" && member.literal === null) nullable = true
    else members.push(member)
  }
  let props: MutableProps
  if (members.length === 1) {
    props = walk(members[0]!, path)
  } else if (members.length > 1 && members.every((m): m is AST.Literal => m._tag === "Literal")) {
    const types = new Set(members.map((m) => literalType(m.literal, path)))
    if (types.size !== 1) return fail(path, "enum members must share one type")
    props = {
      type: [...types][0]!,
      enum: members.map((m) => m.literal as string | number | boolean)
    }
  } else {
    return fail(path, "unions other than enums and optional/nullable values break structural schemas")
  }
  if (nullable) props.nullable = true
  const description = descriptionOf(ast.annotations)
  if (description !== undefined && props.description === undefined) props.description = description
  return withExtras(props, ast)
}

const walkTypeLiteral = (ast: AST.TypeLiteral, path: string): MutableProps => {
  const props: MutableProps = { type: "object" }
  const description = descriptionOf(ast.annotations)
  if (description !== undefined) props.description = description
  if (ast.propertySignatures.length > 0) {
    if (ast.indexSignatures.length > 0) fail(path, "objects mixing fixed and free-form keys are not supported")
    const properties: Record<string, JSONSchemaProps> = {}
    const required: Array<string> = []
    for (const ps of ast.propertySignatures) {
      if (typeof ps.name !== "string") return fail(path, "property names must be strings")
      const fieldPath = path === "" ? ps.name : `${path}.${ps.name}`
      const field = walk(ps.type, fieldPath)
      const fieldDescription = descriptionOf(ps.annotations)
      if (fieldDescription !== undefined) field.description = fieldDescription
      const d = defaultOf(ps.annotations)
      if (d !== undefined) field.default = d.value
      applyExtras(field, extrasOf(ps.annotations))
      properties[ps.name] = ordered(field)
      if (!ps.isOptional) required.push(ps.name)
    }
    props.properties = properties
    if (required.length > 0) props.required = required
  } else if (ast.indexSignatures.length === 1) {
    const value = ast.indexSignatures[0]!.type
    if (value._tag === "UnknownKeyword" || value._tag === "AnyKeyword") {
      props["x-kubernetes-preserve-unknown-fields"] = true
    } else {
      props.additionalProperties = ordered(walk(value, `${path}.*`))
    }
  } else if (ast.indexSignatures.length > 1) {
    fail(path, "several index signatures are not supported")
  }
  return withExtras(props, ast)
}

/** The structural schema of any effect/Schema (no `$ref`, no `anyOf`). */
export const toStructuralSchema = (schema: Schema.Schema.AnyNoContext): Effect.Effect<JSONSchemaProps, UnsupportedSchema> =>
  Effect.try({
    try: () => ordered(walk(schema.ast, "")),
    catch: (e) =>
      e instanceof UnsupportedSchema ? e : new UnsupportedSchema({ path: "<root>", message: String(e) })
  })

const typeMetaProps: Record<string, JSONSchemaProps> = {
  apiVersion: {
    description:
      "APIVersion defines the versioned schema of this representation of an object. Servers should convert recognized schemas to the latest internal value, and may reject unrecognized values.",
    type: "string"
  },
  kind: {
    description:
      "Kind is a string value representing the REST resource this object represents. Servers may infer this from the endpoint the client submits requests to. In CamelCase.",
    type: "string"
  },
  metadata: { type: "object" }
}

/** The `openAPIV3Schema` of a kind: standard apiVersion/kind/metadata, then the kind's own fields. */
export const objectSchema = (info: CrdInfo): Effect.Effect<JSONSchemaProps, UnsupportedSchema> =>
  Effect.map(toStructuralSchema(info.schema), (root) => {
    const properties: Record<string, JSONSchemaProps> = { ...typeMetaProps }
    for (const [name, prop] of Object.entries(root.properties ?? {})) {
      if (!(name in typeMetaProps)) properties[name] = prop
    }
    const required = (root.required ?? []).filter((name) => !(name in typeMetaProps))
    return ordered({
      ...root,
      properties,
      required: required.length > 0 ? required : undefined
    })
  })

/** The CustomResourceDefinition object of a kind. */
export const crdObject = (info: CrdInfo) =>
  Effect.map(objectSchema(info), (openAPIV3Schema) => ({
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: `${info.plural}.${info.group}` },
    spec: {
      group: info.group,
      names: {
        kind: info.kind,
        listKind: info.listKind,
        plural: info.plural,
        singular: info.singular,
        ...(info.shortNames.length > 0 ? { shortNames: [...info.shortNames] } : {})
      },
      scope: info.scope,
      versions: [
        {
          name: info.version,
          served: true,
          storage: true,
          additionalPrinterColumns: info.printerColumns.map((c) => ({ ...c })),
          schema: { openAPIV3Schema },
          subresources: { status: {} }
        }
      ]
    }
  }))

export interface GeneratedFile {
  /** Path relative to the repository root, with `/` separators. */
  readonly path: string
  readonly content: string
}

export const crdFileName = (info: CrdInfo): string => `${info.group}_${info.plural}.yaml`
export const crdDirs = ["schema/crds", "charts/vworkspace-operator/crds"] as const
export const agentProtocolDir = "schema/agent-protocol"
export const templatesDir = "schema/operation-templates"

const generatedHeader = "# Generated by `npm run crds` from src/api. Do not edit by hand.\n"

export const crdYaml = (info: CrdInfo): Effect.Effect<string, UnsupportedSchema> =>
  Effect.map(
    crdObject(info),
    // YAML 1.1 quoting, so strings such as "True" or "on" stay strings for the API server's parser.
    (crd) => generatedHeader + YAML.stringify(crd, { lineWidth: 0, version: "1.1" })
  )

/**
 * JSON Schema (draft-07) of a wire type. Unknown fields are allowed by default, because receivers
 * must ignore them.
 */
export const wireJsonSchema = (schema: Schema.Schema.AnyNoContext): object => {
  const definitions: Record<string, JSONSchema.JsonSchema7> = {}
  const body = JSONSchema.fromAST(schema.ast, { definitions, additionalPropertiesStrategy: "allow" })
  return {
    $schema: "http://json-schema.org/draft-07/schema#",
    ...(Object.keys(definitions).length > 0 ? { $defs: definitions } : {}),
    ...body
  }
}

/**
 * JSON Schema (Draft 2020-12) of an Operation template's parameters: strict, so every object,
 * nested ones included, has `additionalProperties: false` (free-form objects stay open).
 */
export const templateParametersJsonSchema = (ref: string, schema: Schema.Schema.AnyNoContext): object => {
  const definitions: Record<string, JSONSchema.JsonSchema7> = {}
  const body = JSONSchema.fromAST(schema.ast, {
    definitions,
    definitionPath: "#/$defs/",
    target: "jsonSchema2020-12",
    additionalPropertiesStrategy: "strict"
  })
  return {
    $schema: "https://json-schema.org/draft/2020-12/schema",
    title: `Parameters of the ${ref} Operation template`,
    ...(Object.keys(definitions).length > 0 ? { $defs: definitions } : {}),
    ...body
  }
}

/**
 * Every generated artifact: the CRDs (in schema/ and in the chart), the agent protocol schemas,
 * the parameter schemas of the built-in Operation templates, and the chart's RBAC (src/rbac.ts).
 */
export const generateAll: Effect.Effect<ReadonlyArray<GeneratedFile>, UnsupportedSchema> = Effect.gen(function* () {
  const files: Array<GeneratedFile> = []
  for (const info of ownedCrds) {
    const content = yield* crdYaml(info)
    for (const dir of crdDirs) files.push({ path: `${dir}/${crdFileName(info)}`, content })
  }
  for (const [name, schema] of Object.entries(agentProtocolSchemas)) {
    files.push({
      path: `${agentProtocolDir}/${name}.json`,
      content: JSON.stringify(wireJsonSchema(schema), null, 2) + "\n"
    })
  }
  for (const [ref, schema] of Object.entries(templateParameterSchemas)) {
    files.push({
      path: `${templatesDir}/${ref}.json`,
      content: JSON.stringify(templateParametersJsonSchema(ref, schema), null, 2) + "\n"
    })
  }
  files.push({ path: chartRbacTemplatePath, content: chartRbacTemplate() })
  return files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
})

/** Directories whose whole content the generator owns (a stale file there is drift too). */
export const generatedDirs: ReadonlyArray<string> = [...crdDirs, agentProtocolDir, templatesDir]
