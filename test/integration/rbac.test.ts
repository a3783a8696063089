/**
 * Least-privilege RBAC, proven against a real API server with the RBAC authorizer: the chart's
 * RBAC objects (rendered from charts/vworkspace-operator, which `npm run crds` generates from
 * src/rbac.ts) are installed, and the operator runs in-process as the chart's ServiceAccount with
 * a real ServiceAccount token. It must do its whole job with those rights, and nothing more is
 * granted: SubjectAccessReviews and real requests as the ServiceAccount show what it cannot do.
 *
 * Removing any rule from src/rbac.ts makes one of these tests fail.
 */
import { expect, layer } from "@effect/vitest"
import { Duration, Effect, ExecutionStrategy, Exit, Option, Schema, Scope } from "effect"
import { findCondition } from "../../src/api/conditions.js"
import type { Condition } from "../../src/api/meta.js"
import { KubeApi } from "../../src/kube/KubeApi.js"
import type { KubeObject, ResourceType } from "../../src/kube/object.js"
import { defaultOperatorConfig } from "../../src/config.js"
import { Resources } from "../../src/kube/resources.js"
import { controlPlaneServiceAccount } from "../../src/rbac.js"
import { grantNamespaceAccess, type NamespaceAccessConfig, RoleBindingType } from "../../src/reconcilers/namespaceAccess.js"
import { writeFluxStatus } from "../support/flux.js"
import { createTestNamespace, deleteNamespace, testNamespaceName } from "../support/cluster.js"
import { plantedSecret } from "../support/logScan.js"
import { runJobPod } from "../support/kubelet.js"
import { operation, placeholderTarget, statusOf, waitPhase } from "../support/operations.js"
import { clusterId, startPullHarness } from "../support/pullAgent.js"
import { renderChart } from "../support/helm.js"
import { serviceAccountKubeApi } from "../support/serviceAccount.js"
import { kubeLayer, startTestOperator } from "../support/operator.js"
import { waitFor } from "../support/wait.js"

const gated = { "managed-by": "vworkspace" }
const leaseName = "dad03b25.vworkspace.io"

const rt = (group: string, version: string, kind: string, plural: string, namespaced: boolean): ResourceType => ({
  group,
  version,
  kind,
  plural,
  namespaced
})

/** Every kind the chart renders. */
const chartKinds: Record<string, ResourceType> = {
  ServiceAccount: Resources.ServiceAccount,
  Service: rt("", "v1", "Service", "services", true),
  Deployment: rt("apps", "v1", "Deployment", "deployments", true),
  ClusterRole: rt("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", false),
  ClusterRoleBinding: rt("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", false),
  Role: rt("rbac.authorization.k8s.io", "v1", "Role", "roles", true),
  RoleBinding: rt("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", true),
  ConfigMap: Resources.ConfigMap,
  ValidatingAdmissionPolicy: rt("admissionregistration.k8s.io", "v1", "ValidatingAdmissionPolicy", "validatingadmissionpolicies", false),
  ValidatingAdmissionPolicyBinding: rt("admissionregistration.k8s.io", "v1", "ValidatingAdmissionPolicyBinding", "validatingadmissionpolicybindings", false),
  ValidatingWebhookConfiguration: rt("admissionregistration.k8s.io", "v1", "ValidatingWebhookConfiguration", "validatingwebhookconfigurations", false)
}
/** Cluster-wide admission objects would judge every test file's objects: test/integration/admission.test.ts covers them. */
const admissionKinds = new Set(["ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding", "ValidatingWebhookConfiguration"])
const SubjectAccessReview = rt("authorization.k8s.io", "v1", "SubjectAccessReview", "subjectaccessreviews", false)

const ObjectHead = Schema.Struct({
  apiVersion: Schema.String,
  kind: Schema.String,
  metadata: Schema.Struct({ name: Schema.String, namespace: Schema.optional(Schema.String) })
})

const typed = (o: Record<string, unknown>) =>
  Effect.gen(function* () {
    const head = yield* Schema.decodeUnknown(ObjectHead)(o)
    const type = chartKinds[head.kind]
    if (type === undefined) return yield* Effect.dieMessage(`the chart renders an unexpected kind ${head.kind}`)
    return { type, object: o as unknown as KubeObject, name: head.metadata.name, namespace: head.metadata.namespace }
  })

interface Release {
  readonly name: string
  readonly namespace: string
  readonly serviceAccount: string
  readonly user: { readonly name: string; readonly groups: ReadonlyArray<string> }
  /** What the chart passes as --namespace-access-role / --namespace-access-service-account. */
  readonly access: NamespaceAccessConfig
}

/**
 * Installs the chart's ServiceAccount and RBAC (as `helm install` would, minus the Deployment,
 * which the test replaces by running the operator in-process) for the test's Scope.
 */
