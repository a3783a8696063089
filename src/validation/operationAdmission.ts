/**
 * The Operation checks that need the cluster (spec/api.md §7.3.1), composed from the same rule
 * functions the Operation reconciler runs, so admission and reconcile give the same verdicts with
 * the same messages. The lookups come from the caller: the webhook reads the API server, a test
 * passes plain values.
 *
 * Order (first failure wins): the spec with its template and parameter schema → the namespace's
 * allowed types → the target exists → its capability annotation → the approval claim, when one is
 * present. Concurrency is not an admission matter here: a conflicting operation is admitted and
 * waits (DESIGN.md item 6).
 */
import { Effect, Either, Option, Schema } from "effect"
import { ApplicationInstance } from "../api/applicationInstance.js"
import type { Operation } from "../api/operation.js"
import type { KubeObject } from "../kube/object.js"
import { verifyClaim } from "./approvalClaim.js"
import { allowedTypesProblem, capabilityProblem, targetNotFoundMessage, validateOperationSpec } from "./operation.js"

/** A failed lookup, described in words (never a credential). */
export interface LookupFailure {
  readonly message: string
}

export interface OperationFacts<R> {
  /** The annotations of the Operation's namespace. */
  readonly namespaceAnnotations: (namespace: string) => Effect.Effect<Readonly<Record<string, string>> | undefined, LookupFailure, R>
  /** The target ApplicationInstance, if it exists. */
  readonly target: (namespace: string, name: string) => Effect.Effect<Option.Option<KubeObject>, LookupFailure, R>
  /** The HMAC secret of approval claims ("" when the operator has none). */
  readonly claimSecret: string
  readonly nowSeconds: number
}

const decodeTarget = Schema.decodeUnknownEither(ApplicationInstance)

/** The first problem of `op`, or undefined when it may be admitted. */
export const operationAdmissionProblem = <R>(op: Operation, facts: OperationFacts<R>): Effect.Effect<string | undefined, never, R> =>
  Effect.gen(function* () {
    const valid = validateOperationSpec(op)
    if (!valid.ok) return valid.message
    const namespace = op.metadata.namespace ?? ""

    const annotations = yield* Effect.either(facts.namespaceAnnotations(namespace))
    if (Either.isLeft(annotations)) return `get namespace "${namespace}": ${annotations.left.message}`
    const typeProblem = allowedTypesProblem(namespace, annotations.right, op.spec.type)
    if (typeProblem !== undefined) return typeProblem

    const rawTarget = yield* Effect.either(facts.target(namespace, op.spec.targetRef.name))
    if (Either.isLeft(rawTarget)) return `get target ApplicationInstance: ${rawTarget.left.message}`
    if (Option.isNone(rawTarget.right)) return targetNotFoundMessage(op)
    const target = decodeTarget(rawTarget.right.value)
    if (Either.isLeft(target)) return `get target ApplicationInstance: ${target.left.message}`
    const capability = capabilityProblem(target.right, valid.template)
    if (capability !== undefined) return capability

    const claim = op.spec.approvals?.claim?.trim() ?? ""
    if (claim === "") return undefined
    const verified = verifyClaim(facts.claimSecret, claim, { namespace, name: op.metadata.name ?? "" }, facts.nowSeconds)
    return Either.isLeft(verified) ? `spec.approvals.claim: ${verified.left}` : undefined
  })
