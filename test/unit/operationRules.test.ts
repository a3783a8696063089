import { describe, expect, it } from "vitest"
import type { Operation, OperationPhase, OperationType } from "../../src/api/operation.js"
import { allowedTypesProblem, conflicts, findConflict, validateOperationSpec } from "../../src/validation/operation.js"

const types: ReadonlyArray<OperationType> = ["Backup", "Restore", "Upgrade", "Migration", "RunCommand", "Runbook"]

const op = (
  name: string,
  type: OperationType,
  created: string,
  options: { readonly phase?: OperationPhase; readonly target?: string } = {}
): Operation => ({
  apiVersion: "ops.vworkspace.io/v1alpha1",
  kind: "Operation",
  metadata: { name, namespace: "shop", creationTimestamp: created, uid: `uid-${name}` },
  spec: {
    targetRef: { apiVersion: "apps.vworkspace.io/v1alpha1", kind: "ApplicationInstance", name: options.target ?? "app" },
    type,
    engine: "job"
  },
  ...(options.phase === undefined ? {} : { status: { phase: options.phase } })
})

describe("concurrency matrix (spec/api.md §7.3.3)", () => {
  it("conflicts exactly for Backup↔Restore, Restore after Upgrade, Upgrade↔Upgrade", () => {
    const matrix = Object.fromEntries(types.map((incoming) => [incoming, types.filter((existing) => conflicts(existing, incoming))]))
    expect(matrix).toEqual({
      Backup: ["Restore"],
      Restore: ["Backup", "Upgrade"],
      Upgrade: ["Upgrade"],
      Migration: [],
      RunCommand: [],
      Runbook: []
    })
  })

  it("only an earlier, unfinished operation on the same target blocks a later one", () => {
    const backup = op("backup", "Backup", "2026-12-01T10:00:00Z", { phase: "Running" })
    const restore = op("restore", "Restore", "2026-12-01T10:00:05Z")
    expect(findConflict(restore, [backup, restore])?.metadata.name).toBe("backup")
    // The earlier one never waits for the later one: no deadlock.
    expect(findConflict(backup, [backup, restore])).toBeUndefined()
    // Not started yet still counts (it would start first).
    expect(findConflict(restore, [op("backup", "Backup", "2026-12-01T10:00:00Z")])?.metadata.name).toBe("backup")
    for (const phase of ["Succeeded", "Failed", "Cancelled"] as const) {
      expect(findConflict(restore, [op("backup", "Backup", "2026-12-01T10:00:00Z", { phase })])).toBeUndefined()
    }
    expect(findConflict(restore, [op("backup", "Backup", "2026-12-01T10:00:00Z", { target: "other" })])).toBeUndefined()
  })

  it("breaks creation-time ties by name and reports the earliest blocker", () => {
    const a = op("a-upgrade", "Upgrade", "2026-12-01T10:00:00Z")
    const b = op("b-upgrade", "Upgrade", "2026-12-01T10:00:00Z")
    expect(findConflict(b, [a, b])?.metadata.name).toBe("a-upgrade")
    expect(findConflict(a, [a, b])).toBeUndefined()
    const first = op("first", "Backup", "2026-12-01T09:00:00Z")
    const second = op("second", "Backup", "2026-12-01T09:30:00Z")
    const restore = op("restore", "Restore", "2026-12-01T10:00:00Z")
    expect(findConflict(restore, [second, first, restore])?.metadata.name).toBe("first")
  })
})

describe("namespace allowed-types", () => {
  it("allows everything without the annotation and only the listed types with it", () => {
    expect(allowedTypesProblem("shop", undefined, "Restore")).toBeUndefined()
    expect(allowedTypesProblem("shop", { "ops.vworkspace.io/allowed-types": " " }, "Restore")).toBeUndefined()
    expect(allowedTypesProblem("shop", { "ops.vworkspace.io/allowed-types": "Backup, RunCommand" }, "RunCommand")).toBeUndefined()
    expect(allowedTypesProblem("shop", { "ops.vworkspace.io/allowed-types": "Backup, RunCommand" }, "Restore")).toBe(
      'operation type "Restore" not allowed in namespace "shop" (annotation ops.vworkspace.io/allowed-types)'
    )
  })
})

describe("Operation spec validation", () => {
  it("names the first problem", () => {
    const base = op("x", "RunCommand", "2026-12-01T10:00:00Z")
    const withSpec = (spec: Partial<Operation["spec"]>): Operation => ({ ...base, spec: { ...base.spec, ...spec } })
    const message = (o: Operation) => {
      const r = validateOperationSpec(o)
      return r.ok ? undefined : r.message
    }
    expect(message(withSpec({ targetRef: { ...base.spec.targetRef, apiVersion: "v1" } }))).toBe(
      "spec.targetRef.apiVersion must be apps.vworkspace.io/v1alpha1"
    )
    expect(message(withSpec({ targetRef: { ...base.spec.targetRef, kind: "Pod" } }))).toBe("spec.targetRef.kind must be ApplicationInstance")
    expect(message(withSpec({ targetRef: { ...base.spec.targetRef, name: " " } }))).toBe("spec.targetRef.name is required")
    expect(message(withSpec({ engine: "velero" }))).toMatch(/^no built-in operation template for type "RunCommand" and engine "velero"/)
    expect(message(base)).toBe("parameters invalid for template runCommand.job: image: is missing")
    expect(message(withSpec({ parameters: { image: "busybox" } }))).toBeUndefined()
  })
})
