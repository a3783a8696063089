/**
 * The operator's RBAC as data: the least privilege the running code needs today, and nothing for
 * features that do not exist yet. This module is the single source of truth for the chart's RBAC
 * template (`npm run crds` writes charts/vworkspace-operator/templates/rbac.yaml from it) and for
 * the integration test that runs the operator with exactly these rights.
 *
 * Every rule says which code path needs it. When code starts making a new kind of call, add the
 * rule here, regenerate, and extend test/integration/rbac.test.ts so the call is exercised.
 */
import { Groups, Names } from "./api/wellKnown.js"
import { controllerCrds } from "./connectivity/heartbeat.js"
import { gitOpsObjectName } from "./connectivity/modes/gitops.js"
import { defaultAllowedKinds } from "./connectivity/pull/allowList.js"
import type { KubeObject, ResourceType } from "./kube/object.js"

export type Verb = "get" | "list" | "watch" | "create" | "update" | "patch" | "delete" | "bind"

/**
 * Which name a rule is limited to (its `resourceNames`). `watchNamespace` and `leaderElectionId`
 * are configured: a rule limited to an unset one applies to every name (an operator without a
 * watch namespace reads all namespaces). The others derive from the release's full name and are
 * always set.
 */
export type NameParameter =
  | "watchNamespace"
  | "leaderElectionId"
  | "webhookConfiguration"
  | "webhookSecret"
  | "managedNamespaceRole"

export interface Rule {
  readonly apiGroups: ReadonlyArray<string>
  readonly resources: ReadonlyArray<string>
  readonly verbs: ReadonlyArray<Verb>
  readonly onlyNamed?: NameParameter
  /** Fixed `resourceNames` (names the operator never lets anyone configure). */
  readonly names?: ReadonlyArray<string>
  /** The code path that needs the rule; becomes a comment in the chart. */
  readonly why: string
}

/** Kubernetes' PolicyRule, as written into Role and ClusterRole objects. */
export interface PolicyRule {
  readonly apiGroups: ReadonlyArray<string>
  readonly resources: ReadonlyArray<string>
  readonly verbs: ReadonlyArray<Verb>
  readonly resourceNames?: ReadonlyArray<string>
}

const pullAgentWhy = (k: ResourceType) =>
  `Pull agent: jobs apply and delete ${k.kind} (allow-list${k.kind === "ConfigMap" ? "; the idempotency store lives in the operator's namespace" : ""})`

/**
 * The Pull agent's writes of its allow-listed kinds (src/connectivity/pull/allowList.ts):
 * server-side apply (patch, and create when absent), delete, and a get by name (read back, the
 * uid precondition of a delete). Our own CRDs are granted cluster-wide (`managerRules`); the
 * other namespaced kinds, Secrets among them, only in the namespaces the operator manages
 * (`managedNamespaceRules`); Velero's BackupStorageLocation lives in Velero's namespace, which is
 * not a managed one, so it stays cluster-wide.
 */
const ownCrd = (k: ResourceType) => k.group === Groups.apps || k.group === Groups.ops
const grantedPerNamespace = (k: ResourceType) => k.namespaced && !ownCrd(k) && k.group !== "velero.io"

export const pullAgentRules = (kinds: ReadonlyArray<ResourceType>, perNamespace: boolean): ReadonlyArray<Rule> =>
  kinds
    .filter((k) => k.namespaced && !ownCrd(k) && grantedPerNamespace(k) === perNamespace)
    .map((k) => ({ apiGroups: [k.group], resources: [k.plural], verbs: ["get", "create", "patch", "delete"], why: pullAgentWhy(k) }))

/**
 * Cluster-wide rules (a ClusterRole with a ClusterRoleBinding, whatever the watch namespace).
 * With a watch namespace the operator reads only that one Namespace (its informer lists with
 * `fieldSelector=metadata.name=<ns>`, which RBAC matches against `resourceNames`).
 */
