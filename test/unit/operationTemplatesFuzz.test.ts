/**
 * Seeded fuzzing of every template's parameter validation: well-formed parameters are admitted,
 * the same with an unknown key are rejected naming it, and arbitrary JSON is admitted or rejected
 * with a message. Nothing throws.
 */
import { Arbitrary, Either, FastCheck as fc } from "effect"
import { describe, expect, it } from "vitest"
import { builtinTemplates, validateParameters } from "../../src/engines/templates/index.js"

const runs = 1200
const seed = 20261202

type Case =
  | { readonly kind: "valid"; readonly value: unknown }
  | { readonly kind: "extraKey"; readonly value: Record<string, unknown>; readonly key: string }
  | { readonly kind: "anything"; readonly value: unknown }

describe("template parameter fuzzing", () => {
  for (const template of builtinTemplates) {
    it(`${template.ref}: ${runs} generated parameter objects, admitted or rejected with a message`, () => {
      const valid = Arbitrary.make(template.parameters)
      const cases: fc.Arbitrary<Case> = fc.oneof(
        valid.map((value): Case => ({ kind: "valid", value })),
        fc
          .tuple(valid, fc.stringMatching(/^[a-z][a-zA-Z]{0,12}$/), fc.jsonValue())
          .map(([value, key, extra]): Case => {
            const k = `x${key}`
            return { kind: "extraKey", value: { ...(value as Record<string, unknown>), [k]: extra }, key: k }
          }),
        fc.jsonValue().map((value): Case => ({ kind: "anything", value })),
        fc.dictionary(fc.constantFrom("image", "hookName", "backupName", "template", "env", "timeoutSeconds", "sourcePVC", "repository"), fc.jsonValue()).map(
          (value): Case => ({ kind: "anything", value })
        )
      )
      const tally = { admitted: 0, rejected: 0 }
      fc.assert(
        fc.property(cases, (c) => {
          const result = validateParameters(template, c.value)
          if (Either.isLeft(result)) {
            tally.rejected++
            expect(result.left).toMatch(new RegExp(`^parameters invalid for template ${template.ref.replace(".", "\\.")}: .+`))
          } else tally.admitted++
          if (c.kind === "valid") expect(Either.isRight(result)).toBe(true)
          if (c.kind === "extraKey") {
            expect(Either.isLeft(result)).toBe(true)
            if (Either.isLeft(result)) expect(result.left).toContain(c.key)
          }
        }),
        { numRuns: runs, seed }
      )
      expect(tally.admitted + tally.rejected).toBe(runs)
      expect(tally.admitted).toBeGreaterThan(0)
      expect(tally.rejected).toBeGreaterThan(0)
    }, 120_000)
  }
})
