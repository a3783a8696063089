import { Either, Schema } from "effect"
import { describe, expect, it } from "vitest"
import { wireJsonSchema } from "../../src/api/crdGen.js"
import { templateParameterSchemas, type TemplateRef } from "../../src/api/operationParameters.js"

const check = (ref: TemplateRef, parameters: unknown): string | undefined => {
  const result = Schema.decodeUnknownEither(templateParameterSchemas[ref] as Schema.Schema<unknown>, {
    onExcessProperty: "error"
  })(parameters)
  return Either.isLeft(result) ? result.left.message : undefined
}

describe("template parameter schemas", () => {
  it("accept the documented parameters of every built-in template", () => {
    expect(check("backup.velero", {})).toBeUndefined()
    expect(check("backup.velero", { retention: "720h", snapshotVolumes: true, includedResources: ["pvc"] })).toBeUndefined()
    expect(check("restore.velero", { backupName: "nightly", namespaceMapping: { a: "b" }, restorePVs: true })).toBeUndefined()
    expect(check("upgrade.helm", { targetVersion: "6.7.0", valuesPatch: { image: { tag: "2" }, replicas: 3 } })).toBeUndefined()
    expect(check("migration.helmHookJob", { hookName: "pre-upgrade", image: "migrate:1", backoffLimit: 0 })).toBeUndefined()
    expect(
      check("runbook.workflow", { workflowTemplate: "rotate", workflowTemplateParameters: { a: "1" }, timeoutSeconds: 60 })
    ).toBeUndefined()
    expect(check("runbook.workflow", { template: "rotate" })).toBeUndefined()
  })

  it("take job env as an array of name/value or name/valueFrom", () => {
    expect(
      check("runCommand.job", {
        image: "busybox",
        env: [
          { name: "A", value: "1" },
          { name: "B", valueFrom: { secretKeyRef: { name: "s", key: "k" } } }
        ]
      })
    ).toBeUndefined()
    expect(check("runCommand.job", { image: "busybox", env: { A: "1" } })).toBeDefined()
    expect(check("runCommand.job", { image: "busybox", env: [{ name: "A", other: 1 }] })).toBeDefined()
  })

  it("reject unknown keys, missing required keys and out-of-range numbers", () => {
    expect(check("backup.velero", { includeNamespaces: ["x"] })).toMatch(/includeNamespaces/)
    expect(check("restore.velero", {})).toMatch(/backupName/)
    expect(check("restore.velero", { backupName: "" })).toBeDefined()
    expect(check("runCommand.job", { command: ["true"] })).toMatch(/image/)
    expect(check("runCommand.job", { image: "busybox", activeDeadlineSeconds: 0 })).toBeDefined()
    expect(check("migration.helmHookJob", { hookName: "h", backoffLimit: 1.5 })).toBeDefined()
    expect(check("runbook.workflow", { timeoutSeconds: 10 })).toBe("parameters.workflowTemplate is required")
  })

  it("publish strict JSON Schemas (additionalProperties: false)", () => {
    for (const [ref, schema] of Object.entries(templateParameterSchemas)) {
      const json = wireJsonSchema(schema, "strict") as { additionalProperties?: unknown }
      expect(json.additionalProperties, ref).toBe(false)
    }
  })
})