export const clusterScopedRules: ReadonlyArray<Rule> = [
  {
    apiGroups: [""],
    resources: ["namespaces"],
    verbs: ["get", "list", "watch"],
    onlyNamed: "watchNamespace",
    why: "namespace informer: the managed-by label gates where the operator acts"
  },
  {
    apiGroups: [""],
    resources: ["namespaces"],
    verbs: ["create"],
    why: "Pull agent: a job's missing target namespace is created, labelled for the gate (patch and delete of a Namespace only where it is managed)"
  },
  {
    apiGroups: ["ops.vworkspace.io"],
    resources: ["clusters"],
    verbs: ["get", "list", "watch", "create", "patch", "delete"],
    why: "Cluster informer; finalizer, and the spec fields the operator clears after registration and rotation (merge patch); Pull agent: Cluster jobs (allow-list)"
  },
  {
    apiGroups: ["ops.vworkspace.io"],
    resources: ["clusters/status"],
    verbs: ["patch"],
    why: "Cluster status: server-side apply to /status"
  },
  {
    apiGroups: ["ops.vworkspace.io"],
    resources: ["clusters/finalizers"],
    verbs: ["update"],
    why: "the credentials Secret names its Cluster with blockOwnerDeletion"
  },
  {
    apiGroups: ["apiextensions.k8s.io"],
    resources: ["customresourcedefinitions"],
    verbs: ["get"],
    names: controllerCrds.flatMap((c) => c.crds),
    why: "ControllersHealthy: are the controllers' CRDs installed and Established"
  },
  {
    apiGroups: ["rbac.authorization.k8s.io"],
    resources: ["rolebindings"],
    verbs: ["create"],
    why: "namespace access: the RoleBinding to the managed-namespace role in each gated namespace (create cannot be limited by name)"
  },
  {
    apiGroups: ["rbac.authorization.k8s.io"],
    resources: ["rolebindings"],
    verbs: ["get", "list", "watch", "patch", "delete"],
    onlyNamed: "managedNamespaceRole",
    why: "namespace access: the operator's own RoleBindings only (informer by name, server-side apply, removal when a namespace leaves the gate)"
  },
  {
    apiGroups: ["rbac.authorization.k8s.io"],
    resources: ["clusterroles"],
    verbs: ["bind"],
    onlyNamed: "managedNamespaceRole",
    why: "namespace access: the API server lets a RoleBinding refer to this one ClusterRole only; binding any other role is refused as an escalation"
  },
  {
    apiGroups: ["admissionregistration.k8s.io"],
    resources: ["validatingwebhookconfigurations"],
    verbs: ["get", "list", "watch", "patch", "update"],
    onlyNamed: "webhookConfiguration",
    why: "admission: the operator keeps the caBundle of its own ValidatingWebhookConfiguration current"
  },
  {
    apiGroups: ["authentication.k8s.io"],
    resources: ["tokenreviews"],
    verbs: ["create"],
    why: "secure /metrics: who is the scraper (TokenReview)"
  },
  {
    apiGroups: ["authorization.k8s.io"],
    resources: ["subjectaccessreviews"],
    verbs: ["create"],
    why: "secure /metrics: may the scraper get /metrics (SubjectAccessReview)"
  }
]

/** In the operator's own namespace: the registration token, the agent credentials, the webhook certificate. */
export const operatorNamespaceRules: ReadonlyArray<Rule> = [
  {
    apiGroups: [""],
    resources: ["secrets"],
    verbs: ["get"],
    why: "registration: the token Secret named by Cluster spec.registrationTokenSecretRef (resolved in this namespace only)"
  },
  {
    apiGroups: [""],
    resources: ["secrets"],
    verbs: ["create"],
    why: "registration and admission: server-side apply creates the credentials and the webhook serving Secret (create cannot be limited by name)"
  },
  {
    apiGroups: [""],
    resources: ["secrets"],
    verbs: ["list", "watch", "patch"],
    names: [Names.agentCredentialsSecret],
    why: "the credentials Secret: watched by name (the agent follows a rotation at once) and written by server-side apply"
  },
  {
    apiGroups: [""],
    resources: ["secrets"],
    verbs: ["list", "watch", "update", "patch"],
    onlyNamed: "webhookSecret",
    why: "admission: the webhook serving certificate, created and rotated by the operator"
  },
  {
    apiGroups: [""],
    resources: ["configmaps"],
    verbs: ["get", "list", "create", "patch", "delete"],
    why: "the outbox journal (segments listed by label, deleted once delivered) and the Pull agent's idempotency store"
  }
]

