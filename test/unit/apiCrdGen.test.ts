import { Effect, Either, Schema } from "effect"
import { describe, expect, it } from "vitest"
import { ApplicationInstanceCrd } from "../../src/api/applicationInstance.js"
import { ClusterCrd } from "../../src/api/cluster.js"
import { crdObject, generateAll, ownedCrds, toStructuralSchema } from "../../src/api/crdGen.js"
import { OperationCrd } from "../../src/api/operation.js"
import type { CrdInfo, JSONSchemaProps } from "../../src/api/schemaKit.js"

const schemaOf = (info: CrdInfo): JSONSchemaProps => {
  const crd = Effect.runSync(crdObject(info))
  return crd.spec.versions[0]!.schema.openAPIV3Schema
}

/** Follows `properties` (and `items` for `[]`) down a dotted path. */
const at = (root: JSONSchemaProps, path: string): JSONSchemaProps => {
  let node = root
  for (const part of path.split(".")) {
    const next = part === "[]" ? node.items : node.properties?.[part]
    if (next === undefined) throw new Error(`no schema at ${path} (stopped at ${part})`)
    node = next
  }
  return node
}

/** Every node of a schema, with its path. */
const nodes = (schema: JSONSchemaProps, path = ""): Array<[string, JSONSchemaProps]> => [
  [path, schema],
  ...Object.entries(schema.properties ?? {}).flatMap(([k, v]) => nodes(v, `${path}.${k}`)),
  ...(schema.items ? nodes(schema.items, `${path}[]`) : []),
  ...(schema.additionalProperties ? nodes(schema.additionalProperties, `${path}.*`) : [])
]

const rulesAt = (root: JSONSchemaProps, path: string) => at(root, path)["x-kubernetes-validations"] ?? []

