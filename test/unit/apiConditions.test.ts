import { Schema } from "effect"
import { describe, expect, it } from "vitest"
import {
  AppConditionType,
  AppReason,
  ClusterReason,
  findCondition,
  formatConditionTime,
  isFalse,
  isTrue,
  OperationReason,
  removeCondition,
  setCondition,
  setConditions
} from "../../src/api/conditions.js"
import { Condition, Conditions } from "../../src/api/meta.js"

const t0 = new Date("2026-05-28T10:00:15.123Z")
const t1 = new Date("2026-05-28T10:05:00.999Z")

const ready = (status: "True" | "False" | "Unknown", reason: string, message = "", observedGeneration?: number) => ({
  type: AppConditionType.Ready,
  status,
  reason,
  message,
  ...(observedGeneration === undefined ? {} : { observedGeneration })
})

describe("formatConditionTime", () => {
  it("renders RFC 3339 in UTC with second precision, like metav1.Time", () => {
    expect(formatConditionTime(t0)).toBe("2026-05-28T10:00:15Z")
  })
})

describe("setCondition", () => {
  it("appends a new type with lastTransitionTime = now", () => {
    const result = setCondition(undefined, ready("True", "Placeholder", "ok", 2), t0)
    expect(result).toEqual([
      {
        type: "Ready",
        status: "True",
        observedGeneration: 2,
        lastTransitionTime: "2026-05-28T10:00:15Z",
        reason: "Placeholder",
        message: "ok"
      }
    ])
  })

  it("omits observedGeneration when the caller gives none", () => {
    const [c] = setCondition([], ready("True", "Placeholder"), t0)
    expect(c).toBeDefined()
    expect("observedGeneration" in c!).toBe(false)
  })

  it("returns the very same array when nothing changes, so the caller can skip the write", () => {
    const first = setCondition([], ready("True", "Placeholder", "ok", 1), t0)
    const second = setCondition(first, ready("True", "Placeholder", "ok", 1), t1)
    expect(second).toBe(first)
  })

  it("keeps lastTransitionTime when only the reason or message changes", () => {
    const first = setCondition([], ready("Unknown", "Reconciling", "waiting"), t0)
    const second = setCondition(first, ready("Unknown", "HelmReleaseInstalling", "installing"), t1)
    expect(second).not.toBe(first)
    expect(second[0]).toMatchObject({
      status: "Unknown",
      reason: "HelmReleaseInstalling",
      message: "installing",
      lastTransitionTime: "2026-05-28T10:00:15Z"
    })
  })

  it("keeps lastTransitionTime when only observedGeneration changes", () => {
    const first = setCondition([], ready("True", "HelmReleaseReady", "", 1), t0)
    const second = setCondition(first, ready("True", "HelmReleaseReady", "", 2), t1)
    expect(second[0]).toMatchObject({ observedGeneration: 2, lastTransitionTime: "2026-05-28T10:00:15Z" })
  })

  it("moves lastTransitionTime when the status changes", () => {
    const first = setCondition([], ready("Unknown", "Reconciling"), t0)
    const second = setCondition(first, ready("True", "HelmReleaseReady"), t1)
    expect(second[0]).toMatchObject({ status: "True", lastTransitionTime: "2026-05-28T10:05:00Z" })
  })

  it("keeps the order of first insertion and leaves other conditions untouched", () => {
    let conditions = setCondition([], ready("Unknown", "Reconciling"), t0)
    conditions = setCondition(
      conditions,
      { type: "Blocked", status: "False", reason: AppReason.Unblocked, message: "Reconciliation can proceed" },
      t0
    )
    const blockedBefore = conditions[1]
    conditions = setCondition(conditions, ready("True", "HelmReleaseReady"), t1)
    expect(conditions.map((c) => c.type)).toEqual(["Ready", "Blocked"])
    expect(conditions[1]).toBe(blockedBefore)
  })

  it("does not mutate its input", () => {
    const first = setCondition([], ready("Unknown", "Reconciling"), t0)
    const snapshot = JSON.stringify(first)
    setCondition(first, ready("False", "HelmReleaseFailed", "boom"), t1)
    expect(JSON.stringify(first)).toBe(snapshot)
  })

  it("produces conditions the CRD schema accepts", () => {
    const conditions = setConditions(
      [],
      [ready("True", AppReason.HelmReleaseReady, "Release reconciliation succeeded", 4)],
      t0
    )
    expect(() => Schema.decodeUnknownSync(Conditions)(conditions)).not.toThrow()
  })
})