/** The informed children: read everywhere, deleted everywhere, written only where managed. */
const childReads = (why: string): Pick<Rule, "verbs" | "why"> => ({
  verbs: ["get", "list", "watch", "delete"],
  why: `${why}; read and deleted wherever it is (an instance or Operation being deleted in a namespace that left the gate still cleans up)`
})

/**
 * The namespaced kinds, granted cluster-wide by a ClusterRoleBinding (or, with a watch namespace,
 * in that namespace only): our CRDs, Events, and reads and deletes of the children the operator
 * informs on. Nothing here reads a Secret or a ConfigMap, and nothing creates a child: creation
 * is in `managedNamespaceRules`, granted per gated namespace.
 */
export const managerRules: ReadonlyArray<Rule> = [
  {
    apiGroups: ["apps.vworkspace.io"],
    resources: ["applicationinstances"],
    verbs: ["get", "list", "watch", "create", "patch", "delete"],
    why: "informer; finalizer add/remove (merge patch under a resourceVersion precondition); upgrade.helm: JSON patch of the chart version and values; Pull agent: apply and delete (allow-list)"
  },
  {
    apiGroups: ["apps.vworkspace.io"],
    resources: ["applicationinstances/status"],
    verbs: ["patch"],
    why: "status: server-side apply to /status"
  },
  {
    apiGroups: ["apps.vworkspace.io"],
    resources: ["applicationinstances/finalizers"],
    verbs: ["update"],
    why: "children carry ownerReferences with blockOwnerDeletion (OwnerReferencesPermissionEnforcement)"
  },
  {
    apiGroups: ["ops.vworkspace.io"],
    resources: ["operations"],
    verbs: ["get", "list", "watch", "create", "patch", "delete"],
    why: "Operation informer; finalizer add/remove (merge patch under a resourceVersion precondition); Pull agent: apply and delete (allow-list)"
  },
  {
    apiGroups: ["ops.vworkspace.io"],
    resources: ["operations/status"],
    verbs: ["patch"],
    why: "Operation status: server-side apply to /status"
  },
  {
    apiGroups: [""],
    resources: ["events"],
    verbs: ["create"],
    why: "an Event for every condition transition"
  },
  { apiGroups: ["helm.toolkit.fluxcd.io"], resources: ["helmreleases"], ...childReads("HelmRelease informer; uninstall: delete, then get until gone") },
  {
    apiGroups: ["source.toolkit.fluxcd.io"],
    resources: ["helmrepositories", "ocirepositories"],
    ...childReads("chart sources: the same life cycle as the HelmRelease")
  },
  { apiGroups: ["batch"], resources: ["jobs"], ...childReads("job and helmHookJob engines: informer (operation label), read back on AlreadyExists, cancel") },
  {
    apiGroups: [""],
    resources: ["pods"],
    verbs: ["list", "watch"],
    why: "job engines: the Job's pod is the operation's logsRef (informer, operation label)"
  },
  { apiGroups: ["argoproj.io"], resources: ["workflows"], ...childReads("workflow engine: informer (operation label), read back on AlreadyExists, cancel") },
  {
    apiGroups: ["volsync.backube"],
    resources: ["replicationsources", "replicationdestinations"],
    ...childReads("volsync engine: informer (operation label), read back on AlreadyExists, cancel")
  },
  {
    apiGroups: ["snapshot.storage.k8s.io"],
    resources: ["volumesnapshots"],
    ...childReads("snapshot engine: informer (operation label), the snapshot to restore from (get), cancel")
  },
  {
    apiGroups: [""],
    resources: ["persistentvolumeclaims"],
    ...childReads("snapshot engine: the source PVC must exist (get); a restore's PVC (informer, cancel)")
  },
  {
    apiGroups: ["velero.io"],
    resources: ["backups", "restores"],
    verbs: ["get", "list", "watch", "create", "delete"],
    why: "velero engine: informer (operation label), create, read back on AlreadyExists, cancel of an unfinished one; in the Velero namespace, which is not a managed one"
  },
  ...pullAgentRules(defaultAllowedKinds, false)
]

/**
 * What the operator may do in a namespace it manages: the ClusterRole `<fullname>-managed-namespace`,
 * which the chart does not bind. The operator binds it with a RoleBinding in each namespace that
 * passes the namespace gate, and deletes that RoleBinding when the namespace leaves the gate
 * (src/reconcilers/namespaceAccess.ts); the Pull agent binds it itself right after creating a
 * target namespace, so a job into a new namespace succeeds in one pass.
 */
