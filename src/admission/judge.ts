/**
 * What the two validating webhooks decide. The rules themselves live in src/validation (shared
 * with the reconcilers); this module only picks which apply to a request.
 *
 * Never stuck (DESIGN.md item 9): deletes, objects that are being deleted, subresource writes and
 * updates that leave `spec` as it was (labels, annotations, finalizers, status) are allowed
 * without the semantic checks, so no object waits behind its own finalizer.
 */
import { Clock, Context, Effect, Layer, Option, ParseResult, Redacted, Schema } from "effect"
import { isDeepStrictEqual } from "node:util"
import { ApplicationInstance } from "../api/applicationInstance.js"
import { Operation } from "../api/operation.js"
import { OperatorConfig } from "../config.js"
import { KubeApi } from "../kube/KubeApi.js"
import { withKubeRetry } from "../kube/retry.js"
import { Resources } from "../kube/resources.js"
import { validateApplicationInstance } from "../validation/applicationInstance.js"
import { type OperationFacts, operationAdmissionProblem } from "../validation/operationAdmission.js"
import { type AdmissionRequest, allow, deny, type Verdict } from "./review.js"

/** The lookups the Operation webhook needs. */
export class AdmissionLookup extends Context.Tag("vworkspace/AdmissionLookup")<
  AdmissionLookup,
  Pick<OperationFacts<never>, "namespaceAnnotations" | "target">
>() {}

/** A lookup must answer well inside the webhook's timeout: two quick retries at most. */
const lookupRetry = { base: "100 millis", cap: "500 millis", maxRetries: 2 } as const

export const admissionLookupLive = Layer.effect(
  AdmissionLookup,
  Effect.map(KubeApi, (api) => ({
    namespaceAnnotations: (namespace: string) =>
      withKubeRetry(api.get(Resources.Namespace, namespace), lookupRetry).pipe(
        Effect.map((ns) => ns.metadata.annotations),
        Effect.mapError((e) => ({ message: e.message }))
      ),
    target: (namespace: string, name: string) =>
      withKubeRetry(api.get(Resources.ApplicationInstance, name, namespace), lookupRetry).pipe(
        Effect.map(Option.some),
        Effect.catchTag("NotFound", () => Effect.succeed(Option.none())),
        Effect.mapError((e) => ({ message: e.message }))
      )
  }))
)

const Judged = Schema.Struct({
  metadata: Schema.optional(Schema.Struct({ deletionTimestamp: Schema.optional(Schema.NullOr(Schema.String)) })),
  spec: Schema.optional(Schema.Unknown)
})
const decodeJudged = Schema.decodeUnknownOption(Judged)

/** Whether the semantic checks apply to `request` at all (the never-stuck rules above). */
export const needsJudgement = (request: AdmissionRequest): boolean => {
  if (request.operation !== "CREATE" && request.operation !== "UPDATE") return false
  if (request.subResource !== undefined && request.subResource !== "") return false
  const object = decodeJudged(request.object)
  if (Option.isNone(object)) return true
  const deletion = object.value.metadata?.deletionTimestamp
  if (deletion !== undefined && deletion !== null) return false
  if (request.operation === "CREATE") return true
  const old = decodeJudged(request.oldObject)
  return Option.isNone(old) || !isDeepStrictEqual(object.value.spec, old.value.spec)
}

export const WebhookKinds = {
  applicationInstance: { group: Resources.ApplicationInstance.group, kind: Resources.ApplicationInstance.kind },
  operation: { group: Resources.Operation.group, kind: Resources.Operation.kind }
} as const
export type WebhookKind = keyof typeof WebhookKinds

const decodeFailure = (kind: string, error: ParseResult.ParseError) =>
  deny(`decode ${kind}: ${ParseResult.TreeFormatter.formatErrorSync(error)}`)

const judgeApplicationInstance = (object: unknown): Verdict => {
  const ai = Schema.decodeUnknownEither(ApplicationInstance)(object)
  if (ai._tag === "Left") return decodeFailure("ApplicationInstance", ai.left)
  const invalid = validateApplicationInstance(ai.right)
  return invalid === undefined ? allow : deny(invalid.message)
}

const judgeOperation = (object: unknown) =>
  Effect.gen(function* () {
    const op = Schema.decodeUnknownEither(Operation)(object)
    if (op._tag === "Left") return decodeFailure("Operation", op.left)
    const lookup = yield* AdmissionLookup
    const config = yield* OperatorConfig
    const problem = yield* operationAdmissionProblem(op.right, {
      ...lookup,
      claimSecret: Redacted.value(config.approvalClaimSecret),
      nowSeconds: Math.floor((yield* Clock.currentTimeMillis) / 1000)
    })
    return problem === undefined ? allow : deny(problem)
  })

/** The verdict of the `kind` webhook on `request`. */
export const judge = (kind: WebhookKind, request: AdmissionRequest): Effect.Effect<Verdict, never, AdmissionLookup | OperatorConfig> => {
  const expected = WebhookKinds[kind]
  if (request.kind.group !== expected.group || request.kind.kind !== expected.kind) {
    return Effect.succeed(deny(`this webhook judges ${expected.kind}.${expected.group}, not ${request.kind.kind}.${request.kind.group}`))
  }
  if (!needsJudgement(request)) return Effect.succeed(allow)
  return kind === "applicationInstance" ? Effect.succeed(judgeApplicationInstance(request.object)) : judgeOperation(request.object)
}