const installRbac = (namespace: string, values: Record<string, unknown>) =>
  Effect.gen(function* () {
    const api = yield* KubeApi
    const name = testNamespaceName("rbac")
    const rendered = renderChart({ releaseName: name, namespace, values })
    let serviceAccount: string | undefined
    let managedNamespaceRole: string | undefined
    for (const raw of rendered.objects) {
      const o = yield* typed(raw)
      if (o.type.kind === "Deployment" || admissionKinds.has(o.type.kind)) continue
      if (o.type.kind === "ServiceAccount" && o.name !== controlPlaneServiceAccount) serviceAccount = o.name
      if (o.type.kind === "ClusterRole" && o.name.endsWith("-managed-namespace")) managedNamespaceRole = o.name
      yield* Effect.acquireRelease(api.create(o.type, o.object), () => Effect.ignore(api.delete(o.type, o.name, o.namespace)))
    }
    if (serviceAccount === undefined) return yield* Effect.dieMessage("the chart rendered no ServiceAccount")
    if (managedNamespaceRole === undefined) return yield* Effect.dieMessage("the chart rendered no managed-namespace ClusterRole")
    return {
      name,
      namespace,
      serviceAccount,
      access: { clusterRole: managedNamespaceRole, serviceAccount },
      user: {
        name: `system:serviceaccount:${namespace}:${serviceAccount}`,
        groups: ["system:serviceaccounts", `system:serviceaccounts:${namespace}`, "system:authenticated"]
      }
    } satisfies Release
  })

/** A KubeApi layer that authenticates as the release's ServiceAccount. */
const serviceAccountApi = (release: Release) => serviceAccountKubeApi(release.namespace, release.serviceAccount)

interface Access {
  readonly verb: string
  readonly resource: string
  readonly group?: string
  readonly subresource?: string
  readonly namespace?: string
  readonly name?: string
}

/** Asks the API server's authorizer whether the release's ServiceAccount may do `access`. */
const allowed = (release: Release, access: Access) =>
  Effect.gen(function* () {
    const api = yield* KubeApi
    const review = yield* api.create(SubjectAccessReview, {
      apiVersion: "authorization.k8s.io/v1",
      kind: "SubjectAccessReview",
      metadata: {},
      spec: {
        user: release.user.name,
        groups: release.user.groups,
        resourceAttributes: { group: "", ...access }
      }
    })
    return (review["status"] as { allowed?: boolean } | undefined)?.allowed === true
  })

const describeAccess = (a: Access) =>
  `${a.verb} ${a.group ? `${a.group}/` : ""}${a.resource}${a.subresource ? `/${a.subresource}` : ""}` +
  `${a.name ? ` ${a.name}` : ""} ${a.namespace ? `in ${a.namespace}` : "cluster-wide"}`

/** Every access in `expected` is answered as listed; the failure names each wrong answer. */
const expectAccess = (release: Release, expected: ReadonlyArray<readonly [Access, boolean]>) =>
  Effect.gen(function* () {
    const answers = yield* Effect.forEach(expected, ([a, want]) =>
      Effect.map(allowed(release, a), (got) => ({ what: describeAccess(a), want, got }))
    )
    expect(answers.filter((a) => a.want !== a.got)).toEqual([])
  })

// --- the operator's job, as the ServiceAccount ------------------------------------------------

const managedInstance = (namespace: string, name: string, chart: Record<string, string>): KubeObject => ({
  apiVersion: "apps.vworkspace.io/v1alpha1",
  kind: "ApplicationInstance",
  metadata: { name, namespace },
  spec: {
    appRef: { catalogId: name },
    chart,
    release: { name: `${name}-rel`, namespace },
    values: { source: "inline", inline: { replicaCount: 1 } }
  }
})

const applyAsControlPlane = (o: KubeObject) =>
  Effect.flatMap(KubeApi, (api) =>
    api.apply(Resources.ApplicationInstance, o, { fieldManager: "test-control-plane", force: true })
  )

const find = (type: ResourceType, namespace: string | undefined, name: string) =>
  Effect.flatMap(KubeApi, (api) =>
    api.get(type, name, namespace).pipe(
      Effect.map(Option.some),
      Effect.catchTag("NotFound", () => Effect.succeed(Option.none<KubeObject>()))
    )
  )

const waitExists = (type: ResourceType, namespace: string, name: string) =>
  waitFor(`${type.kind} ${namespace}/${name}`, find(type, namespace, name).pipe(Effect.map(Option.getOrUndefined)))

const waitGone = (type: ResourceType, namespace: string, name: string) =>
  waitFor(
    `${type.kind} ${namespace}/${name} to be gone`,
    find(type, namespace, name).pipe(Effect.map((o) => (Option.isNone(o) ? true : undefined)))
  )

const conditionsOf = (o: KubeObject): ReadonlyArray<Condition> =>
  (o["status"] as { conditions?: ReadonlyArray<Condition> } | undefined)?.conditions ?? []

const waitCondition = (namespace: string, name: string, type: string, status: string, reason: string) =>
  waitFor(
    `${namespace}/${name} ${type}=${status}/${reason}`,
    find(Resources.ApplicationInstance, namespace, name).pipe(
      Effect.map((o) => {
        if (Option.isNone(o)) return undefined
        const c = findCondition(conditionsOf(o.value), type)
        return c?.status === status && c.reason === reason ? o.value : undefined
      })
    )
  )

