/**
 * The operator's RBAC as data: the least privilege the running code needs today, and nothing for
 * features that do not exist yet. This module is the single source of truth for the chart's RBAC
 * template (`npm run crds` writes charts/vworkspace-operator/templates/rbac.yaml from it) and for
 * the integration test that runs the operator with exactly these rights.
 *
 * Every rule says which code path needs it. When code starts making a new kind of call, add the
 * rule here, regenerate, and extend test/integration/rbac.test.ts so the call is exercised.
 */
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
    why: "informer; finalizer add/remove (merge patch under a resourceVersion precondition); upgrade.helm: JSON patch of the chart version and values"
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
  },
  {
    apiGroups: ["ops.vworkspace.io"],
    resources: ["operations"],
    verbs: ["list", "watch", "patch"],
    why: "Operation informer; finalizer add/remove (merge patch under a resourceVersion precondition)"
  },
  {
    apiGroups: ["ops.vworkspace.io"],
    resources: ["operations/status"],
    verbs: ["patch"],
    why: "Operation status: server-side apply to /status"
  },
  {
    apiGroups: ["batch"],
    resources: ["jobs"],
    verbs: ["get", "list", "watch", "create", "delete"],
    why: "job and helmHookJob engines: informer (operation label), create, read back on AlreadyExists, cancel"
  },
  {
    apiGroups: [""],
    resources: ["pods"],
    verbs: ["list", "watch"],
    why: "job engines: the Job's pod is the operation's logsRef (informer, operation label)"
  },
  {
    apiGroups: [""],
    resources: ["serviceaccounts"],
    verbs: ["create"],
    why: "job engines: the runner ServiceAccount vworkspace-operation-runner, created when missing"
  },
  {
    apiGroups: ["velero.io"],
    resources: ["backups", "restores"],
    verbs: ["get", "list", "watch", "create", "delete"],
    why: "velero engine: informer (operation label), create, read back on AlreadyExists, cancel of an unfinished one; in the Velero namespace"
  },
  {
    apiGroups: ["argoproj.io"],
    resources: ["workflows"],
    verbs: ["get", "list", "watch", "create", "delete"],
    why: "workflow engine: informer (operation label), create, read back on AlreadyExists, cancel"
  },
  {
    apiGroups: ["volsync.backube"],
    resources: ["replicationsources", "replicationdestinations"],
    verbs: ["get", "list", "watch", "create", "delete"],
    why: "volsync engine: informer (operation label), create, read back on AlreadyExists, cancel"
  },
  {
    apiGroups: ["snapshot.storage.k8s.io"],
    resources: ["volumesnapshots"],
    verbs: ["get", "list", "watch", "create", "delete"],
    why: "snapshot engine: informer (operation label), create, the snapshot to restore from (get), cancel"
  },
  {
    apiGroups: [""],
    resources: ["persistentvolumeclaims"],
    verbs: ["get", "list", "watch", "create", "delete"],
    why: "snapshot engine: the source PVC must exist (get); a restore creates a PVC from a snapshot (informer, create, cancel)"
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
}

/** Each role's name is `<fullname>-<suffix>`; its binding has the same name. */
const roleSuffix = { manager: "manager", namespaces: "namespaces", leaderElection: "leader-election" } as const

export const roleNames = (fullname: string): Record<keyof typeof roleSuffix, string> => ({
  manager: `${fullname}-${roleSuffix.manager}`,
  namespaces: `${fullname}-${roleSuffix.namespaces}`,
  leaderElection: `${fullname}-${roleSuffix.leaderElection}`
})

export const policyRules = (rules: ReadonlyArray<Rule>, parameters: Pick<RbacParameters, NameParameter>) =>
  rules.map((rule): PolicyRule => {
    const name = rule.onlyNamed === undefined ? undefined : parameters[rule.onlyNamed]
    return {
      apiGroups: rule.apiGroups,
      resources: rule.resources,
      verbs: rule.verbs,
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
      : [])
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

/** The chart's RBAC template, generated from the rules above. */
export const chartRbacTemplate = (): string => {
  const { manager, namespaces, leaderElection } = roleSuffix
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
    "{{- end }}"
  ].join("\n")}\n`
}
