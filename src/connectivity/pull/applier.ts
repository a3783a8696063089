/**
 * What a job does to the cluster (spec/connectivity.md §3, DESIGN.md item 7): `apply` of a
 * manifest, `delete`, or one of the intents. Every write is server-side apply under field manager
 * `vworkspace-agent` with the forced labels; the target namespace is created (labelled
 * `managed-by=vworkspace`) when missing. Kinds outside the allow-list are refused before any
 * write. Field-manager conflicts are reported as `conflict`, not forced over: the agent does not
 * take fields another manager owns (see docs/connectivity/pull-mode.md).
 */
import { Duration, Effect, Either, ParseResult, Schema } from "effect"
import {
  type AppliedRef,
  appliedRefOf,
  DeletePayload,
  DeleteApplicationInstanceIntent,
  EnsureApplicationInstanceIntent,
  IntentHeader,
  type JobOutcome,
  RequestOperationIntent,
  type StatusUpdate
} from "../../api/agentProtocol.js"
import { ApplicationInstance } from "../../api/applicationInstance.js"
import { Operation } from "../../api/operation.js"
import { FieldManagers, Labels, ManagedBy, NamespaceGate } from "../../api/wellKnown.js"
import type { KubeError } from "../../kube/errors.js"
import { KubeApi } from "../../kube/KubeApi.js"
import { apiVersionOf, type KubeObject, type ResourceType } from "../../kube/object.js"
import { Resources } from "../../kube/resources.js"
import { withKubeRetry } from "../../kube/retry.js"
import { describeAllowed, lookupKind } from "./allowList.js"
import { needsWait, waitForReadiness } from "./readiness.js"

export interface Outcome {
  readonly outcome: JobOutcome
  readonly error?: string
  readonly appliedRef?: AppliedRef
}

export interface ApplierContext {
  readonly clusterId: string
  readonly allowedKinds: ReadonlyArray<ResourceType>
  readonly readinessTimeout: Duration.DurationInput
  /** Posts an interim status (best effort; never fails the job). */
  readonly progress: (update: Omit<StatusUpdate, "timestamp">) => Effect.Effect<void>
  /** `rotate-operator-credentials`: rotate and persist; fails with a message. */
  readonly rotateCredentials: Effect.Effect<void, string>
  /**
   * Namespaces the agent found or created (shared by its jobs): a job into one of them needs no
   * GET first. An apply answered NotFound forgets them and checks again once.
   */
  readonly knownNamespaces: Set<string>
  /** Before a write into a target namespace: the operator's rights there (src/reconcilers/namespaceAccess.ts). */
  readonly grantNamespaceAccess: (namespace: string) => Effect.Effect<void, string, KubeApi>
  /**
   * Runs a job's writes under the agent's concurrency bound. Readiness waits run outside it, so
   * instances waiting to become Ready do not hold back other jobs.
   */
  readonly writing: <A, R>(writes: Effect.Effect<A, never, R>) => Effect.Effect<A, never, R>
}

const failed = (error: string): Outcome => ({ outcome: "failed", error })

const formatParseError = (e: ParseResult.ParseError) => ParseResult.TreeFormatter.formatErrorSync(e)

const NonEmpty = Schema.String.pipe(Schema.minLength(1))
const Labelled = Schema.Record({ key: Schema.String, value: Schema.String })

/** A manifest: the fields the agent needs, every other field kept as sent. */
const Manifest = Schema.Struct(
  {
    apiVersion: NonEmpty,
    kind: NonEmpty,
    metadata: Schema.Struct(
      { name: NonEmpty, namespace: Schema.optional(Schema.String), labels: Schema.optional(Labelled) },
      Schema.Record({ key: Schema.String, value: Schema.Unknown })
    )
  },
  Schema.Record({ key: Schema.String, value: Schema.Unknown })
)
type Manifest = typeof Manifest.Type

const kubeMessage = (e: KubeError) => e.message