const leaseHolder = (namespace: string) =>
  Effect.map(find(Resources.Lease, namespace, leaseName), (o) =>
    Option.map(o, (lease) => (lease["spec"] as { holderIdentity?: string; renewTime?: string } | undefined) ?? {})
  )

const readyz = (port: number) =>
  Effect.tryPromise(async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).status)

/** helm-controller reports a successful install. */
const fluxReady = (hr: KubeObject) =>
  writeFluxStatus(hr, [{ type: "Ready", status: "True", reason: "InstallSucceeded", message: "Helm install succeeded" }])

/** Someone edits a child the operator owns; only a watch on that kind tells the operator. */
const tamperUrl = (type: ResourceType, namespace: string, name: string, url: string) =>
  Effect.flatMap(KubeApi, (api) => api.patch(type, name, namespace, "merge", { spec: { url } }))

const waitUrl = (type: ResourceType, namespace: string, name: string, url: string) =>
  waitFor(
    `${type.kind} ${namespace}/${name} to have url ${url} again`,
    Effect.map(find(type, namespace, name), (o) =>
      Option.isSome(o) && (o.value["spec"] as { url?: string } | undefined)?.url === url ? true : undefined
    )
  )

/**
 * The operator's whole job with only the release's rights: it leads (creating, renewing and
 * finally releasing the Lease), sees the namespace gate open, materialises a Helm and an OCI
 * instance (sources, HelmReleases, status, finalizers, Events), follows Flux's status, repairs
 * edited sources, suspends an instance, and uninstalls both. Every step depends on a rule: the
 * watches too, since an informer whose watch is forbidden keeps its first list and goes blind.
 * `appNs` starts without the gate label.
 */
