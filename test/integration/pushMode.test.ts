/**
 * Push mode against a real API server with the RBAC authorizer: the chart (connectivity.mode=push)
 * renders ServiceAccount `vworkspace-control-plane` and its RBAC; requests made with a real token
 * of that account (TokenRequest API) work inside its rights and are refused outside them, and the
 * operator reconciles what the control plane applied.
 */
import { expect, layer } from "@effect/vitest"
import { Effect, Option, Schema } from "effect"
import { findCondition } from "../../src/api/conditions.js"
import type { Condition } from "../../src/api/meta.js"
import { defaultConnectivityConfig } from "../../src/config.js"
import { KubeApi } from "../../src/kube/KubeApi.js"
import type { KubeObject, ResourceType } from "../../src/kube/object.js"
import { Resources } from "../../src/kube/resources.js"
import { createTestNamespace, testNamespaceName } from "../support/cluster.js"
import { renderChart } from "../support/helm.js"
import { kubeLayer, startTestOperator } from "../support/operator.js"
import { serviceAccountKubeApi } from "../support/serviceAccount.js"
import { waitFor } from "../support/wait.js"

const rt = (group: string, kind: string, plural: string, namespaced: boolean): ResourceType => ({
  group,
  version: "v1",
  kind,
  plural,
  namespaced
})
const rbacKinds: Record<string, ResourceType> = {
  ServiceAccount: Resources.ServiceAccount,
  ClusterRole: rt("rbac.authorization.k8s.io", "ClusterRole", "clusterroles", false),
  ClusterRoleBinding: rt("rbac.authorization.k8s.io", "ClusterRoleBinding", "clusterrolebindings", false),
  Role: rt("rbac.authorization.k8s.io", "Role", "roles", true),
  RoleBinding: rt("rbac.authorization.k8s.io", "RoleBinding", "rolebindings", true)
}

const ObjectHead = Schema.Struct({
  kind: Schema.String,
  metadata: Schema.Struct({ name: Schema.String, namespace: Schema.optional(Schema.String) })
})

/** Installs the push-mode chart's ServiceAccounts and RBAC (not the Deployment) for the scope. */
const installPushRbac = (namespace: string, pushNamespaces: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const api = yield* KubeApi
    const rendered = renderChart({
      releaseName: testNamespaceName("push"),
      namespace,
      values: { connectivity: { mode: "push", push: { namespaces: pushNamespaces } } }
    })
    for (const raw of rendered.objects) {
      const head = yield* Schema.decodeUnknown(ObjectHead)(raw)
      const type = rbacKinds[head.kind]
      if (type === undefined) continue
      const object = raw as unknown as KubeObject
      yield* Effect.acquireRelease(api.create(type, object), () =>
        Effect.ignore(api.delete(type, head.metadata.name, head.metadata.namespace))
      )
    }
  })

const placeholder = (namespace: string, name: string): KubeObject => ({
  apiVersion: "apps.vworkspace.io/v1alpha1",
  kind: "ApplicationInstance",
  metadata: { name, namespace },
  spec: { appRef: { catalogId: "cluster-ops" }, mode: "placeholder" }
})

const outcome = <A, E extends { readonly _tag: string }, R>(e: Effect.Effect<A, E, R>) =>
  e.pipe(
    Effect.map(() => "allowed"),
    Effect.catchAll((err) => Effect.succeed(err._tag))
  )

layer(kubeLayer(), { timeout: "90 seconds", excludeTestServices: true })("Push mode", (it) => {
  it.scoped("the control plane applies as vworkspace-control-plane inside its rights, and is refused outside them", () =>
    Effect.gen(function* () {
      const opNs = yield* createTestNamespace("push-op")
      const appNs = yield* createTestNamespace("push-apps", { "managed-by": "vworkspace" })
      const otherNs = yield* createTestNamespace("push-other", { "managed-by": "vworkspace" })
      yield* installPushRbac(opNs, [appNs])
      const controlPlane = yield* serviceAccountKubeApi(opNs, "vworkspace-control-plane")
      yield* startTestOperator({
        namespace: appNs,
        config: { podNamespace: opNs, connectivity: { ...defaultConnectivityConfig, mode: "push" } }
      })

      const results = yield* Effect.gen(function* () {
        const api = yield* KubeApi
        const manager = { fieldManager: "vworkspace-odoo", force: true }
        return {
          applyInstance: yield* outcome(api.apply(Resources.ApplicationInstance, placeholder(appNs, "ops"), manager)),
          listHelmReleases: yield* outcome(api.list(Resources.HelmRelease, { namespace: appNs })),
          listClusters: yield* outcome(api.list(Resources.Cluster)),
          // Outside its rights: another namespace, Secrets, RBAC, and writes to the operator's own status.
          applyElsewhere: yield* outcome(api.apply(Resources.ApplicationInstance, placeholder(otherNs, "ops"), manager)),
          readSecrets: yield* outcome(api.list(Resources.Secret, { namespace: appNs })),
          writeHelmRelease: yield* outcome(api.delete(Resources.HelmRelease, "anything", appNs)),
          createClusterRoleBinding: yield* outcome(
            api.create(rbacKinds["ClusterRoleBinding"]!, {
              apiVersion: "rbac.authorization.k8s.io/v1",
              kind: "ClusterRoleBinding",
              metadata: { name: testNamespaceName("escalate") },
              roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "cluster-admin" },
              subjects: [{ kind: "ServiceAccount", name: "vworkspace-control-plane", namespace: opNs }]
            })
          ),
          writeStatus: yield* outcome(
            api.applyStatus(
              Resources.ApplicationInstance,
              { ...placeholder(appNs, "ops"), status: { observedGeneration: 1 } },
              { fieldManager: "vworkspace-odoo", force: true }
            )
          ),
          createCluster: yield* outcome(
            api.apply(
              Resources.Cluster,
              { apiVersion: "ops.vworkspace.io/v1alpha1", kind: "Cluster", metadata: { name: testNamespaceName("c") }, spec: {} },
              manager
            )
          )
        }
      }).pipe(Effect.provide(controlPlane))
      expect(results).toEqual({
        applyInstance: "allowed",
        listHelmReleases: "allowed",
        listClusters: "allowed",
        applyElsewhere: "Forbidden",
        readSecrets: "Forbidden",
        writeHelmRelease: "Forbidden",
        createClusterRoleBinding: "Forbidden",
        writeStatus: "Forbidden",
        createCluster: "Forbidden"
      })

      // The operator polls nothing and reconciles what was pushed.
      const ready = yield* waitFor(
        "the pushed instance Ready",
        Effect.flatMap(KubeApi, (api) => api.get(Resources.ApplicationInstance, "ops", appNs)).pipe(
          Effect.map((o) => {
            const c = findCondition(((o["status"] as { conditions?: ReadonlyArray<Condition> } | undefined)?.conditions), "Ready")
            return c?.status === "True" ? o : undefined
          }),
          Effect.catchTag("NotFound", () => Effect.succeed(undefined))
        )
      )
      expect(Option.fromNullable(ready.metadata.finalizers).pipe(Option.getOrElse(() => []))).toContain("apps.vworkspace.io/finalizer")
    }))
})
