/**
 * The AdmissionReview v1 wire shape (admission.k8s.io/v1), decoded with effect Schema. Only the
 * fields the webhooks read are declared; the rest of the request passes through unread.
 */
import { Schema } from "effect"

export const AdmissionRequest = Schema.Struct({
  uid: Schema.String,
  kind: Schema.Struct({ group: Schema.String, version: Schema.String, kind: Schema.String }),
  operation: Schema.Literal("CREATE", "UPDATE", "DELETE", "CONNECT"),
  subResource: Schema.optional(Schema.String),
  name: Schema.optional(Schema.String),
  namespace: Schema.optional(Schema.String),
  userInfo: Schema.optional(Schema.Struct({ username: Schema.optional(Schema.String) })),
  object: Schema.optional(Schema.NullOr(Schema.Unknown)),
  oldObject: Schema.optional(Schema.NullOr(Schema.Unknown)),
  dryRun: Schema.optional(Schema.Boolean)
})
export type AdmissionRequest = typeof AdmissionRequest.Type

export const AdmissionReviewRequest = Schema.Struct({
  apiVersion: Schema.Literal("admission.k8s.io/v1"),
  kind: Schema.Literal("AdmissionReview"),
  request: AdmissionRequest
})

export type Verdict = { readonly allowed: true } | { readonly allowed: false; readonly message: string }

export const allow: Verdict = { allowed: true }
export const deny = (message: string): Verdict => ({ allowed: false, message })

/** The response body: a denial is HTTP-style 403 Forbidden with the plain message (spec/api.md §7.1). */
export const reviewResponse = (uid: string, verdict: Verdict) => ({
  apiVersion: "admission.k8s.io/v1",
  kind: "AdmissionReview",
  response: verdict.allowed
    ? { uid, allowed: true }
    : { uid, allowed: false, status: { code: 403, reason: "Forbidden", message: verdict.message } }
})
