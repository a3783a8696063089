import { Either } from "effect"
import { createHmac } from "node:crypto"
import { describe, expect, it } from "vitest"
import { approvalBlockReason, issueClaim, verifyClaim } from "../../src/validation/approvalClaim.js"

const secret = "s3cret"
const subject = { namespace: "shop", name: "restore-1" }
const now = 1_800_000_000
/** Issued by Python's json.dumps(sort_keys=True, separators=(",",":")) + base64url + HMAC-SHA256: the control plane's way. */
const pythonVector =
  "vws1.eyJhdCI6IjIwMjYtMTItMDFUMTA6MDA6MDBaIiwiYnkiOiJhbGljZUBleGFtcGxlLnRlc3QiLCJleHAiOjE5MDAwMDAwMDAsIm9wIjoicmVzdG9yZS0xIiwicmlkIjo0MiwidiI6MX0.b812db0553aebe126040f182ef86ffbc3055b8842a7ba8d1483263dbde2d8953"
const payload = { op: "restore-1", by: "alice@example.test", at: "2026-12-01T10:00:00Z", exp: 1_900_000_000, rid: 42 }

const error = (claim: string, s = secret, sub = subject, at = now) => {
  const r = verifyClaim(s, claim, sub, at)
  return Either.isLeft(r) ? r.left : undefined
}

describe("vws1 approval claims", () => {
  it("verifies a claim issued the control plane's way, byte for byte", () => {
    expect(issueClaim(secret, payload)).toBe(pythonVector)
    expect(Either.getOrThrow(verifyClaim(secret, pythonVector, subject, now))).toMatchObject({ op: "restore-1", rid: 42, v: 1 })
    // The secret is trimmed, as the operator flag is.
    expect(error(pythonVector, `  ${secret}\n`)).toBeUndefined()
  })

  it("refuses in the original's order with the original's messages", () => {
    expect(error(pythonVector, "  ")).toBe("approval claim verification requires a configured secret")
    expect(error("  ")).toBe("approval claim is empty")
    expect(error("vws1.abc")).toBe("malformed approval claim")
    expect(error("vws2.abc.def")).toBe('unsupported approval claim prefix "vws2"')
    expect(error(pythonVector, "other-secret")).toBe("approval claim signature mismatch")
    expect(error(pythonVector.toUpperCase().replace("VWS1", "vws1"))).toBe("approval claim signature mismatch")
    const [, body, digest] = pythonVector.split(".")
    expect(error(`vws1.${body}.${digest!.toUpperCase()}`)).toBe("approval claim signature mismatch")
    expect(error(pythonVector, secret, { namespace: "shop", name: "restore-2" })).toBe(
      'approval claim operation "restore-1" does not match "restore-2"'
    )
    expect(error(pythonVector, secret, subject, 1_900_000_001)).toBe("approval claim expired")
    expect(error(pythonVector, secret, subject, 1_900_000_000)).toBeUndefined()
    expect(error(issueClaim(secret, { ...payload, v: 2 }))).toBe("unsupported approval claim version 2")
  })

  it("rejects undecodable bodies with a signature that matches", () => {
    const signed = (body: string) => `vws1.${body}.${createHmac("sha256", secret).update(body).digest("hex")}`
    expect(error(signed("not*base64"))).toMatch(/^decode approval claim payload: illegal base64 data at input byte 3$/)
    expect(error(signed(Buffer.from("[1,2]").toString("base64url")))).toMatch(/^parse approval claim payload: /)
    expect(error(signed(Buffer.from('{"v":1,"op":7}').toString("base64url")))).toMatch(/^parse approval claim payload: /)
  })

  it("binds the namespace when the claim names one", () => {
    const bound = issueClaim(secret, { ...payload, ns: "shop" })
    expect(error(bound)).toBeUndefined()
    expect(error(bound, secret, { namespace: "staging", name: "restore-1" })).toBe(
      'approval claim namespace "shop" does not match "staging"'
    )
  })

  it("blocks an operation that needs approval until a valid claim is present", () => {
    const base = { required: true, secret, subject, nowSeconds: now }
    expect(approvalBlockReason({ ...base, required: false, claim: undefined })).toBeUndefined()
    expect(approvalBlockReason({ ...base, claim: undefined })).toBe("approval claim required")
    expect(approvalBlockReason({ ...base, claim: pythonVector, secret: "" })).toBe(
      "approval claim present but operator approval-claim-secret is not configured"
    )
    expect(approvalBlockReason({ ...base, claim: pythonVector, subject: { namespace: "shop", name: "x" } })).toBe(
      'invalid approval claim: approval claim operation "restore-1" does not match "x"'
    )
    expect(approvalBlockReason({ ...base, claim: pythonVector })).toBeUndefined()
  })
})