export const managedNamespaceRules: ReadonlyArray<Rule> = [
  {
    apiGroups: ["helm.toolkit.fluxcd.io"],
    resources: ["helmreleases"],
    verbs: ["create", "patch"],
    why: "server-side apply of the HelmRelease (patch, and create when absent); unsuspend before an uninstall"
  },
  {
    apiGroups: ["source.toolkit.fluxcd.io"],
    resources: ["helmrepositories", "ocirepositories"],
    verbs: ["create", "patch"],
    why: "server-side apply of the chart source"
  },
  {
    apiGroups: ["batch"],
    resources: ["jobs"],
    verbs: ["create"],
    why: "job and helmHookJob engines: the Operation's Job"
  },
  {
    apiGroups: [""],
    resources: ["serviceaccounts"],
    verbs: ["create"],
    why: "job engines: the runner ServiceAccount vworkspace-operation-runner (no rights of its own), created when missing"
  },
  { apiGroups: ["argoproj.io"], resources: ["workflows"], verbs: ["create"], why: "workflow engine: the Operation's Workflow" },
  {
    apiGroups: ["volsync.backube"],
    resources: ["replicationsources", "replicationdestinations"],
    verbs: ["create"],
    why: "volsync engine: the Operation's ReplicationSource or ReplicationDestination"
  },
  { apiGroups: ["snapshot.storage.k8s.io"], resources: ["volumesnapshots"], verbs: ["create"], why: "snapshot engine: the backup's VolumeSnapshot" },
  { apiGroups: [""], resources: ["persistentvolumeclaims"], verbs: ["create"], why: "snapshot engine: a restore creates a PVC from a snapshot" },
  ...pullAgentRules(defaultAllowedKinds, true),
  {
    apiGroups: [""],
    resources: ["namespaces"],
    verbs: ["patch", "delete"],
    why: "Pull agent: Namespace jobs (allow-list); a RoleBinding in a namespace grants these on that Namespace itself, so only managed namespaces can be changed"
  }
]

/** Scrapers of the secure /metrics endpoint bind this ClusterRole; the operator itself never needs it. */
export const metricsReaderRules = [{ nonResourceURLs: ["/metrics"], verbs: ["get"] }] as const

/** GitOps mode, in `connectivity.gitops.namespace` only: the GitRepository and Kustomization the operator keeps in place. */
export const gitOpsRules: ReadonlyArray<Rule> = [
  {
    apiGroups: ["source.toolkit.fluxcd.io", "kustomize.toolkit.fluxcd.io"],
    resources: ["gitrepositories", "kustomizations"],
    verbs: ["create"],
    why: "gitops: server-side apply creates the objects when absent (create cannot be limited by name)"
  },
  {
    apiGroups: ["source.toolkit.fluxcd.io", "kustomize.toolkit.fluxcd.io"],
    resources: ["gitrepositories", "kustomizations"],
    verbs: ["get", "list", "watch", "patch"],
    names: [gitOpsObjectName],
    why: "gitops: informer by name and server-side apply of the objects named vworkspace-cluster"
  }
]

/**
 * Leader election, in the operator's own namespace only. `create` cannot be limited by name (the
 * name is in the body, not the URL); reads and writes are limited to the operator's own Lease.
 */
export const leaderElectionRules: ReadonlyArray<Rule> = [
  {
    apiGroups: ["coordination.k8s.io"],
    resources: ["leases"],
    verbs: ["create"],
    why: "leader election: the first candidate creates the Lease"
  },
  {
    apiGroups: ["coordination.k8s.io"],
    resources: ["leases"],
    verbs: ["get", "patch"],
    onlyNamed: "leaderElectionId",
    why: "leader election: read, acquire, renew and release (merge patch under a resourceVersion precondition)"
  }
]

/** Push mode: the control plane's own identity in the cluster (spec/connectivity.md §1.2). */
export const controlPlaneServiceAccount = "vworkspace-control-plane"

/**
 * Push mode: what the control plane may do with its ServiceAccount token, in each namespace the
 * chart lists (a RoleBinding per namespace): our CRDs only, plus a read of what they became.
 */
