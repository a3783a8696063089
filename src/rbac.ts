/**
 * The operator's RBAC as data: the least privilege the running code needs today, and nothing for
 * features that do not exist yet. This module is the single source of truth for the chart's RBAC
 * template (`npm run crds` writes charts/vworkspace-operator/templates/rbac.yaml from it) and for
 * the integration test that runs the operator with exactly these rights.
 *
 * Every rule says which code path needs it. When code starts making a new kind of call, add the
 * rule here, regenerate, and extend test/integration/rbac.test.ts so the call is exercised.
 */
import { Names } from "./api/wellKnown.js"
import { controllerCrds } from "./connectivity/heartbeat.js"
import type { KubeObject } from "./kube/object.js"

export type Verb = "get" | "list" | "watch" | "create" | "update" | "patch" | "delete"

/**
 * Which configured name a rule is limited to (its `resourceNames`). A rule limited to an unset
 * parameter applies to every name: an operator without a watch namespace reads all namespaces.
 */
export type NameParameter = "watchNamespace" | "leaderElectionId"

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

/**
 * The cluster-scoped kinds the operator reads. Always a ClusterRole with a ClusterRoleBinding;
 * with a watch namespace the operator reads only that one Namespace (its informer lists with
 * `fieldSelector=metadata.name=<ns>`, which RBAC matches against `resourceNames`).
 */
export const clusterScopedRules: ReadonlyArray<Rule> = [
  {
    apiGroups: [""],
    resources: ["namespaces"],
    verbs: ["list", "watch"],
    onlyNamed: "watchNamespace",
    why: "namespace informer: the managed-by label gates where the operator acts"
  },
  {
    apiGroups: ["ops.vworkspace.io"],
    resources: ["clusters"],
    verbs: ["list", "watch", "patch"],
    why: "Cluster informer; finalizer, and the spec fields the operator clears after registration and rotation (merge patch)"
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
  }
]

/** In the operator's own namespace: the registration token and the agent credentials. */
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
    why: "registration: server-side apply creates the credentials Secret (create cannot be limited by name)"
  },
  {
    apiGroups: [""],
    resources: ["secrets"],
    verbs: ["list", "watch", "patch"],
    names: [Names.agentCredentialsSecret],
    why: "the credentials Secret: watched by name (the agent follows a rotation at once) and written by server-side apply"
  }
]

/**
 * The namespaced kinds the controllers act on. A ClusterRole bound cluster-wide, or, with a watch
 * namespace, bound by a RoleBinding in that namespace only.
 */
