/**
 * `vws1` approval claims (spec/operations.md §5.4), byte-exact: `vws1.<body>.<digest>` where
 * `body` is unpadded base64url of the JSON payload and `digest` the lower-case hex HMAC-SHA256 of
 * the body text under the trimmed shared secret. Verification order and error texts are the
 * original's. Shared by the Operation reconciler and the admission webhook.
 *
 * Binding: the payload's `op` must name the Operation. This implementation also binds the
 * namespace: a payload that carries `ns` must name the Operation's namespace. Claims without `ns`
 * (as the original control plane issues them) bind the name only.
 */
import { Either, ParseResult, Schema } from "effect"
import { createHmac, timingSafeEqual } from "node:crypto"

export const claimPrefix = "vws1"

export const ClaimPayload = Schema.Struct({
  v: Schema.optionalWith(Schema.Int, { default: () => 0 }),
  rid: Schema.optionalWith(Schema.Int, { default: () => 0 }),
  op: Schema.optionalWith(Schema.String, { default: () => "" }),
  ns: Schema.optional(Schema.String),
  by: Schema.optionalWith(Schema.String, { default: () => "" }),
  at: Schema.optionalWith(Schema.String, { default: () => "" }),
  exp: Schema.optionalWith(Schema.Int, { default: () => 0 })
})
export type ClaimPayload = typeof ClaimPayload.Type

export interface ClaimSubject {
  readonly namespace: string
  readonly name: string
}

const digestOf = (secret: string, body: string): string =>
  createHmac("sha256", secret.trim()).update(body, "utf8").digest("hex")

/** Unpadded base64url as Go's RawURLEncoding accepts it (no padding, no other alphabet). */
const decodeBase64Url = (text: string): Either.Either<string, string> => {
  const bad = text.search(/[^A-Za-z0-9_-]/)
  if (bad >= 0) return Either.left(`illegal base64 data at input byte ${bad}`)
  if (text.length % 4 === 1) return Either.left(`illegal base64 data at input byte ${text.length - 1}`)
  return Either.right(Buffer.from(text, "base64url").toString("utf8"))
}

const decodePayload = Schema.decodeUnknownEither(Schema.parseJson(ClaimPayload))

/**
 * Verifies a claim for `subject` at `nowSeconds` (Unix seconds). Left: the error text of §5.4.
 */
export const verifyClaim = (
  secret: string,
  claim: string,
  subject: ClaimSubject,
  nowSeconds: number
): Either.Either<ClaimPayload, string> => {
  if (secret.trim() === "") return Either.left("approval claim verification requires a configured secret")
  if (claim.trim() === "") return Either.left("approval claim is empty")
  const parts = claim.trim().split(".")
  if (parts.length !== 3) return Either.left("malformed approval claim")
  const [prefix, body, digest] = parts as [string, string, string]
  if (prefix !== claimPrefix) return Either.left(`unsupported approval claim prefix ${JSON.stringify(prefix)}`)
  const expected = Buffer.from(digestOf(secret, body), "utf8")
  const presented = Buffer.from(digest, "utf8")
  if (expected.length !== presented.length || !timingSafeEqual(expected, presented)) {
    return Either.left("approval claim signature mismatch")
  }
  const json = decodeBase64Url(body)
  if (Either.isLeft(json)) return Either.left(`decode approval claim payload: ${json.left}`)
  const payload = decodePayload(json.right)
  if (Either.isLeft(payload)) {
    return Either.left(`parse approval claim payload: ${ParseResult.TreeFormatter.formatErrorSync(payload.left)}`)
  }
  const p = payload.right
  if (p.v !== 1) return Either.left(`unsupported approval claim version ${p.v}`)
  if (p.op.trim() !== subject.name.trim()) {
    return Either.left(`approval claim operation ${JSON.stringify(p.op)} does not match ${JSON.stringify(subject.name)}`)
  }
  if (p.ns !== undefined && p.ns.trim() !== subject.namespace.trim()) {
    return Either.left(`approval claim namespace ${JSON.stringify(p.ns)} does not match ${JSON.stringify(subject.namespace)}`)
  }
  if (nowSeconds > p.exp) return Either.left("approval claim expired")
  return Either.right(p)
}

/** JSON with sorted keys and no whitespace, as Python's `json.dumps(sort_keys=True, separators=(",",":"))`. */
const canonicalJson = (payload: Readonly<Record<string, string | number>>): string =>
  `{${Object.keys(payload)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${JSON.stringify(payload[k])}`)
    .join(",")}}`

/**
 * Issues a claim the way the control plane does (the original's `Issue`): for tests and for
 * tooling that approves operations.
 */
export const issueClaim = (
  secret: string,
  payload: { readonly op: string; readonly ns?: string; readonly by: string; readonly at: string; readonly exp: number; readonly rid: number; readonly v?: number }
): string => {
  const { ns, v, ...rest } = payload
  const body = Buffer.from(canonicalJson({ ...rest, v: v ?? 1, ...(ns === undefined ? {} : { ns }) }), "utf8").toString(
    "base64url"
  )
  return `${claimPrefix}.${body}.${digestOf(secret, body)}`
}

export interface ApprovalInput {
  readonly required: boolean
  readonly claim: string | undefined
  readonly secret: string
  readonly subject: ClaimSubject
  readonly nowSeconds: number
}

/**
 * Why an operation that needs approval may not start yet (spec/operations.md §5.3), or undefined
 * when it may. The reconciler asks only while the operation has not started.
 */
export const approvalBlockReason = (input: ApprovalInput): string | undefined => {
  if (!input.required) return undefined
  const claim = input.claim?.trim() ?? ""
  if (claim === "") return "approval claim required"
  if (input.secret.trim() === "") return "approval claim present but operator approval-claim-secret is not configured"
  const verified = verifyClaim(input.secret, claim, input.subject, input.nowSeconds)
  return Either.isLeft(verified) ? `invalid approval claim: ${verified.left}` : undefined
}