export const controlPlaneRules: ReadonlyArray<Rule> = [
  {
    apiGroups: ["apps.vworkspace.io"],
    resources: ["applicationinstances"],
    verbs: ["get", "list", "watch", "create", "update", "patch", "delete"],
    why: "push: the control plane server-side-applies and deletes ApplicationInstances"
  },
  {
    apiGroups: ["ops.vworkspace.io"],
    resources: ["operations"],
    verbs: ["get", "list", "watch", "create", "update", "patch", "delete"],
    why: "push: the control plane requests Operations"
  },
  {
    apiGroups: ["helm.toolkit.fluxcd.io"],
    resources: ["helmreleases"],
    verbs: ["get", "list", "watch"],
    why: "push: a read-only view of the HelmReleases the operator materialised"
  }
]

/** Push mode, cluster-wide: the control plane watches the operator's self-status. */
export const controlPlaneClusterRules: ReadonlyArray<Rule> = [
  {
    apiGroups: ["ops.vworkspace.io"],
    resources: ["clusters"],
    verbs: ["get", "list", "watch"],
    why: "push: the control plane reads the Cluster's connectivity status"
  }
]

/** The names and settings that decide which RBAC objects a release has. */
export interface RbacParameters {
  /** `<fullname>` of the release: the prefix of every RBAC object's name. */
  readonly fullname: string
  /** The release namespace: where the ServiceAccount, the Lease and the leader-election Role live. */
  readonly namespace: string
  readonly serviceAccountName: string
  readonly leaderElect: boolean
  readonly leaderElectionId: string
  readonly watchNamespace?: string
  /** Push mode: the namespaces the control plane may write in. Absent: not in push mode. */
  readonly pushNamespaces?: ReadonlyArray<string>
  /** GitOps mode: Flux's namespace, where the operator keeps its GitRepository and Kustomization. Absent: not in GitOps mode. */
  readonly gitopsNamespace?: string
}

/** Each role's name is `<fullname>-<suffix>`; its binding has the same name. */
const roleSuffix = {
  manager: "manager",
  namespaces: "namespaces",
  connectivity: "connectivity",
  leaderElection: "leader-election",
  managedNamespace: "managed-namespace",
  metricsReader: "metrics-reader",
  gitops: "gitops",
  controlPlane: "control-plane",
  controlPlaneClusters: "control-plane-clusters"
} as const

export const roleNames = (fullname: string): Record<keyof typeof roleSuffix, string> => ({
  manager: `${fullname}-${roleSuffix.manager}`,
  namespaces: `${fullname}-${roleSuffix.namespaces}`,
  connectivity: `${fullname}-${roleSuffix.connectivity}`,
  leaderElection: `${fullname}-${roleSuffix.leaderElection}`,
  managedNamespace: `${fullname}-${roleSuffix.managedNamespace}`,
  metricsReader: `${fullname}-${roleSuffix.metricsReader}`,
  gitops: `${fullname}-${roleSuffix.gitops}`,
  controlPlane: `${fullname}-${roleSuffix.controlPlane}`,
  controlPlaneClusters: `${fullname}-${roleSuffix.controlPlaneClusters}`
})

/** The serving-certificate Secret of the webhook (names.md): `<fullname>-webhook-tls`. */
export const webhookSecretName = (fullname: string) => `${fullname}-webhook-tls`

const nameOf = (parameter: NameParameter, p: Pick<RbacParameters, "fullname" | "watchNamespace" | "leaderElectionId">) => {
  switch (parameter) {
    case "watchNamespace":
      return p.watchNamespace
    case "leaderElectionId":
      return p.leaderElectionId
    case "webhookConfiguration":
      return p.fullname
    case "webhookSecret":
      return webhookSecretName(p.fullname)
    case "managedNamespaceRole":
      return roleNames(p.fullname).managedNamespace
  }
}

export const policyRules = (
  rules: ReadonlyArray<Rule>,
  parameters: Pick<RbacParameters, "fullname" | "watchNamespace" | "leaderElectionId">
) =>
  rules.map((rule): PolicyRule => {
    const name = rule.onlyNamed === undefined ? undefined : nameOf(rule.onlyNamed, parameters)
    return {
      apiGroups: rule.apiGroups,
      resources: rule.resources,
      verbs: rule.verbs,
      ...(rule.names !== undefined ? { resourceNames: rule.names } : {}),
      ...(name === undefined || name === "" ? {} : { resourceNames: [name] })
    }
  })