const operatorLifecycle = (release: Release, appNs: string) =>
  Effect.gen(function* () {
    const asOperator = yield* serviceAccountApi(release)
    const operatorScope = yield* Scope.fork(yield* Effect.scope, ExecutionStrategy.sequential)
    const manager = yield* startTestOperator({
      namespace: appNs,
      config: { podNamespace: release.namespace, namespaceAccess: Option.some(release.access) },
      leaderElection: { leaseName, namespace: release.namespace }
    }).pipe(Effect.provide(asOperator), Scope.extend(operatorScope))

    // Leader election: the Lease is created, then renewed (a patch), by this process.
    const acquired = yield* waitFor(
      "the operator to acquire the Lease",
      Effect.map(leaseHolder(release.namespace), (h) =>
        Option.isSome(h) && h.value.holderIdentity === manager.elector.identity ? h.value : undefined
      )
    )
    yield* waitFor(
      "the operator to renew the Lease",
      Effect.map(leaseHolder(release.namespace), (h) =>
        Option.isSome(h) && h.value.holderIdentity === manager.elector.identity && h.value.renewTime !== acquired.renewTime
          ? true
          : undefined
      )
    )
    // Ready means every informer synced (list + watch allowed) and the elector is healthy.
    yield* waitFor(
      "/readyz to answer 200",
      Effect.map(readyz(manager.health.port), (s) => (s === 200 ? true : undefined))
    )

    const web = managedInstance(appNs, "web", {
      sourceType: "helm",
      url: "https://charts.example.test/stable",
      name: "web",
      version: "1.0.0"
    })
    const db = managedInstance(appNs, "db", {
      sourceType: "oci",
      url: "oci://registry.example.test/charts/db",
      name: "db",
      version: "2.0.0"
    })
    // The namespace gate: blocked until the namespace is labelled, which only a Namespace watch shows.
    yield* applyAsControlPlane(web)
    yield* waitCondition(appNs, "web", "Blocked", "True", "NamespaceNotGated")
    // Before the gate opens the operator has no rights in the namespace; then it binds itself.
    expect(yield* allowed(release, { verb: "create", group: "helm.toolkit.fluxcd.io", resource: "helmreleases", namespace: appNs })).toBe(false)
    yield* Effect.flatMap(KubeApi, (api) =>
      api.patch(Resources.Namespace, appNs, undefined, "merge", { metadata: { labels: gated } })
    )
    const binding = yield* waitExists(RoleBindingType, appNs, release.access.clusterRole)
    expect(binding).toMatchObject({
      roleRef: { kind: "ClusterRole", name: release.access.clusterRole },
      subjects: [{ kind: "ServiceAccount", name: release.serviceAccount, namespace: release.namespace }]
    })
    yield* applyAsControlPlane(db)

    // Server-side apply creates the children; status and finalizers are written.
    const helmRepository = yield* waitExists(Resources.HelmRepository, appNs, "web-rel-source")
    yield* waitExists(Resources.HelmRelease, appNs, "web-rel")
    yield* waitExists(Resources.OCIRepository, appNs, "db-rel-source")
    const dbRelease = yield* waitExists(Resources.HelmRelease, appNs, "db-rel")
    expect(dbRelease["spec"]).toMatchObject({ chartRef: { kind: "OCIRepository", name: "db-rel-source" } })
    expect(helmRepository.metadata.ownerReferences).toEqual([
      expect.objectContaining({ kind: "ApplicationInstance", name: "web", blockOwnerDeletion: true })
    ])
    for (const name of ["web", "db"]) {
      const ai = yield* waitCondition(appNs, name, "Ready", "Unknown", "Reconciling")
      expect(ai.metadata.finalizers).toContain("apps.vworkspace.io/finalizer")
      expect(ai["status"]).toMatchObject({ observedGeneration: 1, helmReleaseRef: { name: `${name}-rel`, namespace: appNs } })
    }
    // Events (recorded in the background): the operator's way to tell `kubectl describe` what happened.
    yield* waitFor(
      "an Event from the operator about web",
      Effect.flatMap(KubeApi, (api) =>
        api.list(Resources.Event, { namespace: appNs, fieldSelector: "involvedObject.name=web" })
      ).pipe(
        Effect.map((events) =>
          events.items.some((e) => (e["source"] as { component?: string } | undefined)?.component === "vworkspace-operator")
            ? true
            : undefined
        )
      )
    )

    // Flux reports the install; the operator follows through its HelmRelease watch.
    yield* fluxReady(yield* waitExists(Resources.HelmRelease, appNs, "web-rel"))
    yield* waitCondition(appNs, "web", "Ready", "True", "HelmReleaseReady")

    // Edited sources are put back, which needs a watch on each kind of source.
    yield* tamperUrl(Resources.HelmRepository, appNs, "web-rel-source", "https://tampered.example.test")
    yield* tamperUrl(Resources.OCIRepository, appNs, "db-rel-source", "oci://tampered.example.test/db")
    yield* waitUrl(Resources.HelmRepository, appNs, "web-rel-source", "https://charts.example.test/stable")
    yield* waitUrl(Resources.OCIRepository, appNs, "db-rel-source", "oci://registry.example.test/charts/db")

    // Suspend: a server-side apply that changes the HelmRelease, and a status write.
    yield* applyAsControlPlane({
      ...web,
      metadata: { ...web.metadata, annotations: { "apps.vworkspace.io/reconcile": "disabled" } }
    })
    yield* waitCondition(appNs, "web", "Suspended", "True", "ManuallySuspended")
    const suspended = yield* waitExists(Resources.HelmRelease, appNs, "web-rel")
    expect(suspended["spec"]).toMatchObject({ suspend: true })

    // Operations: a Job and the runner ServiceAccount are created, followed to Succeeded; a second
    // one is cancelled (its Job deleted); both let go of their finalizer when deleted.
    yield* Effect.flatMap(KubeApi, (api) =>
      api.apply(Resources.ApplicationInstance, placeholderTarget(appNs, "ops", { runcommand: "job" }), { fieldManager: "test-control-plane", force: true })
    )
    const runCommand = (name: string, args: ReadonlyArray<string>) =>
      Effect.flatMap(KubeApi, (api) =>
        api.apply(
          Resources.Operation,
          operation(appNs, name, { type: "RunCommand", engine: "job", target: "ops", parameters: { image: "busybox:1.36", args, backoffLimit: 0 } }),
          { fieldManager: "test-control-plane", force: true }
        )
      )
    yield* runCommand("hello", ["echo hi"])
    yield* runCommand("stop", ["sleep 3600"])
    const running = yield* waitPhase(appNs, "hello", "Running")
    expect(statusOf(running).engineRef).toEqual({ kind: "Job", name: `${appNs}--hello`, namespace: appNs })
    yield* waitExists(Resources.ServiceAccount, appNs, "vworkspace-operation-runner")
    yield* runJobPod(appNs, `${appNs}--hello`, 0)
    yield* waitPhase(appNs, "hello", "Succeeded", { type: "Succeeded", reason: "JobSucceeded" })
    yield* waitPhase(appNs, "stop", "Running")
    yield* Effect.flatMap(KubeApi, (api) =>
      api.patch(Resources.Operation, "stop", appNs, "merge", { metadata: { annotations: { "ops.vworkspace.io/cancel": "true" } } })
    )
    yield* waitPhase(appNs, "stop", "Cancelled", { type: "Cancelled", reason: "UserCancelled" })
    yield* waitGone(Resources.Job, appNs, `${appNs}--stop`)
    yield* Effect.flatMap(KubeApi, (api) =>
      Effect.all([api.delete(Resources.Operation, "hello", appNs), api.delete(Resources.Operation, "stop", appNs)])
    )
    yield* waitGone(Resources.Operation, appNs, "hello")
    yield* waitGone(Resources.Operation, appNs, "stop")

    // Uninstall while gated (a suspended HelmRelease is unsuspended first: a write).
    yield* Effect.flatMap(KubeApi, (api) => api.delete(Resources.ApplicationInstance, "web", appNs))
    yield* waitGone(Resources.ApplicationInstance, appNs, "web")

    // The namespace leaves the gate: the operator removes its own access there...
    yield* Effect.flatMap(KubeApi, (api) =>
      api.patch(Resources.Namespace, appNs, undefined, "merge", { metadata: { labels: { "managed-by": null } } })
    )
    yield* waitGone(RoleBindingType, appNs, release.access.clusterRole)
    yield* waitCondition(appNs, "db", "Blocked", "True", "NamespaceNotGated")
    yield* expectAccess(release, [
      [{ verb: "get", resource: "secrets", namespace: appNs, name: "app-values" }, false],
      [{ verb: "create", group: "helm.toolkit.fluxcd.io", resource: "helmreleases", namespace: appNs }, false]
    ])
    // ...and an instance deleted there afterwards is still uninstalled (deletes need no gate).
    yield* Effect.flatMap(KubeApi, (api) =>
      Effect.all([api.delete(Resources.ApplicationInstance, "db", appNs), api.delete(Resources.ApplicationInstance, "ops", appNs)])
    )
    yield* waitGone(Resources.ApplicationInstance, appNs, "db")
    yield* waitGone(Resources.ApplicationInstance, appNs, "ops")
    for (const [type, name] of [
      [Resources.HelmRelease, "web-rel"],
      [Resources.HelmRepository, "web-rel-source"],
      [Resources.HelmRelease, "db-rel"],
      [Resources.OCIRepository, "db-rel-source"]
    ] as const) {
      expect(Option.isNone(yield* find(type, appNs, name))).toBe(true)
    }

    // Shutdown releases the Lease (a patch under a resourceVersion precondition).
    yield* Scope.close(operatorScope, Exit.void)
    const released = yield* leaseHolder(release.namespace)
    expect(Option.map(released, (h) => h.holderIdentity ?? "")).toEqual(Option.some(""))
  })

