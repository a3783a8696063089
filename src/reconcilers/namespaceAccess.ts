/**
 * Namespace access: the operator's rights in a namespace follow the namespace gate. For each
 * namespace that matches the gate's selector, a RoleBinding `<role>` binds the chart's ClusterRole
 * `<fullname>-managed-namespace` (src/rbac.ts `managedNamespaceRules`: child writes, Secrets by
 * name, the Pull agent's writes) to the operator's own ServiceAccount; when the namespace leaves
 * the gate the RoleBinding is deleted. The chart grants `bind` on that one ClusterRole only, so
 * the API server refuses any other roleRef as an escalation.
 *
 * The Pull agent creates missing target namespaces (labelled for the gate) and writes into them
 * at once, before this controller has seen the namespace: it calls `grantNamespaceAccess` first,
 * which makes the same RoleBinding and waits until the API server's authorizer honours it, so a
 * job into a new namespace succeeds in one pass.
 */
import { Context, Data, Duration, Effect, Option, PubSub, Schedule, Schema, Stream } from "effect"
import { Labels, ManagedBy } from "../api/wellKnown.js"
import { OperatorConfig } from "../config.js"
import type { KubeError } from "../kube/errors.js"
import { KubeApi } from "../kube/KubeApi.js"
import { type LabelSelector, matchesLabels } from "../kube/labelSelector.js"
import type { KubeObject, ResourceType } from "../kube/object.js"
import { Resources } from "../kube/resources.js"
import { withKubeRetry } from "../kube/retry.js"
import { type Informer, namedOnly } from "../kube/informer.js"
import { Controller, ReconcileResult } from "../runtime/controller.js"
import { keysOf } from "../runtime/sources.js"
import { ObjectLookup } from "./objectLookup.js"
import { applyIfChanged } from "./writes.js"

/** Who gets access, through which ClusterRole (the chart passes both: `--namespace-access-role`, `--namespace-access-service-account`). */
export interface NamespaceAccessConfig {
  /** The ClusterRole bound in each managed namespace; the RoleBinding has the same name. */
  readonly clusterRole: string
  /** The operator's ServiceAccount, in the operator's namespace. */
  readonly serviceAccount: string
}

export const RoleBindingType: ResourceType = {
  group: "rbac.authorization.k8s.io",
  version: "v1",
  kind: "RoleBinding",
  plural: "rolebindings",
  namespaced: true
}

const SelfSubjectAccessReview: ResourceType = {
  group: "authorization.k8s.io",
  version: "v1",
  kind: "SelfSubjectAccessReview",
  plural: "selfsubjectaccessreviews",
  namespaced: false
}

/** The RoleBinding that gives the operator its rights in `namespace`. */
export const accessBinding = (access: NamespaceAccessConfig, operatorNamespace: string, namespace: string): KubeObject => ({
  apiVersion: "rbac.authorization.k8s.io/v1",
  kind: "RoleBinding",
  metadata: { name: access.clusterRole, namespace, labels: { [Labels.managedBy]: ManagedBy.operator } },
  roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: access.clusterRole },
  subjects: [{ kind: "ServiceAccount", name: access.serviceAccount, namespace: operatorNamespace }]
})

/** The informer of the operator's own RoleBindings (by name: RBAC limits the operator to it). */
export const accessBindingInformerOptions = (access: NamespaceAccessConfig) => namedOnly(access.clusterRole)

/** A namespace is managed while it passes the gate; a terminating one is left as it is. */
type Want = "bound" | "unbound" | "leave"
const wanted = (namespace: Option.Option<KubeObject>, selector: LabelSelector): Want => {
  if (Option.isNone(namespace)) return "unbound"
  if (namespace.value.metadata.deletionTimestamp !== undefined) return "leave"
  return matchesLabels(selector, namespace.value.metadata.labels) ? "bound" : "unbound"
}

/**
 * Namespaces whose access just took effect. The AI and Operation controllers reconcile their
 * objects there again: a write they tried a moment earlier was refused, and a refusal is not retried.
 */
export interface AccessGranted {
  readonly publish: (namespace: string) => Effect.Effect<void>
  /** Each subscriber gets every namespace published after it started. */
  readonly namespaces: Stream.Stream<string>
}

export const makeAccessGranted: Effect.Effect<AccessGranted> = Effect.map(PubSub.unbounded<string>(), (hub) => ({
  publish: (namespace) => Effect.asVoid(PubSub.publish(hub, namespace)),
  namespaces: Stream.fromPubSub(hub)
}))