const rbacApiVersion = "rbac.authorization.k8s.io/v1"

/** The RBAC objects of a release, as the chart renders them (labels aside). */
export const rbacObjects = (p: RbacParameters): ReadonlyArray<KubeObject> => {
  const names = roleNames(p.fullname)
  const subjects = [{ kind: "ServiceAccount", name: p.serviceAccountName, namespace: p.namespace }]
  const clusterRole = (name: string, rules: ReadonlyArray<Rule>): KubeObject => ({
    apiVersion: rbacApiVersion,
    kind: "ClusterRole",
    metadata: { name },
    rules: policyRules(rules, p)
  })
  const role = (name: string, namespace: string, rules: ReadonlyArray<Rule>): KubeObject => ({
    apiVersion: rbacApiVersion,
    kind: "Role",
    metadata: { name, namespace },
    rules: policyRules(rules, p)
  })
  const binding = (kind: "ClusterRoleBinding" | "RoleBinding", name: string, roleKind: string, namespace?: string): KubeObject => ({
    apiVersion: rbacApiVersion,
    kind,
    metadata: namespace === undefined ? { name } : { name, namespace },
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: roleKind, name },
    subjects
  })
  const watched = p.watchNamespace !== undefined && p.watchNamespace !== "" ? p.watchNamespace : undefined
  return [
    clusterRole(names.manager, managerRules),
    watched === undefined
      ? binding("ClusterRoleBinding", names.manager, "ClusterRole")
      : binding("RoleBinding", names.manager, "ClusterRole", watched),
    clusterRole(names.namespaces, clusterScopedRules),
    binding("ClusterRoleBinding", names.namespaces, "ClusterRole"),
    clusterRole(names.managedNamespace, managedNamespaceRules),
    { apiVersion: rbacApiVersion, kind: "ClusterRole", metadata: { name: names.metricsReader }, rules: metricsReaderRules },
    role(names.connectivity, p.namespace, operatorNamespaceRules),
    binding("RoleBinding", names.connectivity, "Role", p.namespace),
    ...(p.leaderElect
      ? [role(names.leaderElection, p.namespace, leaderElectionRules), binding("RoleBinding", names.leaderElection, "Role", p.namespace)]
      : []),
    ...(p.gitopsNamespace === undefined
      ? []
      : [role(names.gitops, p.gitopsNamespace, gitOpsRules), binding("RoleBinding", names.gitops, "Role", p.gitopsNamespace)]),
    ...(p.pushNamespaces === undefined ? [] : pushObjects(p, p.pushNamespaces))
  ]
}

const pushObjects = (p: RbacParameters, namespaces: ReadonlyArray<string>): ReadonlyArray<KubeObject> => {
  const names = roleNames(p.fullname)
  const subjects = [{ kind: "ServiceAccount", name: controlPlaneServiceAccount, namespace: p.namespace }]
  const roleRef = (name: string) => ({ apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name })
  return [
    { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: controlPlaneServiceAccount, namespace: p.namespace } },
    { apiVersion: rbacApiVersion, kind: "ClusterRole", metadata: { name: names.controlPlane }, rules: policyRules(controlPlaneRules, p) },
    ...namespaces.map((namespace) => ({
      apiVersion: rbacApiVersion,
      kind: "RoleBinding",
      metadata: { name: names.controlPlane, namespace },
      roleRef: roleRef(names.controlPlane),
      subjects
    })),
    {
      apiVersion: rbacApiVersion,
      kind: "ClusterRole",
      metadata: { name: names.controlPlaneClusters },
      rules: policyRules(controlPlaneClusterRules, p)
    },
    {
      apiVersion: rbacApiVersion,
      kind: "ClusterRoleBinding",
      metadata: { name: names.controlPlaneClusters },
      roleRef: roleRef(names.controlPlaneClusters),
      subjects
    }
  ]
}

// --- the chart template ---------------------------------------------------------------------

/** Where `npm run crds` writes the chart's RBAC template. */
export const chartRbacTemplatePath = "charts/vworkspace-operator/templates/rbac.yaml"