/** Creates the namespace, labelled for the gate, when it does not exist; never changes an existing one. */
const ensureNamespace = (name: string): Effect.Effect<void, string, KubeApi> =>
  Effect.gen(function* () {
    const kube = yield* KubeApi
    const exists = yield* withKubeRetry(kube.get(Resources.Namespace, name)).pipe(
      Effect.as(true),
      Effect.catchTag("NotFound", () => Effect.succeed(false))
    )
    if (exists) return
    yield* withKubeRetry(
      kube.create(Resources.Namespace, {
        apiVersion: "v1",
        kind: "Namespace",
        metadata: { name, labels: { [NamespaceGate.label]: NamespaceGate.value } }
      })
    ).pipe(Effect.catchTag("AlreadyExists", () => Effect.void))
  }).pipe(
    Effect.mapError((e) =>
      e._tag === "Forbidden"
        ? `namespace "${name}" does not exist and cannot be created (check RBAC): ${e.message}`
        : `namespace "${name}": ${kubeMessage(e)}`
    )
  )

const withForcedLabels = (manifest: Manifest, clusterId: string): KubeObject => ({
  ...manifest,
  metadata: {
    ...manifest.metadata,
    labels: {
      ...manifest.metadata.labels,
      [Labels.managedBy]: ManagedBy.controlPlane,
      ...(clusterId === "" ? {} : { [Labels.clusterId]: clusterId })
    }
  }
})

/** The allowed type of the manifest, with the namespace check of namespaced kinds. */
const typeFor = (
  ctx: ApplierContext,
  apiVersion: string,
  kind: string,
  namespace: string | undefined
): Either.Either<ResourceType, string> => {
  const type = lookupKind(ctx.allowedKinds, apiVersion, kind)
  if (type === undefined)
    return Either.left(`kind ${apiVersion} ${kind} is not in the agent's allow-list (${describeAllowed(ctx.allowedKinds)})`)
  if (type.namespaced && (namespace === undefined || namespace === ""))
    return Either.left(`${kind} is namespaced: metadata.namespace is required`)
  return Either.right(type)
}

/** The object as applied, or the job's outcome when the apply did not happen. */
type Written = Either.Either<{ readonly type: ResourceType; readonly namespace: string | undefined; readonly applied: KubeObject }, Outcome>

/** SSA of one object (its namespaces made ready first). */
const writeObject = (
  ctx: ApplierContext,
  manifest: Manifest,
  extraNamespaces: ReadonlyArray<string>
): Effect.Effect<Written, never, KubeApi> =>
  Effect.gen(function* () {
    const kube = yield* KubeApi
    const typed = typeFor(ctx, manifest.apiVersion, manifest.kind, manifest.metadata.namespace)
    if (Either.isLeft(typed)) return Either.left(failed(typed.left))
    const type = typed.right
    const namespace = type.namespaced ? manifest.metadata.namespace : undefined
    const namespaces = [...new Set([...(namespace === undefined ? [] : [namespace]), ...extraNamespaces])]
    // A namespace is known once it exists and the operator's rights there took effect.
    const ensureKnown = (ns: string) =>
      ctx.knownNamespaces.has(ns)
        ? Effect.void
        : ensureNamespace(ns).pipe(
            Effect.zipRight(ctx.grantNamespaceAccess(ns)),
            Effect.tap(() => ctx.knownNamespaces.add(ns))
          )
    const ensureNamespaces = Effect.forEach(namespaces, ensureKnown, { discard: true })
    const assumed = namespaces.some((ns) => ctx.knownNamespaces.has(ns))
    const ensured = yield* Effect.either(ensureNamespaces)
    if (Either.isLeft(ensured)) return Either.left(failed(ensured.left))
    const object = withForcedLabels(manifest, ctx.clusterId)
    const apply = Effect.either(withKubeRetry(kube.apply(type, object, { fieldManager: FieldManagers.agent, force: false })))
    let applied = yield* apply
    if (assumed && Either.isLeft(applied) && applied.left._tag === "NotFound") {
      // A namespace known from an earlier job may be gone since: look again, then apply once more.
      for (const ns of namespaces) ctx.knownNamespaces.delete(ns)
      const again = yield* Effect.either(ensureNamespaces)
      if (Either.isLeft(again)) return Either.left(failed(again.left))
      applied = yield* apply
    }
    if (Either.isLeft(applied)) {
      const e = applied.left
      if (e._tag === "Conflict") return Either.left<Outcome>({ outcome: "conflict", error: `apply conflict: ${e.message}` })
      if (e._tag === "NotFound") return Either.left(failed(`server-side apply: ${apiVersionOf(type)} ${type.kind} is not served by this cluster: ${e.message}`))
      return Either.left(failed(`server-side apply: ${kubeMessage(e)}`))
    }
    return Either.right({ type, namespace, applied: applied.right })
  })

