import { Either } from "effect"
import { describe, expect, it } from "vitest"
import { matchesLabels, parseLabelSelector } from "../../src/kube/labelSelector.js"

const parse = (s: string) => Either.getOrThrow(parseLabelSelector(s))

describe("label selectors", () => {
  it("matches equality, inequality, existence and absence", () => {
    const sel = parse("managed-by=vworkspace, tier!=legacy, team, !frozen")
    expect(matchesLabels(sel, { "managed-by": "vworkspace", team: "a" })).toBe(true)
    expect(matchesLabels(sel, { "managed-by": "vworkspace", team: "a", tier: "legacy" })).toBe(false)
    expect(matchesLabels(sel, { "managed-by": "vworkspace" })).toBe(false)
    expect(matchesLabels(sel, { "managed-by": "vworkspace", team: "a", frozen: "x" })).toBe(false)
    expect(matchesLabels(sel, undefined)).toBe(false)
  })

  it("accepts == and prefixed keys", () => {
    expect(matchesLabels(parse("app.vworkspace.io/managed-by==control-plane"), { "app.vworkspace.io/managed-by": "control-plane" })).toBe(true)
  })

  it("the empty selector matches everything", () => {
    expect(matchesLabels(parse(""), undefined)).toBe(true)
  })

  it("rejects malformed selectors with a typed error", () => {
    for (const bad of ["a=b=c", "bad key=1", "!a=b", "a=not valid"]) {
      const r = parseLabelSelector(bad)
      expect(Either.isLeft(r), bad).toBe(true)
      if (Either.isLeft(r)) expect(r.left._tag).toBe("InvalidLabelSelector")
    }
  })
})