/** The template expression of each name parameter, and whether it may be unset. */
const fullnameWith = (suffix: string) => `printf "%s-${suffix}" (include "vworkspace-operator.fullname" .)`
const nameExpression: Record<NameParameter, { readonly expression: string; readonly optional: boolean }> = {
  watchNamespace: { expression: ".Values.manager.watchNamespace", optional: true },
  leaderElectionId: { expression: ".Values.manager.leaderElectionId", optional: true },
  webhookConfiguration: { expression: `include "vworkspace-operator.fullname" .`, optional: false },
  webhookSecret: { expression: fullnameWith("webhook-tls"), optional: false },
  managedNamespaceRole: { expression: fullnameWith(roleSuffix.managedNamespace), optional: false }
}

const resourceNamesLines = (parameter: NameParameter): ReadonlyArray<string> => {
  const { expression, optional } = nameExpression[parameter]
  return optional
    ? [`    {{- with ${expression} }}`, "    resourceNames: [{{ . | quote }}]", "    {{- end }}"]
    : [`    resourceNames: [{{ ${expression} | quote }}]`]
}

const flow = (items: ReadonlyArray<string>) => `[${items.map((i) => JSON.stringify(i)).join(", ")}]`

const templateRules = (rules: ReadonlyArray<Rule>): string =>
  rules
    .map((r) =>
      [
        `  # ${r.why}`,
        `  - apiGroups: ${flow(r.apiGroups)}`,
        `    resources: ${flow(r.resources)}`,
        `    verbs: ${flow(r.verbs)}`,
        ...(r.names === undefined ? [] : [`    resourceNames: ${flow(r.names)}`]),
        ...(r.onlyNamed === undefined ? [] : resourceNamesLines(r.onlyNamed))
      ].join("\n")
    )
    .join("\n")

const metadataLines = (name: string, namespace?: string) =>
  [
    "metadata:",
    `  name: {{ include "vworkspace-operator.fullname" . }}-${name}`,
    ...(namespace === undefined ? [] : [`  namespace: ${namespace}`]),
    "  labels:",
    '    {{- include "vworkspace-operator.labels" . | nindent 4 }}'
  ].join("\n")

const bindingBody = (name: string, roleKind: string) =>
  [
    "roleRef:",
    "  apiGroup: rbac.authorization.k8s.io",
    `  kind: ${roleKind}`,
    `  name: {{ include "vworkspace-operator.fullname" . }}-${name}`,
    "subjects:",
    "  - kind: ServiceAccount",
    '    name: {{ include "vworkspace-operator.serviceAccountName" . }}',
    "    namespace: {{ .Release.Namespace }}"
  ].join("\n")

/** Push mode's ServiceAccount and RBAC; inside `range`, `.` is a namespace and `$` the root. */
const pushTemplate = (): string => {
  const { controlPlane, controlPlaneClusters } = roleSuffix
  const root = (line: string) => line.replaceAll("include \"vworkspace-operator.fullname\" .", "include \"vworkspace-operator.fullname\" $").replaceAll("include \"vworkspace-operator.labels\" .", "include \"vworkspace-operator.labels\" $")
  const subjects = [
    "subjects:",
    "  - kind: ServiceAccount",
    `    name: ${controlPlaneServiceAccount}`,
    "    namespace: {{ $.Release.Namespace }}"
  ].join("\n")
  const roleRef = (name: string) =>
    ["roleRef:", "  apiGroup: rbac.authorization.k8s.io", "  kind: ClusterRole", `  name: {{ include "vworkspace-operator.fullname" $ }}-${name}`].join("\n")
  return [
    "{{- if eq .Values.connectivity.mode \"push\" }}",
    "# Push mode: the control plane applies CRs with this ServiceAccount's token (docs/connectivity/push-mode.md).",
    "---",
    "apiVersion: v1",
    "kind: ServiceAccount",
    "metadata:",
    `  name: ${controlPlaneServiceAccount}`,
    "  namespace: {{ .Release.Namespace }}",
    "  labels:",
    '    {{- include "vworkspace-operator.labels" . | nindent 4 }}',
    "---",
    "apiVersion: rbac.authorization.k8s.io/v1",
    "kind: ClusterRole",
    metadataLines(controlPlane),
    "rules:",
    templateRules(controlPlaneRules),
    "{{- range .Values.connectivity.push.namespaces }}",
    "---",
    "apiVersion: rbac.authorization.k8s.io/v1",
    "kind: RoleBinding",
    root(metadataLines(controlPlane, "{{ . }}")),
    roleRef(controlPlane),
    subjects,
    "{{- end }}",
    "---",
    "apiVersion: rbac.authorization.k8s.io/v1",
    "kind: ClusterRole",
    metadataLines(controlPlaneClusters),
    "rules:",
    templateRules(controlPlaneClusterRules),
    "---",
    "apiVersion: rbac.authorization.k8s.io/v1",
    "kind: ClusterRoleBinding",
    metadataLines(controlPlaneClusters),
    roleRef(controlPlaneClusters),
    subjects.replace("$.Release", ".Release"),
    "{{- end }}"
  ].join("\n")
}