/** SSA of one object, then (outside the write bound) the wait for it to be ready. */
const applyObject = (
  ctx: ApplierContext,
  manifest: Manifest,
  extraNamespaces: ReadonlyArray<string> = []
): Effect.Effect<Outcome, never, KubeApi> =>
  Effect.gen(function* () {
    const written = yield* ctx.writing(writeObject(ctx, manifest, extraNamespaces))
    if (Either.isLeft(written)) return written.left
    const { type, namespace, applied } = written.right
    if (!needsWait(type)) return { outcome: "succeeded", appliedRef: appliedRefOf(applied) }
    const ready = yield* Effect.either(
      waitForReadiness(type, manifest.metadata.name, namespace, ctx.readinessTimeout, ctx.progress)
    )
    return Either.isLeft(ready) ? failed(ready.left) : { outcome: "succeeded", appliedRef: appliedRefOf(ready.right) }
  })

const deleteObject = (
  ctx: ApplierContext,
  apiVersion: string,
  kind: string,
  name: string,
  namespace: string | undefined
): Effect.Effect<Outcome, never, KubeApi> =>
  ctx.writing(Effect.gen(function* () {
    const typed = typeFor(ctx, apiVersion, kind, namespace)
    if (Either.isLeft(typed)) return failed(typed.left)
    const type = typed.right
    const ns = type.namespaced ? namespace : undefined
    const kube = yield* KubeApi
    const existing = yield* Effect.either(withKubeRetry(kube.get(type, name, ns)))
    const bare: AppliedRef = { apiVersion, kind, namespace: ns ?? "", name }
    if (Either.isLeft(existing))
      return existing.left._tag === "NotFound" ? { outcome: "succeeded", appliedRef: bare } : failed(`delete: ${kubeMessage(existing.left)}`)
    const uid = existing.right.metadata.uid
    const deleted = yield* Effect.either(
      withKubeRetry(kube.delete(type, name, ns, uid === undefined ? {} : { preconditions: { uid } }))
    )
    if (Either.isLeft(deleted) && deleted.left._tag !== "NotFound") return failed(`delete: ${kubeMessage(deleted.left)}`)
    return { outcome: "succeeded", appliedRef: appliedRefOf(existing.right) }
  }))

const decode = <A, I>(schema: Schema.Schema<A, I>, value: unknown, what: string): Either.Either<A, string> =>
  Either.mapLeft(Schema.decodeUnknownEither(schema)(value), (e) => `decode ${what} payload: ${formatParseError(e)}`)

/** A typed object back to its manifest form (what the API server takes). */
const manifestOf = <A, I>(schema: Schema.Schema<A, I>, value: A): Either.Either<Manifest, string> =>
  Either.flatMap(
    Either.mapLeft(Schema.encodeEither(schema)(value), formatParseError),
    (encoded) => decode(Manifest, encoded, "manifest")
  )