describe("structural schemas", () => {
  for (const info of ownedCrds) {
    it(`${info.kind}: every node has a type or preserves unknown fields, and nothing is a $ref or anyOf`, () => {
      const schema = schemaOf(info)
      for (const [path, node] of nodes(schema)) {
        const serialized = JSON.stringify(Object.keys(node))
        expect(serialized, path).not.toMatch(/\$ref|anyOf|oneOf|allOf|additionalProperties":false/)
        if (node["x-kubernetes-preserve-unknown-fields"] !== true) expect(node.type, `type at ${path}`).toBeDefined()
      }
    })
  }

  it("keeps apiVersion, kind and metadata standard and unrequired", () => {
    const schema = schemaOf(ApplicationInstanceCrd)
    expect(at(schema, "metadata")).toEqual({ type: "object" })
    expect(at(schema, "apiVersion").type).toBe("string")
    expect(at(schema, "apiVersion").enum).toBeUndefined()
    expect(schema.required).toEqual(["spec"])
  })
})

describe("ApplicationInstance CRD", () => {
  const schema = schemaOf(ApplicationInstanceCrd)

  it("documents fields for kubectl explain", () => {
    expect(at(schema, "spec.chart").description).toMatch(/chart/i)
    expect(at(schema, "spec.chart.version").description).toBeDefined()
    expect(schema.description).toMatch(/^ApplicationInstance/)
  })

  it("does not leak effect's built-in filter descriptions", () => {
    for (const [path, node] of nodes(schema)) {
      expect(node.description ?? "", path).not.toMatch(/^an? (string|integer|number)/)
    }
  })

  it("has enums, the managed default and length limits", () => {
    expect(at(schema, "spec.mode")).toMatchObject({ type: "string", enum: ["managed", "placeholder"], default: "managed" })
    expect(at(schema, "spec.chart.sourceType").enum).toEqual(["oci", "helm"])
    expect(at(schema, "spec.values.source").enum).toEqual(["inline", "secretRef", "configMapRef"])
    expect(at(schema, "spec.appRef.catalogId").minLength).toBe(1)
    expect(at(schema, "spec").required).toEqual(["appRef"])
    expect(at(schema, "spec.chart").required).toEqual(["sourceType", "url", "name", "version"])
  })

  it("keeps free-form values as preserve-unknown-fields objects", () => {
    expect(at(schema, "spec.values.inline")).toMatchObject({
      type: "object",
      "x-kubernetes-preserve-unknown-fields": true
    })
    expect(at(schema, "spec.values.inline").properties).toBeUndefined()
  })

  it("makes status.conditions a list-map keyed by type with the metav1 validations", () => {
    const conditions = at(schema, "status.conditions")
    expect(conditions["x-kubernetes-list-type"]).toBe("map")
    expect(conditions["x-kubernetes-list-map-keys"]).toEqual(["type"])
    expect(at(schema, "status.conditions.[]").required).toEqual([
      "type",
      "status",
      "lastTransitionTime",
      "reason",
      "message"
    ])
    expect(at(schema, "status.conditions.[].lastTransitionTime")).toMatchObject({ type: "string", format: "date-time" })
    expect(at(schema, "status.conditions.[].observedGeneration")).toMatchObject({
      type: "integer",
      format: "int64",
      minimum: 0
    })
    expect(at(schema, "status.conditions.[].reason")).toMatchObject({
      minLength: 1,
      maxLength: 1024,
      pattern: "^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$"
    })
    expect(at(schema, "status.conditions.[].type").pattern).toContain(")*/)?")
    expect(at(schema, "status.conditions.[].status").enum).toEqual(["True", "False", "Unknown"])
    expect(at(schema, "status.observedGeneration")).toMatchObject({ type: "integer", format: "int64" })
    expect(at(schema, "status.lastReconcileTime").format).toBe("date-time")
  })

  it("carries the mode, values and immutability rules with messages that name the field", () => {
    const specRules = rulesAt(schema, "spec")
    const messages = specRules.map((r) => r.message)
    expect(messages).toEqual(
      expect.arrayContaining([
        "spec.chart is required in managed mode",
        "spec.release is required in managed mode",
        "spec.values is required in managed mode",
        "spec.chart must not be set in placeholder mode",
        "spec.values must not be set in placeholder mode",
        "spec.release is immutable once set"
      ])
    )
    const immutability = specRules.find((r) => r.message === "spec.release is immutable once set")
    expect(immutability?.rule).toContain("oldSelf.release")
    expect(rulesAt(schema, "spec.values").map((r) => r.message)).toContain(
      "spec.values.inline is required when source is inline"
    )
    expect(schema["x-kubernetes-validations"]?.[0]?.message).toMatch(/^cannot switch a managed instance/)
  })

  it("has the printer columns and short name of the contract", () => {
    const crd = Effect.runSync(crdObject(ApplicationInstanceCrd))
    expect(crd.spec.names.shortNames).toEqual(["appinst"])
    expect(crd.spec.scope).toBe("Namespaced")
    expect(crd.spec.versions[0]!.subresources).toEqual({ status: {} })
    expect(crd.spec.versions[0]!.additionalPrinterColumns.map((c) => [c.name, c.jsonPath])).toEqual([
      ["Ready", '.status.conditions[?(@.type=="Ready")].status'],
      ["Chart", ".spec.chart.name"],
      ["Version", ".spec.chart.version"],
      ["Age", ".metadata.creationTimestamp"]
    ])
  })
})

describe("Operation CRD", () => {
  const schema = schemaOf(OperationCrd)

  it("lists all seven engines and the six types", () => {
    expect(at(schema, "spec.engine").enum).toEqual([
      "velero",
      "workflow",
      "job",
      "helm",
      "volsync",
      "helmHookJob",
      "snapshot"
    ])
    expect(at(schema, "spec.type").enum).toEqual(["Backup", "Restore", "Upgrade", "Migration", "RunCommand", "Runbook"])
    expect(at(schema, "spec").required).toEqual(["targetRef", "type", "engine"])
  })

  it("makes targetRef, type and engine immutable with transition rules", () => {
    for (const [path, message] of [
      ["spec.type", "spec.type is immutable"],
      ["spec.engine", "spec.engine is immutable"],
      ["spec.targetRef.apiVersion", "spec.targetRef.apiVersion is immutable"],
      ["spec.targetRef.kind", "spec.targetRef.kind is immutable"],
      ["spec.targetRef.name", "spec.targetRef.name is immutable"]
    ] as const) {
      expect(rulesAt(schema, path)).toContainEqual({ rule: "self == oldSelf", message })
    }
  })

  it("keeps parameters and outputs free-form", () => {
    expect(at(schema, "spec.parameters")["x-kubernetes-preserve-unknown-fields"]).toBe(true)
    expect(at(schema, "status.outputs")["x-kubernetes-preserve-unknown-fields"]).toBe(true)
    expect(at(schema, "status.phase").enum).toEqual(["Pending", "Running", "Succeeded", "Failed", "Cancelled"])
  })

  it("makes terminal phases final and freezes parameters once started", () => {
    expect(rulesAt(schema, "status.phase").map((r) => r.message)).toEqual([
      "status.phase is final once Succeeded, Failed or Cancelled"
    ])
    expect(schema["x-kubernetes-validations"]?.map((r) => r.message)).toEqual([
      "spec.parameters is immutable once operation has started"
    ])
  })

  it("has the printer columns and short name of the contract", () => {
    const crd = Effect.runSync(crdObject(OperationCrd))
    expect(crd.spec.names.shortNames).toEqual(["op"])
    expect(crd.spec.versions[0]!.additionalPrinterColumns.map((c) => c.name)).toEqual(["Phase", "Type", "Engine", "Age"])
  })
})

describe("Cluster CRD", () => {
  it("is cluster-scoped with Phase and Connected columns and the endpoint pattern", () => {
    const crd = Effect.runSync(crdObject(ClusterCrd))
    expect(crd.spec.scope).toBe("Cluster")
    expect(crd.spec.versions[0]!.additionalPrinterColumns.map((c) => c.name)).toEqual(["Phase", "Connected", "Age"])
    const schema = schemaOf(ClusterCrd)
    expect(at(schema, "spec.controlPlaneEndpoint").pattern).toBe("^https?://")
    expect(at(schema, "spec.registrationTokenSecretRef.key").default).toBe("registrationToken")
    expect(at(schema, "status.lastHeartbeat").format).toBe("date-time")
    expect(schema.required).toBeUndefined()
  })
})

describe("generator", () => {
  it("is deterministic and writes the same CRD into schema/ and the chart", () => {
    const a = Effect.runSync(generateAll)
    const b = Effect.runSync(generateAll)
    expect(a).toEqual(b)
    const byPath = new Map(a.map((f) => [f.path, f.content]))
    for (const info of ownedCrds) {
      const name = `${info.group}_${info.plural}.yaml`
      expect(byPath.get(`schema/crds/${name}`)).toBeDefined()
      expect(byPath.get(`schema/crds/${name}`)).toBe(byPath.get(`charts/vworkspace-operator/crds/${name}`))
    }
    expect([...byPath.keys()].filter((p) => p.startsWith("schema/agent-protocol/")).length).toBeGreaterThan(10)
  })

  it("quotes YAML 1.1 booleans so the API server reads strings", () => {
    const crd = Effect.runSync(generateAll).find((f) => f.path === "schema/crds/ops.vworkspace.io_clusters.yaml")
    expect(crd?.content).toContain('- "True"')
  })

  it("refuses schemas that cannot be structural, with the path", () => {
    const bad = Schema.Struct({ spec: Schema.Struct({ value: Schema.Union(Schema.String, Schema.Number) }) })
    const result = Effect.runSync(Effect.either(toStructuralSchema(bad)))
    expect(Either.isLeft(result)).toBe(true)
    if (Either.isLeft(result)) {
      expect(result.left._tag).toBe("UnsupportedSchema")
      expect(result.left.path).toBe("spec.value")
    }
    const unannotatedFilter = Schema.Struct({ n: Schema.String.pipe(Schema.filter((s) => s.length % 2 === 0)) })
    expect(Either.isLeft(Effect.runSync(Effect.either(toStructuralSchema(unannotatedFilter))))).toBe(true)
  })
})