export const managerRules: ReadonlyArray<Rule> = [
  {
    apiGroups: ["apps.vworkspace.io"],
    resources: ["applicationinstances"],
    verbs: ["list", "watch", "patch"],
    why: "informer; finalizer add/remove (merge patch under a resourceVersion precondition)"
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
    apiGroups: ["helm.toolkit.fluxcd.io"],
    resources: ["helmreleases"],
    verbs: ["get", "list", "watch", "create", "patch", "delete"],
    why: "informer; server-side apply (patch, and create when absent); uninstall: delete, then get until gone"
  },
  {
    apiGroups: ["source.toolkit.fluxcd.io"],
    resources: ["helmrepositories", "ocirepositories"],
    verbs: ["get", "list", "watch", "create", "patch", "delete"],
    why: "chart sources: the same life cycle as the HelmRelease"
  },
  {
    apiGroups: [""],
    resources: ["events"],
    verbs: ["create"],
    why: "an Event for every condition transition"
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
}

/** Each role's name is `<fullname>-<suffix>`; its binding has the same name. */
const roleSuffix = {
  manager: "manager",
  namespaces: "namespaces",
  connectivity: "connectivity",
  leaderElection: "leader-election",
  controlPlane: "control-plane",
  controlPlaneClusters: "control-plane-clusters"
} as const

export const roleNames = (fullname: string): Record<keyof typeof roleSuffix, string> => ({
  manager: `${fullname}-${roleSuffix.manager}`,
  namespaces: `${fullname}-${roleSuffix.namespaces}`,
  connectivity: `${fullname}-${roleSuffix.connectivity}`,
  leaderElection: `${fullname}-${roleSuffix.leaderElection}`,
  controlPlane: `${fullname}-${roleSuffix.controlPlane}`,
  controlPlaneClusters: `${fullname}-${roleSuffix.controlPlaneClusters}`
})

export const policyRules = (rules: ReadonlyArray<Rule>, parameters: Pick<RbacParameters, NameParameter>) =>
  rules.map((rule): PolicyRule => {
    const name = rule.onlyNamed === undefined ? undefined : parameters[rule.onlyNamed]
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
    {
      apiVersion: rbacApiVersion,
      kind: "Role",
      metadata: { name: names.connectivity, namespace: p.namespace },
      rules: policyRules(operatorNamespaceRules, p)
    },
    binding("RoleBinding", names.connectivity, "Role", p.namespace),
    ...(p.leaderElect
      ? [
          {
            apiVersion: rbacApiVersion,
            kind: "Role",
            metadata: { name: names.leaderElection, namespace: p.namespace },
            rules: policyRules(leaderElectionRules, p)
          },
          binding("RoleBinding", names.leaderElection, "Role", p.namespace)
        ]
      : []),
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

/** The values key each name parameter comes from. */
const valueOf: Record<NameParameter, string> = {
  watchNamespace: ".Values.manager.watchNamespace",
  leaderElectionId: ".Values.manager.leaderElectionId"
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
        ...(r.onlyNamed === undefined
          ? []
          : [`    {{- with ${valueOf[r.onlyNamed]} }}`, "    resourceNames: [{{ . | quote }}]", "    {{- end }}"])
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

/** The chart's RBAC template, generated from the rules above. */
export const chartRbacTemplate = (): string => {
  const { manager, namespaces, connectivity, leaderElection } = roleSuffix
  return `${[
    "{{- /* Generated by `npm run crds` from src/rbac.ts. Do not edit by hand. */ -}}",
    "{{- if .Values.rbac.create }}",
    "apiVersion: rbac.authorization.k8s.io/v1",
    "kind: ClusterRole",
    metadataLines(manager),
    "rules:",
    templateRules(managerRules),
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
    "---",
    "apiVersion: rbac.authorization.k8s.io/v1",
    "kind: ClusterRole",
    metadataLines(namespaces),
    "rules:",
    templateRules(clusterScopedRules),
    "---",
    "apiVersion: rbac.authorization.k8s.io/v1",
    "kind: ClusterRoleBinding",
    metadataLines(namespaces),
    bindingBody(namespaces, "ClusterRole"),
    "---",
    "apiVersion: rbac.authorization.k8s.io/v1",
    "kind: Role",
    metadataLines(connectivity, "{{ .Release.Namespace }}"),
    "rules:",
    templateRules(operatorNamespaceRules),
    "---",
    "apiVersion: rbac.authorization.k8s.io/v1",
    "kind: RoleBinding",
    metadataLines(connectivity, "{{ .Release.Namespace }}"),
    bindingBody(connectivity, "Role"),
    "{{- if .Values.manager.leaderElect }}",
    "---",
    "apiVersion: rbac.authorization.k8s.io/v1",
    "kind: Role",
    metadataLines(leaderElection, "{{ .Release.Namespace }}"),
    "rules:",
    templateRules(leaderElectionRules),
    "---",
    "apiVersion: rbac.authorization.k8s.io/v1",
    "kind: RoleBinding",
    metadataLines(leaderElection, "{{ .Release.Namespace }}"),
    bindingBody(leaderElection, "Role"),
    "{{- end }}",
    pushTemplate(),
    "{{- end }}"
  ].join("\n")}\n`
}