const intent = (ctx: ApplierContext, payload: unknown): Effect.Effect<Outcome, never, KubeApi> => {
  const header = decode(IntentHeader, payload, "intent")
  if (Either.isLeft(header)) return Effect.succeed(failed(header.left))
  switch (header.right.intent) {
    case "ensure-application-instance": {
      const decoded = decode(EnsureApplicationInstanceIntent, payload, "ensure-application-instance")
      if (Either.isLeft(decoded)) return Effect.succeed(failed(decoded.left))
      const ai = decoded.right.applicationInstance
      const manifest = manifestOf(ApplicationInstance, ai)
      if (Either.isLeft(manifest)) return Effect.succeed(failed(manifest.left))
      const releaseNs = ai.spec.release?.namespace
      return applyObject(ctx, manifest.right, releaseNs === undefined ? [] : [releaseNs])
    }
    case "request-operation": {
      const decoded = decode(RequestOperationIntent, payload, "request-operation")
      if (Either.isLeft(decoded)) return Effect.succeed(failed(decoded.left))
      const manifest = manifestOf(Operation, decoded.right.operation)
      return Either.isLeft(manifest) ? Effect.succeed(failed(manifest.left)) : applyObject(ctx, manifest.right)
    }
    case "delete-application-instance": {
      const decoded = decode(DeleteApplicationInstanceIntent, payload, "delete-application-instance")
      if (Either.isLeft(decoded)) return Effect.succeed(failed(decoded.left))
      const { name, namespace } = decoded.right
      return deleteObject(ctx, apiVersionOf(Resources.ApplicationInstance), "ApplicationInstance", name, namespace)
    }
    case "rotate-operator-credentials": {
      const decoded = decode(Schema.Struct({ intent: Schema.Literal("rotate-operator-credentials") }), payload, "rotate-operator-credentials")
      if (Either.isLeft(decoded)) return Effect.succeed(failed(decoded.left))
      return ctx.rotateCredentials.pipe(
        Effect.as<Outcome>({ outcome: "succeeded" }),
        Effect.catchAll((message) => Effect.succeed(failed(`rotate-operator-credentials: ${message}`)))
      )
    }
    default:
      return Effect.succeed(failed(`unsupported intent ${JSON.stringify(header.right.intent)}`))
  }
}

/** The effect of one job's payload. Never fails: every problem is a `failed` or `conflict` outcome. */
export const runPayload = (ctx: ApplierContext, kind: string, payload: unknown): Effect.Effect<Outcome, never, KubeApi> => {
  switch (kind) {
    case "apply": {
      const manifest = decode(Manifest, payload, "apply")
      return Either.isLeft(manifest) ? Effect.succeed(failed(manifest.left)) : applyObject(ctx, manifest.right)
    }
    case "delete": {
      const p = decode(DeletePayload, payload, "delete")
      return Either.isLeft(p)
        ? Effect.succeed(failed(p.left))
        : deleteObject(ctx, p.right.apiVersion, p.right.kind, p.right.name, p.right.namespace)
    }
    case "intent":
      return intent(ctx, payload)
    default:
      return Effect.succeed(failed(`unsupported job kind ${JSON.stringify(kind)}`))
  }
}

/** The object a job acts on (`<apiVersion>/<kind>/<namespace>/<name>`), so that jobs for it keep their order. */
export const objectKeyOf = (kind: string, payload: unknown): string | undefined => {
  const key = (apiVersion: string, k: string, ns: string | undefined, name: string) => `${apiVersion}/${k}/${ns ?? ""}/${name}`
  if (kind === "apply") return Either.getOrUndefined(Either.map(Schema.decodeUnknownEither(Manifest)(payload), (m) => key(m.apiVersion, m.kind, m.metadata.namespace, m.metadata.name)))
  if (kind === "delete") return Either.getOrUndefined(Either.map(Schema.decodeUnknownEither(DeletePayload)(payload), (p) => key(p.apiVersion, p.kind, p.namespace, p.name)))
  if (kind !== "intent") return undefined
  const header = Either.getOrUndefined(Schema.decodeUnknownEither(IntentHeader)(payload))
  const target = Either.getOrUndefined(Schema.decodeUnknownEither(IntentTarget)(payload))
  switch (header?.intent) {
    case "ensure-application-instance":
      return target?.applicationInstance === undefined ? undefined : key(apiVersionOf(Resources.ApplicationInstance), "ApplicationInstance", target.applicationInstance.metadata.namespace, target.applicationInstance.metadata.name)
    case "delete-application-instance":
      return target?.name === undefined ? undefined : key(apiVersionOf(Resources.ApplicationInstance), "ApplicationInstance", target.namespace, target.name)
    case "request-operation":
      return target?.operation === undefined ? undefined : key(apiVersionOf(Resources.Operation), "Operation", target.operation.metadata.namespace, target.operation.metadata.name)
    case "rotate-operator-credentials":
      return "credentials"
    default:
      return undefined
  }
}

const Target = Schema.Struct({ metadata: Schema.Struct({ name: Schema.String, namespace: Schema.optional(Schema.String) }) })
const IntentTarget = Schema.Struct({
  applicationInstance: Schema.optional(Target),
  operation: Schema.optional(Target),
  name: Schema.optional(Schema.String),
  namespace: Schema.optional(Schema.String)
})