const roleTemplate = (kind: "ClusterRole" | "Role", name: string, rules: ReadonlyArray<Rule>, namespace?: string) =>
  ["---", "apiVersion: rbac.authorization.k8s.io/v1", `kind: ${kind}`, metadataLines(name, namespace), "rules:", templateRules(rules)].join("\n")

const bindingTemplate = (kind: "ClusterRoleBinding" | "RoleBinding", name: string, roleKind: string, namespace?: string) =>
  ["---", "apiVersion: rbac.authorization.k8s.io/v1", `kind: ${kind}`, metadataLines(name, namespace), bindingBody(name, roleKind)].join("\n")

/** The chart's RBAC template, generated from the rules above. */
export const chartRbacTemplate = (): string => {
  const { manager, namespaces, connectivity, leaderElection, managedNamespace, metricsReader, gitops } = roleSuffix
  const releaseNamespace = "{{ .Release.Namespace }}"
  const gitopsNamespace = "{{ .Values.connectivity.gitops.namespace }}"
  return `${[
    "{{- /* Generated by `npm run crds` from src/rbac.ts. Do not edit by hand. */ -}}",
    "{{- if .Values.rbac.create }}",
    roleTemplate("ClusterRole", manager, managerRules).replace("---\n", ""),
    "---",
    "apiVersion: rbac.authorization.k8s.io/v1",
    "{{- if .Values.manager.watchNamespace }}",
    "# Only the watched namespace: the manager rules are granted there and nowhere else.",
    "kind: RoleBinding",
    metadataLines(manager, "{{ .Values.manager.watchNamespace }}"),
    "{{- else }}",
    "kind: ClusterRoleBinding",
    metadataLines(manager),
    "{{- end }}",
    bindingBody(manager, "ClusterRole"),
    roleTemplate("ClusterRole", namespaces, clusterScopedRules),
    bindingTemplate("ClusterRoleBinding", namespaces, "ClusterRole"),
    "# Not bound here: the operator binds it in each namespace that passes the namespace gate (src/reconcilers/namespaceAccess.ts).",
    roleTemplate("ClusterRole", managedNamespace, managedNamespaceRules),
    "# For scrapers of the secure /metrics endpoint to bind (TokenReview + SubjectAccessReview).",
    "---",
    "apiVersion: rbac.authorization.k8s.io/v1",
    "kind: ClusterRole",
    metadataLines(metricsReader),
    "rules:",
    ...metricsReaderRules.map((r) => `  - nonResourceURLs: ${flow(r.nonResourceURLs)}\n    verbs: ${flow(r.verbs)}`),
    roleTemplate("Role", connectivity, operatorNamespaceRules, releaseNamespace),
    bindingTemplate("RoleBinding", connectivity, "Role", releaseNamespace),
    "{{- if .Values.manager.leaderElect }}",
    roleTemplate("Role", leaderElection, leaderElectionRules, releaseNamespace),
    bindingTemplate("RoleBinding", leaderElection, "Role", releaseNamespace),
    "{{- end }}",
    "{{- if eq .Values.connectivity.mode \"gitops\" }}",
    roleTemplate("Role", gitops, gitOpsRules, gitopsNamespace),
    bindingTemplate("RoleBinding", gitops, "Role", gitopsNamespace),
    "{{- end }}",
    pushTemplate(),
    "{{- end }}"
  ].join("\n")}\n`
}