layer(kubeLayer(), { timeout: "120 seconds", excludeTestServices: true })("least-privilege RBAC (real API server)", (it) => {
  it.scoped("cluster-wide install: the operator does its whole job with only the chart's rights", () =>
    Effect.gen(function* () {
      const opNs = yield* createTestNamespace("rbac-op")
      const appNs = yield* createTestNamespace("rbac-apps")
      const release = yield* installRbac(opNs, {})
      yield* operatorLifecycle(release, appNs)
    }))

  it.scoped("watch-namespace install: the same job with rights in that namespace only", () =>
    Effect.gen(function* () {
      const opNs = yield* createTestNamespace("rbac-op")
      const appNs = yield* createTestNamespace("rbac-apps")
      const otherNs = yield* createTestNamespace("rbac-other", gated)
      const release = yield* installRbac(opNs, { manager: { watchNamespace: appNs } })
      yield* expectAccess(release, [
        [{ verb: "list", group: "helm.toolkit.fluxcd.io", resource: "helmreleases", namespace: appNs }, true],
        [{ verb: "list", group: "helm.toolkit.fluxcd.io", resource: "helmreleases", namespace: otherNs }, false],
        [{ verb: "list", group: "helm.toolkit.fluxcd.io", resource: "helmreleases" }, false],
        [{ verb: "patch", group: "apps.vworkspace.io", resource: "applicationinstances", namespace: otherNs, name: "x" }, false],
        [{ verb: "create", resource: "events", namespace: otherNs }, false],
        [{ verb: "watch", resource: "namespaces", name: appNs }, true],
        [{ verb: "watch", resource: "namespaces", name: otherNs }, false],
        [{ verb: "list", resource: "namespaces" }, false],
        // Nothing is written in the other gated namespace: the operator binds itself only where it watches.
        [{ verb: "get", resource: "secrets", namespace: otherNs, name: "x" }, false]
      ])
      yield* operatorLifecycle(release, appNs)
    }))

  it.scoped("least privilege: Secrets only by name in managed namespaces, no RBAC escalation, no foreign Lease writes", () =>
    Effect.gen(function* () {
      const opNs = yield* createTestNamespace("rbac-op")
      const appNs = yield* createTestNamespace("rbac-apps", gated)
      const ungated = yield* createTestNamespace("rbac-ungated")
      const release = yield* installRbac(opNs, {})
      const rbacGroup = "rbac.authorization.k8s.io"
      const coordination = "coordination.k8s.io"
      const asOperator = yield* serviceAccountApi(release)
      // The operator binds its managed-namespace role where the gate is open (as the Pull agent does
      // before its first write), and nowhere else: the ungated namespace is left alone.
      const grant = grantNamespaceAccess(release.access, opNs, defaultOperatorConfig.namespaceSelector)
      yield* Effect.all([grant(appNs), grant(ungated)]).pipe(Effect.provide(asOperator))
      expect(Option.isNone(yield* find(RoleBindingType, ungated, release.access.clusterRole))).toBe(true)
      yield* expectAccess(release, [
        // Controls: the same question, asked of rights the chart grants, is answered yes.
        [{ verb: "create", group: "helm.toolkit.fluxcd.io", resource: "helmreleases", namespace: appNs }, true],
        [{ verb: "patch", group: coordination, resource: "leases", namespace: opNs, name: leaseName }, true],
        [{ verb: "create", group: coordination, resource: "leases", namespace: opNs }, true],
        [{ verb: "update", group: "apps.vworkspace.io", resource: "applicationinstances", subresource: "finalizers", namespace: appNs, name: "web" }, true],
        // Secrets: by name in a managed namespace (the Pull agent's writes), never listed or watched,
        // never read in a namespace outside the gate.
        [{ verb: "get", resource: "secrets", namespace: appNs, name: "app-values" }, true],
        [{ verb: "get", resource: "secrets", namespace: ungated, name: "app-values" }, false],
        [{ verb: "get", resource: "secrets", namespace: "kube-system", name: "app-values" }, false],
        [{ verb: "list", resource: "secrets" }, false],
        [{ verb: "watch", resource: "secrets" }, false],
        [{ verb: "list", resource: "secrets", namespace: appNs }, false],
        [{ verb: "watch", resource: "secrets", namespace: appNs }, false],
        [{ verb: "watch", resource: "secrets", namespace: opNs }, false],
        [{ verb: "get", resource: "configmaps", namespace: ungated, name: "app-values" }, false],
        [{ verb: "list", resource: "configmaps" }, false],
        // Child writes only where managed; reads and deletes everywhere (finalizers of instances in
        // namespaces that left the gate).
        [{ verb: "create", group: "helm.toolkit.fluxcd.io", resource: "helmreleases", namespace: ungated }, false],
        [{ verb: "patch", group: "helm.toolkit.fluxcd.io", resource: "helmreleases", namespace: ungated, name: "x" }, false],
        [{ verb: "create", group: "batch", resource: "jobs", namespace: ungated }, false],
        [{ verb: "delete", group: "helm.toolkit.fluxcd.io", resource: "helmreleases", namespace: ungated, name: "x" }, true],
        // No way to grant itself more: no ClusterRoleBindings, and a RoleBinding may only name its own role.
        [{ verb: "create", group: rbacGroup, resource: "clusterrolebindings" }, false],
        [{ verb: "bind", group: rbacGroup, resource: "clusterroles", name: "cluster-admin" }, false],
        [{ verb: "bind", group: rbacGroup, resource: "clusterroles", name: "admin" }, false],
        [{ verb: "bind", group: rbacGroup, resource: "roles", namespace: ungated, name: "x" }, false],
        [{ verb: "bind", group: rbacGroup, resource: "clusterroles", name: release.access.clusterRole }, true],
        [{ verb: "escalate", group: rbacGroup, resource: "clusterroles" }, false],
        [{ verb: "escalate", group: rbacGroup, resource: "roles", namespace: appNs }, false],
        [{ verb: "create", group: rbacGroup, resource: "roles", namespace: appNs }, false],
        [{ verb: "patch", group: rbacGroup, resource: "rolebindings", namespace: appNs, name: "someone-elses" }, false],
        [{ verb: "delete", group: rbacGroup, resource: "rolebindings", namespace: appNs, name: "someone-elses" }, false],
        [{ verb: "patch", group: rbacGroup, resource: "clusterroles", name: release.access.clusterRole }, false],
        [{ verb: "impersonate", resource: "users", name: "admin" }, false],
        [{ verb: "impersonate", resource: "serviceaccounts", namespace: appNs, name: "default" }, false],
        [{ verb: "create", resource: "serviceaccounts", subresource: "token", namespace: opNs, name: release.serviceAccount }, false],
        [{ verb: "create", resource: "pods", namespace: appNs }, false],
        [{ verb: "create", resource: "pods", subresource: "exec", namespace: appNs, name: "x" }, false],
        // Namespaces: created when a job needs one; changed or deleted only where managed.
        [{ verb: "create", resource: "namespaces" }, true],
        [{ verb: "delete", resource: "namespaces", namespace: appNs, name: appNs }, true],
        [{ verb: "patch", resource: "namespaces", namespace: appNs, name: appNs }, true],
        [{ verb: "delete", resource: "namespaces", namespace: ungated, name: ungated }, false],
        [{ verb: "patch", resource: "namespaces", namespace: ungated, name: ungated }, false],
        [{ verb: "delete", resource: "namespaces", namespace: "kube-system", name: "kube-system" }, false],
        [{ verb: "delete", group: "apiextensions.k8s.io", resource: "customresourcedefinitions" }, false],
        // The webhook configuration and serving Secret: its own only.
        [{ verb: "patch", group: "admissionregistration.k8s.io", resource: "validatingwebhookconfigurations", name: release.name + "-vworkspace-operator" }, true],
        [{ verb: "patch", group: "admissionregistration.k8s.io", resource: "validatingwebhookconfigurations", name: "someone-else" }, false],
        [{ verb: "create", group: "admissionregistration.k8s.io", resource: "validatingwebhookconfigurations" }, false],
        [{ verb: "update", resource: "secrets", namespace: opNs, name: `${release.name}-vworkspace-operator-webhook-tls` }, true],
        [{ verb: "update", resource: "secrets", namespace: opNs, name: "someone-else" }, false],
        // Secure metrics: TokenReview and SubjectAccessReview.
        [{ verb: "create", group: "authentication.k8s.io", resource: "tokenreviews" }, true],
        [{ verb: "create", group: "authorization.k8s.io", resource: "subjectaccessreviews" }, true],
        // Leases: only its own, only in its own namespace.
        [{ verb: "create", group: coordination, resource: "leases", namespace: appNs }, false],
        [{ verb: "create", group: coordination, resource: "leases", namespace: "kube-system" }, false],
        [{ verb: "patch", group: coordination, resource: "leases", namespace: opNs, name: "someone-else" }, false],
        [{ verb: "get", group: coordination, resource: "leases", namespace: opNs, name: "someone-else" }, false],
        [{ verb: "update", group: coordination, resource: "leases", namespace: opNs, name: leaseName }, false],
        [{ verb: "delete", group: coordination, resource: "leases", namespace: opNs, name: leaseName }, false]
      ])

      // The same answers for real requests made with the ServiceAccount's token.
      const roleBinding = (namespace: string, name: string, roleKind: string, roleName: string): KubeObject => ({
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "RoleBinding",
        metadata: { name, namespace },
        roleRef: { apiGroup: rbacGroup, kind: roleKind, name: roleName },
        subjects: [{ kind: "ServiceAccount", name: release.serviceAccount, namespace: opNs }]
      })
      const secret = (namespace: string): KubeObject => ({ apiVersion: "v1", kind: "Secret", metadata: { name: "probe", namespace }, stringData: { k: "v" } })
      // Roles with real rights (the test server's aggregated `edit` may hold none): binding either is an escalation.
      const secretReader = { apiGroups: [""], resources: ["secrets"], verbs: ["get", "list", "watch"] }
      const ClusterRoleType = chartKinds["ClusterRole"]!
      const RoleType = chartKinds["Role"]!
      const readerClusterRole = `${release.name}-secret-reader`
      yield* Effect.flatMap(KubeApi, (api) =>
        Effect.all([
          Effect.acquireRelease(
            api.create(ClusterRoleType, { apiVersion: "rbac.authorization.k8s.io/v1", kind: "ClusterRole", metadata: { name: readerClusterRole }, rules: [secretReader] }),
            () => Effect.ignore(api.delete(ClusterRoleType, readerClusterRole))
          ),
          api.create(RoleType, { apiVersion: "rbac.authorization.k8s.io/v1", kind: "Role", metadata: { name: "secret-reader", namespace: ungated }, rules: [secretReader] })
        ])
      )
      const outcomes = yield* Effect.gen(function* () {
        const api = yield* KubeApi
        const tagOf = <A, E extends { readonly _tag: string }>(e: Effect.Effect<A, E>) =>
          e.pipe(
            Effect.map(() => "allowed"),
            Effect.catchAll((err) => Effect.succeed(err._tag))
          )
        return {
          listSecrets: yield* tagOf(api.list(Resources.Secret)),
          listSecretsInApps: yield* tagOf(api.list(Resources.Secret, { namespace: appNs })),
          createSecretInApps: yield* tagOf(api.create(Resources.Secret, secret(appNs))),
          getSecretInApps: yield* tagOf(api.get(Resources.Secret, "probe", appNs)),
          createSecretUngated: yield* tagOf(api.create(Resources.Secret, secret(ungated))),
          getSecretUngated: yield* tagOf(api.get(Resources.Secret, "probe", ungated)),
          // The API server's escalation check: a RoleBinding may only refer to the managed-namespace role.
          bindClusterAdmin: yield* tagOf(api.create(RoleBindingType, roleBinding(appNs, "grab", "ClusterRole", "cluster-admin"))),
          bindSecretReader: yield* tagOf(api.create(RoleBindingType, roleBinding(ungated, "grab-1", "ClusterRole", readerClusterRole))),
          bindSecretReaderInManaged: yield* tagOf(api.create(RoleBindingType, roleBinding(appNs, "grab-2", "ClusterRole", readerClusterRole))),
          bindLocalRole: yield* tagOf(api.create(RoleBindingType, roleBinding(ungated, "grab-3", "Role", "secret-reader"))),
          clusterRoleBinding: yield* tagOf(
            api.create(rt(rbacGroup, "v1", "ClusterRoleBinding", "clusterrolebindings", false), {
              ...roleBinding(appNs, "grab", "ClusterRole", release.access.clusterRole),
              kind: "ClusterRoleBinding",
              metadata: { name: testNamespaceName("grab") }
            })
          ),
          deleteUngatedNamespace: yield* tagOf(api.delete(Resources.Namespace, ungated)),
          leaseElsewhere: yield* tagOf(
            api.create(Resources.Lease, {
              apiVersion: "coordination.k8s.io/v1",
              kind: "Lease",
              metadata: { name: leaseName, namespace: appNs },
              spec: {}
            })
          ),
          listHelmReleases: yield* tagOf(api.list(Resources.HelmRelease))
        }
      }).pipe(Effect.provide(asOperator))
      expect(outcomes).toEqual({
        listSecrets: "Forbidden",
        listSecretsInApps: "Forbidden",
        createSecretInApps: "allowed",
        getSecretInApps: "allowed",
        createSecretUngated: "Forbidden",
        getSecretUngated: "Forbidden",
        bindClusterAdmin: "Forbidden",
        bindSecretReader: "Forbidden",
        bindSecretReaderInManaged: "Forbidden",
        bindLocalRole: "Forbidden",
        clusterRoleBinding: "Forbidden",
        deleteUngatedNamespace: "Forbidden",
        leaseElsewhere: "Forbidden",
        listHelmReleases: "allowed"
      })
    }))

  it.scoped("Pull lifecycle: jobs into a new namespace succeed in one pass; nothing is written outside the gate", () =>
    Effect.gen(function* () {
      const opNs = yield* createTestNamespace("rbac-op")
      const ungated = yield* createTestNamespace("rbac-ungated")
      const fresh = yield* Effect.acquireRelease(Effect.sync(() => testNamespaceName("rbac-pull")), (ns) => Effect.ignore(deleteNamespace(ns)))
      const release = yield* installRbac(opNs, {})
      const asOperator = yield* serviceAccountApi(release)
      // The operator watches the namespace the agent is about to create; it makes the instance Ready.
      yield* startTestOperator({
        namespace: fresh,
        config: { podNamespace: opNs, namespaceAccess: Option.some(release.access) }
      }).pipe(Effect.provide(asOperator))
      const h = yield* startPullHarness()
      yield* h.startAgent({
        namespace: opNs,
        waitSeconds: 1,
        grantNamespaceAccess: grantNamespaceAccess(release.access, opNs, defaultOperatorConfig.namespaceSelector)
      }).pipe(Effect.provide(asOperator))
      const within = Duration.seconds(40)
      const run = (id: string, kind: string, payload: unknown) =>
        Effect.zipRight(
          h.admin.enqueue(clusterId, { id, kind, payload, idempotencyKey: `rbac/${id}`, createdAt: new Date().toISOString() }),
          h.admin.waitForResult(id, within)
        )
      const secret = (namespace: string, value: string) => ({
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name: "app-credentials", namespace },
        stringData: { password: value }
      })

      // A Secret into a namespace that does not exist yet: created, gated, bound, written, in one job.
      const first = yield* run("secret-new-ns", "apply", secret(fresh, plantedSecret("Secret value sent in a job", "pull-rbac-secret-value")))
      expect(first).toMatchObject({ outcome: "succeeded", appliedRef: { kind: "Secret", namespace: fresh, name: "app-credentials" } })
      const ns = yield* find(Resources.Namespace, undefined, fresh)
      expect(Option.map(ns, (n) => n.metadata.labels?.["managed-by"])).toEqual(Option.some("vworkspace"))
      expect(Option.isSome(yield* find(RoleBindingType, fresh, release.access.clusterRole))).toBe(true)
      expect(yield* run("configmap", "apply", { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "settings", namespace: fresh }, data: { a: "1" } })).toMatchObject({ outcome: "succeeded" })
      // An instance: applied, reconciled by the operator to Ready, then deleted through the agent.
      const ai = placeholderTarget(fresh, "site", {})
      expect(yield* run("ai", "intent", { intent: "ensure-application-instance", applicationInstance: ai })).toMatchObject({
        outcome: "succeeded",
        appliedRef: { kind: "ApplicationInstance", namespace: fresh, name: "site" }
      })
      expect(yield* run("ai-delete", "intent", { intent: "delete-application-instance", name: "site", namespace: fresh })).toMatchObject({ outcome: "succeeded" })
      yield* waitGone(Resources.ApplicationInstance, fresh, "site")
      expect(yield* run("secret-delete", "delete", { apiVersion: "v1", kind: "Secret", name: "app-credentials", namespace: fresh })).toMatchObject({
        outcome: "succeeded"
      })
      expect(Option.isNone(yield* find(Resources.Secret, fresh, "app-credentials"))).toBe(true)

      // An existing namespace outside the gate: the agent gets no rights there, and the write is refused.
      const refused = yield* run("secret-ungated", "apply", secret(ungated, plantedSecret("Secret value sent in a job", "pull-rbac-ungated-value")))
      expect(refused.outcome).toBe("failed")
      expect(refused.error).toMatch(/forbidden/i)
      expect(Option.isNone(yield* find(Resources.Secret, ungated, "app-credentials"))).toBe(true)
      expect(Option.isNone(yield* find(RoleBindingType, ungated, release.access.clusterRole))).toBe(true)
    }))
})