describe("setConditions", () => {
  it("applies updates in order and returns the input when none changes anything", () => {
    const updates = [
      ready("True", "Placeholder"),
      { type: "Blocked", status: "False" as const, reason: "Unblocked", message: "Reconciliation can proceed" }
    ]
    const once = setConditions(undefined, updates, t0)
    expect(once.map((c) => `${c.type}=${c.status}`)).toEqual(["Ready=True", "Blocked=False"])
    expect(setConditions(once, updates, t1)).toBe(once)
  })
})

describe("lookups", () => {
  const conditions = setConditions(
    [],
    [ready("True", "Placeholder"), { type: "Blocked", status: "False", reason: "Unblocked", message: "" }],
    t0
  )

  it("findCondition finds by type", () => {
    expect(findCondition(conditions, "Blocked")?.reason).toBe("Unblocked")
    expect(findCondition(conditions, "Deleting")).toBeUndefined()
    expect(findCondition(undefined, "Ready")).toBeUndefined()
  })

  it("isTrue counts a missing condition as not true", () => {
    expect(isTrue(conditions, "Ready")).toBe(true)
    expect(isTrue(conditions, "Blocked")).toBe(false)
    expect(isTrue(conditions, "Deleting")).toBe(false)
    expect(isTrue(undefined, "Ready")).toBe(false)
  })

  it("isFalse needs the condition to exist with status False", () => {
    expect(isFalse(conditions, "Blocked")).toBe(true)
    expect(isFalse(conditions, "Deleting")).toBe(false)
  })

  it("removeCondition drops one type and returns the input when absent", () => {
    expect(removeCondition(conditions, "Blocked").map((c) => c.type)).toEqual(["Ready"])
    expect(removeCondition(conditions, "Deleting")).toBe(conditions)
  })
})

describe("reason vocabulary", () => {
  it("every reason constant is a valid metav1.Condition reason and equals its key", () => {
    for (const table of [AppReason, OperationReason, ClusterReason]) {
      for (const [key, value] of Object.entries(table)) {
        expect(value).toBe(key)
        expect(() =>
          Schema.decodeUnknownSync(Condition)({
            type: "Ready",
            status: "True",
            reason: value,
            message: "",
            lastTransitionTime: "2026-01-01T00:00:00Z"
          })
        ).not.toThrow()
      }
    }
  })

  it("keeps the contract's byte-exact spellings", () => {
    expect(ClusterReason.RoundTripOK).toBe("RoundTripOK")
    expect(OperationReason.AdmissionPassed).toBe("AdmissionPassed")
    expect(AppReason.HelmReleaseInstalling).toBe("HelmReleaseInstalling")
  })

  it("the Condition schema rejects a reason with spaces and an unknown status", () => {
    const base = { type: "Ready", status: "True", reason: "Ok", message: "", lastTransitionTime: "2026-01-01T00:00:00Z" }
    expect(() => Schema.decodeUnknownSync(Condition)({ ...base, reason: "not camel case" })).toThrow()
    expect(() => Schema.decodeUnknownSync(Condition)({ ...base, status: "Maybe" })).toThrow()
    expect(() => Schema.decodeUnknownSync(Condition)({ ...base, reason: "" })).toThrow()
  })
})