/** Keeps the access RoleBinding of one namespace (the key is the namespace's name) in line with the gate. */
export const reconcileNamespaceAccess =
  (access: NamespaceAccessConfig, granted: AccessGranted) =>
  (namespace: string): Effect.Effect<ReconcileResult, KubeError | AccessNotEffective, KubeApi | ObjectLookup | OperatorConfig> =>
    Effect.gen(function* () {
      const config = yield* OperatorConfig
      const lookup = yield* ObjectLookup
      const ns = yield* lookup.get(Resources.Namespace, undefined, namespace)
      const binding = yield* lookup.get(RoleBindingType, namespace, access.clusterRole)
      switch (wanted(ns, config.namespaceSelector)) {
        case "bound": {
          const applied = yield* applyIfChanged(RoleBindingType, accessBinding(access, config.podNamespace, namespace), binding)
          if (applied.written) {
            yield* untilEffective(access, namespace)
            yield* granted.publish(namespace)
          }
          return ReconcileResult.done
        }
        case "unbound":
          if (Option.isSome(binding)) {
            const api = yield* KubeApi
            yield* api
              .delete(RoleBindingType, access.clusterRole, namespace, { preconditions: { uid: binding.value.metadata.uid } })
              .pipe(Effect.catchTag("NotFound", () => Effect.void))
            yield* Effect.logInfo("namespace left the gate: access removed")
          }
          return ReconcileResult.done
        case "leave":
          return ReconcileResult.done
      }
    })

/**
 * The controller: woken by every Namespace change (the gate's label), by changes to its own
 * RoleBindings (someone deleted one), and every resync period.
 */
export const namespaceAccessController = (options: {
  readonly access: NamespaceAccessConfig
  readonly granted: AccessGranted
  readonly namespaces: Informer
  readonly bindings: Informer
  readonly lookup: Context.Context<ObjectLookup>
  readonly resyncPeriod: Duration.Duration
}) =>
  Controller.make({
    name: "namespaceaccess",
    maxConcurrentReconciles: 1,
    reconcile: (key) => reconcileNamespaceAccess(options.access, options.granted)(key).pipe(Effect.provide(options.lookup)),
    sources: [
      keysOf(options.namespaces),
      keysOf(options.bindings, (o) => [o.metadata.namespace ?? ""]),
      Stream.tick(options.resyncPeriod).pipe(
        Stream.drop(1),
        Stream.flatMap(() => Stream.fromIterableEffect(options.namespaces.cache.list()).pipe(Stream.map((o) => o.metadata.name ?? "")))
      )
    ]
  })

const ReviewStatus = Schema.Struct({ status: Schema.optional(Schema.Struct({ allowed: Schema.Boolean })) })

/** Whether the operator may already write in `namespace` (a right only the managed-namespace role gives). */
const mayWriteIn = (namespace: string): Effect.Effect<boolean, KubeError, KubeApi> =>
  Effect.flatMap(KubeApi, (api) =>
    withKubeRetry(
      api.create(SelfSubjectAccessReview, {
        apiVersion: "authorization.k8s.io/v1",
        kind: "SelfSubjectAccessReview",
        metadata: {},
        spec: { resourceAttributes: { namespace, verb: "create", resource: "secrets" } }
      })
    )
  ).pipe(Effect.map((review) => Option.getOrUndefined(Schema.decodeUnknownOption(ReviewStatus)(review))?.status?.allowed === true))

/** How long a fresh RoleBinding may take to reach the API server's authorizer cache. */
const effectiveWithin = Duration.seconds(10)

export class AccessNotEffective extends Data.TaggedError("AccessNotEffective")<{ readonly message: string }> {}

/** Waits until the API server's authorizer honours a RoleBinding just written. */
const untilEffective = (access: NamespaceAccessConfig, namespace: string): Effect.Effect<void, KubeError | AccessNotEffective, KubeApi> =>
  mayWriteIn(namespace).pipe(
    Effect.repeat({ schedule: Schedule.spaced(Duration.millis(100)), until: (allowed) => allowed }),
    Effect.timeoutFail({
      duration: effectiveWithin,
      onTimeout: () =>
        new AccessNotEffective({
          message: `the RoleBinding ${namespace}/${access.clusterRole} did not take effect within ${Duration.format(effectiveWithin)}`
        })
    }),
    Effect.asVoid
  )

/**
 * For the Pull agent, before it writes into `namespace`: when the namespace passes the gate and
 * the operator has no rights there yet (the namespace was just created), bind the managed-namespace
 * role now and wait until the authorizer honours it. A namespace outside the gate gets nothing:
 * the write that follows is refused, as it should be. Fails with a message for the job's result.
 */
export const grantNamespaceAccess =
  (access: NamespaceAccessConfig, operatorNamespace: string, selector: LabelSelector) =>
  (namespace: string): Effect.Effect<void, string, KubeApi> =>
    Effect.gen(function* () {
      if (yield* mayWriteIn(namespace)) return
      const api = yield* KubeApi
      const ns = yield* withKubeRetry(api.get(Resources.Namespace, namespace))
      if (!matchesLabels(selector, ns.metadata.labels)) return
      yield* withKubeRetry(applyIfChanged(RoleBindingType, accessBinding(access, operatorNamespace, namespace), Option.none()))
      yield* untilEffective(access, namespace)
    }).pipe(Effect.mapError((e) => `namespace "${namespace}": access for the operator: ${e.message}`))
