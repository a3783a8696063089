import { Either } from "effect"
import { describe, expect, it } from "vitest"
import { templateParametersJsonSchema } from "../../src/api/crdGen.js"
import { builtinTemplates, findTemplate, noTemplateMessage, validateParameters } from "../../src/engines/templates/index.js"

const check = (ref: string, parameters: unknown): string | undefined => {
  const t = builtinTemplates.find((x) => x.ref === ref)
  if (t === undefined) throw new Error(`no template ${ref}`)
  const result = validateParameters(t, parameters)
  return Either.isLeft(result) ? result.left : undefined
}

describe("template registry", () => {
  it("has the eleven built-in type.engine pairs with their capability and approval", () => {
    expect(builtinTemplates.map((t) => t.ref)).toEqual([
      "backup.velero",
      "restore.velero",
      "upgrade.helm",
      "migration.helmHookJob",
      "migration.workflow",
      "runCommand.job",
      "runbook.workflow",
      "backup.volsync",
      "restore.volsync",
      "backup.snapshot",
      "restore.snapshot"
    ])
    expect(findTemplate("RunCommand", "job")).toMatchObject({ capabilityAnnotation: "ops.vworkspace.io/runcommand", requiresApproval: false })
    expect(findTemplate("Migration", "helmHookJob")?.capabilityAnnotation).toBe("ops.vworkspace.io/migration")
    expect(builtinTemplates.filter((t) => t.requiresApproval).map((t) => t.ref)).toEqual([
      "restore.velero",
      "restore.volsync",
      "restore.snapshot"
    ])
    expect(findTemplate("Backup", "job")).toBeUndefined()
    expect(noTemplateMessage("Backup", "job")).toBe(
      'no built-in operation template for type "Backup" and engine "job" (expected refs such as backup.velero, restore.velero, upgrade.helm, migration.helmHookJob, migration.workflow, runCommand.job, runbook.workflow, backup.volsync, restore.volsync, backup.snapshot, restore.snapshot)'
    )
  })
})

describe("template parameter schemas", () => {
  it("accept the documented parameters of every built-in template", () => {
    expect(check("backup.velero", {})).toBeUndefined()
    expect(check("backup.velero", { retention: "720h", snapshotVolumes: true, includedResources: ["pvc"] })).toBeUndefined()
    expect(check("restore.velero", { backupName: "nightly", namespaceMapping: { a: "b" }, restorePVs: true })).toBeUndefined()
    expect(check("upgrade.helm", { targetVersion: "6.7.0", valuesPatch: { image: { tag: "2" }, replicas: 3 } })).toBeUndefined()
    expect(check("migration.helmHookJob", { hookName: "pre-upgrade", image: "migrate:1", backoffLimit: 0 })).toBeUndefined()
    expect(check("runbook.workflow", { workflowTemplate: "rotate", arguments: { a: "1" }, timeoutSeconds: 60 })).toBeUndefined()
    expect(check("migration.workflow", { template: "migrate", targetChartVersion: "2.0.0" })).toBeUndefined()
    expect(check("backup.volsync", { sourcePVC: "data", repository: "restic-config", copyMethod: "Snapshot" })).toBeUndefined()
    expect(check("restore.volsync", { repository: "restic-config", destinationPVC: "data", previous: 1 })).toBeUndefined()
    expect(check("backup.snapshot", { persistentVolumeClaimNames: ["data"], volumeSnapshotClassName: "csi" })).toBeUndefined()
    expect(check("restore.snapshot", { volumeSnapshotName: "snap", persistentVolumeClaimName: "data-restored" })).toBeUndefined()
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
    expect(check("runCommand.job", { image: "busybox", env: { A: "1" } })).toMatch(/^parameters invalid for template runCommand.job: env: /)
    expect(check("runCommand.job", { image: "busybox", env: [{ name: "A", other: 1 }] })).toMatch(/env\.0\.other: is unexpected/)
  })

  it("reject unknown keys, missing required keys, bad service accounts and out-of-range numbers, naming the field", () => {
    expect(check("backup.velero", { includeNamespaces: ["x"] })).toBe(
      'parameters invalid for template backup.velero: includeNamespaces: is unexpected, expected: "retention" | "ttl" | "snapshotClassName" | "csiSnapshotClassName" | "snapshotVolumes" | "storageLocation" | "includedResources" | "excludedResources" | "timeoutSeconds"'
    )
    expect(check("restore.velero", {})).toBe("parameters invalid for template restore.velero: backupName: is missing")
    expect(check("restore.velero", { backupName: "" })).toMatch(/backupName: /)
    expect(check("runCommand.job", { command: ["true"] })).toBe("parameters invalid for template runCommand.job: image: is missing")
    expect(check("runCommand.job", { image: "busybox", activeDeadlineSeconds: 0 })).toMatch(/activeDeadlineSeconds/)
    expect(check("runCommand.job", { image: "busybox", serviceAccountName: "admin" })).toBe(
      'parameters invalid for template runCommand.job: serviceAccountName: parameters.serviceAccountName must be "vworkspace-operation-runner" or omitted'
    )
    expect(check("migration.helmHookJob", { hookName: "h", image: "x", backoffLimit: 1.5 })).toMatch(/backoffLimit/)
    expect(check("migration.helmHookJob", { hookName: "h" })).toBe("parameters invalid for template migration.helmHookJob: image: is missing")
    expect(check("runbook.workflow", { timeoutSeconds: 10 })).toBe(
      "parameters invalid for template runbook.workflow: parameters.workflowTemplate is required"
    )
    expect(check("backup.snapshot", { persistentVolumeClaimNames: [] })).toMatch(/persistentVolumeClaimNames/)
  })

  it("treat absent parameters as {}", () => {
    expect(check("backup.velero", undefined)).toBeUndefined()
    expect(check("runCommand.job", undefined)).toBe("parameters invalid for template runCommand.job: image: is missing")
  })

  it("publish strict Draft 2020-12 JSON Schemas", () => {
    for (const t of builtinTemplates) {
      const json = templateParametersJsonSchema(t.ref, t.parameters) as Record<string, unknown>
      expect(json["$schema"], t.ref).toBe("https://json-schema.org/draft/2020-12/schema")
      expect(json["additionalProperties"], t.ref).toBe(false)
      expect(json["type"], t.ref).toBe("object")
    }
  })
})
