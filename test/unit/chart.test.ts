/**
 * The Helm chart, rendered by the real `helm template` (test/support/helm.ts) with default and
 * overridden values: what it installs, that its RBAC is exactly src/rbac.ts, that the Deployment's
 * arguments are ones the `run` command accepts and means, and that values.schema.json refuses
 * wrong values with helm's own message. NOTES.txt needs `helm install --dry-run` against an API
 * server: test/integration/chart.test.ts checks it, with the server-side dry run of every object.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { Either, Option } from "effect"
import { describe, expect, it } from "vitest"
import YAML from "yaml"
import { parseRunFlags } from "../../src/cli/run.js"
import { chartRbacTemplate, chartRbacTemplatePath, rbacObjects } from "../../src/rbac.js"
import { HelmError, chartDir, chartMetadata, defaultValues, renderChart, type RenderOptions } from "../support/helm.js"

const repoRoot = path.join(import.meta.dirname, "../..")
const release = { releaseName: "ops", namespace: "vworkspace-system" } as const
const fullname = "ops-vworkspace-operator"

type Obj = Record<string, unknown>
const rec = (v: unknown): Obj => (typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Obj) : {})
const arr = (v: unknown): ReadonlyArray<unknown> => (Array.isArray(v) ? v : [])

const render = (values: Obj = {}, options: Partial<RenderOptions> = {}) => renderChart({ ...release, ...options, values })
const ofKind = (objects: ReadonlyArray<Obj>, kind: string) => objects.filter((o) => o["kind"] === kind)
const only = (objects: ReadonlyArray<Obj>, kind: string): Obj => {
  const found = ofKind(objects, kind)
  expect(found.map((o) => rec(o["metadata"])["name"]), `exactly one ${kind}`).toHaveLength(1)
  return found[0]!
}

const named = (objects: ReadonlyArray<Obj>, kind: string, name: string): Obj => {
  const found = ofKind(objects, kind).find((o) => rec(o["metadata"])["name"] === name)
  expect(found, `${kind} ${name}`).toBeDefined()
  return found ?? {}
}

const podSpec = (objects: ReadonlyArray<Obj>) => rec(rec(rec(only(objects, "Deployment")["spec"])["template"])["spec"])
const manager = (objects: ReadonlyArray<Obj>) => {
  const containers = arr(podSpec(objects)["containers"]).map(rec)
  expect(containers.map((c) => c["name"])).toEqual(["manager"])
  return containers[0]!
}

const withoutLabels = (o: Obj): Obj => {
  const { labels: _labels, ...metadata } = rec(o["metadata"])
  return { ...o, metadata }
}
const rbacKinds = new Set(["ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"])
const identity = (o: Obj) => {
  const m = rec(o["metadata"])
  return `${String(o["kind"])}/${String(m["namespace"] ?? "")}/${String(m["name"])}`
}
/** helm orders objects by kind for installation; compare RBAC objects in a fixed order. */
const sorted = (objects: ReadonlyArray<Obj>) => [...objects].sort((a, b) => identity(a).localeCompare(identity(b)))
const renderedRbac = (objects: ReadonlyArray<Obj>) =>
  sorted(objects.filter((o) => rbacKinds.has(String(o["kind"]))).map(withoutLabels))
const generatedRbac = (...args: Parameters<typeof rbacObjects>) => sorted(rbacObjects(...args))

/** Parses container args with the real `run` command, as the image's entrypoint would. */
const parseRunArgs = async (args: ReadonlyArray<string>) => {
  expect(args[0]).toBe("run")
  return Either.getOrThrowWith(parseRunFlags(args.slice(1), {}), (e) => new Error(e.message))
}

describe("Chart.yaml and values.yaml", () => {
  it("identifies the chart and its Kubernetes floor; appVersion is the package version", () => {
    const pkg = rec(JSON.parse(fs.readFileSync(path.join(repoRoot, "package.json"), "utf8")))
    expect(chartMetadata()).toMatchObject({
      apiVersion: "v2",
      name: "vworkspace-operator",
      type: "application",
      version: "0.1.0",
      appVersion: pkg["version"],
      kubeVersion: ">=1.28.0-0"
    })
  })

  it("has the documented defaults", () => {
    expect(defaultValues()).toMatchObject({
      image: { repository: "vworkspace/vworkspace-operator", tag: "", pullPolicy: "IfNotPresent" },
      replicaCount: 1,
      serviceAccount: { create: true, name: "" },
      rbac: { create: true },
      manager: {
        leaderElect: true,
        leaderElectionId: "dad03b25.vworkspace.io",
        healthProbeBindAddress: ":8081",
        namespaceSelector: "managed-by=vworkspace",
        watchNamespace: "",
        clusterId: "",
        logLevel: "info",
        maxConcurrentReconciles: 4
      },
      approvalClaimSecret: { name: "", key: "approval-claim-secret" },
      velero: { namespace: "velero" },
      podDisruptionBudget: { minAvailable: 1 },
      webhooks: { enabled: true, port: 9443, timeoutSeconds: 5, failurePolicy: "Fail", certManager: { enabled: false } },
      admissionPolicies: { enabled: true },
      metrics: {
        enabled: true,
        bindPort: 8443,
        secure: true,
        service: { enabled: false, port: 8443 },
        serviceMonitor: { enabled: false, interval: "30s" },
        certManager: { enabled: false, issuerRef: { name: "", kind: "Issuer" } }
      },
      tracing: { endpoint: "" },
      networkPolicy: { enabled: false },
      resources: { requests: { cpu: "10m", memory: "64Mi" }, limits: { cpu: "500m", memory: "256Mi" } },
      podSecurityContext: { runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } },
      securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } },
      nodeSelector: {},
      tolerations: [],
      affinity: {}
    })
  })

  it("CRDs are in Helm's crds/ directory, not rendered as templates", () => {
    expect(fs.readdirSync(path.join(chartDir, "crds")).sort()).toEqual([
      "apps.vworkspace.io_applicationinstances.yaml",
      "ops.vworkspace.io_clusters.yaml",
      "ops.vworkspace.io_operations.yaml"
    ])
    expect(ofKind(render().objects, "CustomResourceDefinition")).toEqual([])
  })
})

describe("rendered with default values", () => {
  const { objects } = render()

  it("installs a Deployment, its ServiceAccount and the RBAC, all named after the release", () => {
    expect(objects.map((o) => `${String(o["kind"])}/${String(rec(o["metadata"])["name"])}`).sort()).toEqual(
      [
        `Deployment/${fullname}`,
        `ServiceAccount/${fullname}`,
        `ClusterRole/${fullname}-manager`,
        `ClusterRoleBinding/${fullname}-manager`,
        `ClusterRole/${fullname}-namespaces`,
        `ClusterRoleBinding/${fullname}-namespaces`,
        `ClusterRole/${fullname}-managed-namespace`,
        `ClusterRole/${fullname}-metrics-reader`,
        `Role/${fullname}-connectivity`,
        `RoleBinding/${fullname}-connectivity`,
        `Role/${fullname}-leader-election`,
        `RoleBinding/${fullname}-leader-election`,
        `Service/${fullname}-webhook`,
        `ValidatingWebhookConfiguration/${fullname}`,
        `ConfigMap/${fullname}-admission-params`,
        `ValidatingAdmissionPolicy/${fullname}-applicationinstance`,
        `ValidatingAdmissionPolicy/${fullname}-operation`,
        `ValidatingAdmissionPolicyBinding/${fullname}-applicationinstance`,
        `ValidatingAdmissionPolicyBinding/${fullname}-operation`
      ].sort()
    )
    for (const o of objects.filter((o) => !String(o["kind"]).startsWith("Cluster") && !String(o["kind"]).startsWith("Validating"))) {
      expect(rec(o["metadata"])["namespace"], `${String(o["kind"])} namespace`).toBe(release.namespace)
    }
    for (const o of objects) {
      expect(rec(o["metadata"])["labels"]).toMatchObject({
        "app.kubernetes.io/name": "vworkspace-operator",
        "app.kubernetes.io/instance": "ops",
        "app.kubernetes.io/managed-by": "Helm",
        "helm.sh/chart": "vworkspace-operator-0.1.0"
      })
    }
  })

  it("the RBAC is exactly src/rbac.ts, bound to the Deployment's ServiceAccount", () => {
    const serviceAccountName = String(podSpec(objects)["serviceAccountName"])
    expect(serviceAccountName).toBe(fullname)
    expect(renderedRbac(objects)).toEqual(
      generatedRbac({
        fullname,
        namespace: release.namespace,
        serviceAccountName,
        leaderElect: true,
        leaderElectionId: "dad03b25.vworkspace.io"
      })
    )
  })

  it("the committed RBAC template is the one generated from src/rbac.ts", () => {
    expect(fs.readFileSync(path.join(repoRoot, chartRbacTemplatePath), "utf8")).toBe(chartRbacTemplate())
  })

  it("runs the image's `run` command with arguments it accepts, meaning the values", async () => {
    const c = manager(objects)
    expect(c["image"]).toBe("vworkspace/vworkspace-operator:0.1.0")
    expect(c["imagePullPolicy"]).toBe("IfNotPresent")
    const args = arr(c["args"]).map(String)
    expect(args[0]).toBe("run")
    const parsed = await parseRunArgs(args)
    expect(parsed).toMatchObject({
      leaderElect: true,
      leaderElectionId: "dad03b25.vworkspace.io",
      healthProbeBindAddress: ":8081",
      namespaceSelector: "managed-by=vworkspace",
      maxConcurrentReconciles: 4,
      resyncPeriodSeconds: 600,
      logLevel: "info",
      veleroNamespace: "velero"
    })
    expect(args.some((a) => a.startsWith("--watch-namespace") || a.startsWith("--cluster-id"))).toBe(false)
  })

  it("reads the approval claim secret from the named Secret, never from a value", () => {
    const c = manager(render({ approvalClaimSecret: { name: "ops-approvals", key: "hmac" } }).objects)
    expect(c["env"]).toContainEqual({
      name: "VWORKSPACE_APPROVAL_CLAIM_SECRET",
      valueFrom: { secretKeyRef: { name: "ops-approvals", key: "hmac" } }
    })
    expect(arr(c["args"]).map(String).some((a) => a.startsWith("--approval-claim-secret"))).toBe(false)
  })

  it("gives the pod its namespace, probes on the health port, and a locked-down security context", () => {
    const c = manager(objects)
    expect(c["env"]).toEqual([
      { name: "POD_NAMESPACE", valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } },
      { name: "NODE_OPTIONS", value: "--max-old-space-size=192 --optimize-for-size" }
    ])
    expect(c["ports"]).toEqual([
      { name: "health", containerPort: 8081, protocol: "TCP" },
      { name: "metrics", containerPort: 8443, protocol: "TCP" },
      { name: "webhook", containerPort: 9443, protocol: "TCP" }
    ])
    expect(c["livenessProbe"]).toMatchObject({ httpGet: { path: "/healthz", port: "health" } })
    expect(c["readinessProbe"]).toMatchObject({ httpGet: { path: "/readyz", port: "health" } })
    expect(c["securityContext"]).toEqual({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ["ALL"] }
    })
    expect(c["resources"]).toEqual({ requests: { cpu: "10m", memory: "64Mi" }, limits: { cpu: "500m", memory: "256Mi" } })
    // runAsNonRoot needs a numeric user: the image's USER is the name `node`.
    expect(podSpec(objects)["securityContext"]).toEqual({
      runAsNonRoot: true,
      runAsUser: 1000,
      runAsGroup: 1000,
      seccompProfile: { type: "RuntimeDefault" }
    })
    const deployment = only(objects, "Deployment")
    const selector = rec(rec(deployment["spec"])["selector"])["matchLabels"]
    expect(rec(rec(rec(deployment["spec"])["template"])["metadata"])["labels"]).toEqual(selector)
    expect(rec(deployment["spec"])["replicas"]).toBe(1)
  })
})

describe("rendered with overrides", () => {
  it("watchNamespace: manager rules bound in that namespace only, Namespace reads limited to it", async () => {
    const { objects } = render({ manager: { watchNamespace: "apps", clusterId: "eu-1", logLevel: "debug" } })
    expect(renderedRbac(objects)).toEqual(
      generatedRbac({
        fullname,
        namespace: release.namespace,
        serviceAccountName: fullname,
        leaderElect: true,
        leaderElectionId: "dad03b25.vworkspace.io",
        watchNamespace: "apps"
      })
    )
    expect(ofKind(objects, "ClusterRoleBinding").map((o) => rec(o["metadata"])["name"])).toEqual([`${fullname}-namespaces`])
    const binding = ofKind(objects, "RoleBinding").find((o) => rec(o["metadata"])["name"] === `${fullname}-manager`)
    expect(rec(binding?.["metadata"])["namespace"]).toBe("apps")
    const namespaces = ofKind(objects, "ClusterRole").find((o) => rec(o["metadata"])["name"] === `${fullname}-namespaces`)
    expect(arr(namespaces?.["rules"])[0]).toEqual({
      apiGroups: [""],
      resources: ["namespaces"],
      verbs: ["get", "list", "watch"],
      resourceNames: ["apps"]
    })
    // The Pull agent creates missing target namespaces: create is never limited by name.
    expect(arr(namespaces?.["rules"])).toContainEqual({ apiGroups: [""], resources: ["namespaces"], verbs: ["create"] })
    const parsed = await parseRunArgs(arr(manager(objects)["args"]).map(String))
    expect(parsed).toMatchObject({ logLevel: "debug" })
    expect(JSON.stringify(parsed)).toContain('"watchNamespace":{"_id":"Option","_tag":"Some","value":"apps"}')
    expect(JSON.stringify(parsed)).toContain('"clusterId":{"_id":"Option","_tag":"Some","value":"eu-1"}')
  })

  it("leaderElect=false: no leader-election Role, and the flag says so", async () => {
    const { objects } = render({ manager: { leaderElect: false } })
    const names = (kind: string) => ofKind(objects, kind).map((o) => rec(o["metadata"])["name"])
    expect(names("Role")).toEqual([`${fullname}-connectivity`])
    expect(names("RoleBinding")).toEqual([`${fullname}-connectivity`])
    expect(await parseRunArgs(arr(manager(objects)["args"]).map(String))).toMatchObject({ leaderElect: false })
  })

  it("connectivity: the mode and its settings reach the run command; an unknown mode is refused", async () => {
    const gitops = render({
      manager: { clusterId: "eu-1" },
      connectivity: { mode: "gitops", reportEvents: true, gitops: { url: "https://git.example.test/fleet.git", secretRef: "git-read" } }
    })
    const parsed = await parseRunArgs(arr(manager(gitops.objects)["args"]).map(String))
    expect(parsed).toMatchObject({
      connectivityMode: "gitops",
      reportEvents: true,
      gitopsBranch: "main",
      gitopsIntervalSeconds: 60,
      gitopsNamespace: "flux-system"
    })
    expect(JSON.stringify(parsed)).toContain('"gitopsSecret":{"_id":"Option","_tag":"Some","value":"git-read"}')
    expect(() => render({ connectivity: { mode: "carrier-pigeon" } })).toThrow(
      "at '/connectivity/mode': value must be one of 'pull', 'push', 'gitops'"
    )
    expect(() => render({ connectivity: { mode: "gitops" } })).toThrow(/gitops.url and manager.clusterId/)
  })

  it("push mode: the control plane's ServiceAccount, with our CRDs in the listed namespaces only", () => {
    const { objects } = render({ connectivity: { mode: "push", push: { namespaces: ["org-a", "org-b"] } } })
    expect(renderedRbac(objects)).toEqual(
      generatedRbac({
        fullname,
        namespace: release.namespace,
        serviceAccountName: fullname,
        leaderElect: true,
        leaderElectionId: "dad03b25.vworkspace.io",
        pushNamespaces: ["org-a", "org-b"]
      }).filter((o) => o.kind !== "ServiceAccount")
    )
    expect(ofKind(objects, "ServiceAccount").map((o) => rec(o["metadata"])["name"]).sort()).toEqual(
      [fullname, "vworkspace-control-plane"].sort()
    )
  })

  it("more than one replica without leader election is refused", () => {
    expect(() => render({ replicaCount: 2, manager: { leaderElect: false } })).toThrow(HelmError)
    expect(() => render({ replicaCount: 2, manager: { leaderElect: false } })).toThrow(
      "replicaCount > 1 needs manager.leaderElect=true"
    )
    expect(rec(only(render({ replicaCount: 2 }).objects, "Deployment")["spec"])["replicas"]).toBe(2)
  })

  it("one replica has no PodDisruptionBudget; two get one that keeps a pod, and an impossible one is refused", () => {
    expect(ofKind(render().objects, "PodDisruptionBudget")).toEqual([])
    const { objects } = render({ replicaCount: 2 })
    const pdb = only(objects, "PodDisruptionBudget")
    const podLabels = rec(rec(rec(only(objects, "Deployment")["spec"])["template"])["metadata"])["labels"]
    expect(pdb["spec"]).toEqual({ minAvailable: 1, selector: { matchLabels: podLabels } })
    expect(rec(only(render({ replicaCount: 3, podDisruptionBudget: { minAvailable: "50%" } }).objects, "PodDisruptionBudget")["spec"])).toMatchObject({
      minAvailable: "50%"
    })
    expect(() => render({ replicaCount: 2, podDisruptionBudget: { minAvailable: 2 } })).toThrow(
      "podDisruptionBudget.minAvailable (2) must be below replicaCount (2)"
    )
  })

  it("rbac.create=false and serviceAccount.create=false render neither, and the pod uses the named account", () => {
    const { objects } = render({
      rbac: { create: false },
      serviceAccount: { create: false, name: "existing" },
      webhooks: { enabled: false },
      admissionPolicies: { enabled: false }
    })
    expect(objects.map((o) => o["kind"])).toEqual(["Deployment"])
    expect(podSpec(objects)["serviceAccountName"]).toBe("existing")
  })

  it("a named ServiceAccount is the one the bindings name", () => {
    const { objects } = render({ serviceAccount: { name: "operator" } })
    expect(rec(only(objects, "ServiceAccount")["metadata"])["name"]).toBe("operator")
    for (const b of objects.filter((o) => ["RoleBinding", "ClusterRoleBinding"].includes(String(o["kind"])))) {
      expect(b["subjects"]).toEqual([{ kind: "ServiceAccount", name: "operator", namespace: release.namespace }])
    }
  })

  it("the metrics Service targets the container's metrics port, where /metrics is served", () => {
    const { objects } = render({ metrics: { service: { enabled: true, port: 9090 }, bindPort: 8444 } })
    const service = named(objects, "Service", `${fullname}-metrics`)
    expect(rec(service["metadata"])["name"]).toBe(`${fullname}-metrics`)
    expect(rec(service["spec"])["ports"]).toEqual([{ name: "metrics", port: 9090, targetPort: "metrics", protocol: "TCP" }])
    expect(manager(objects)["ports"]).toContainEqual({ name: "metrics", containerPort: 8444, protocol: "TCP" })
    const podLabels = rec(rec(rec(only(objects, "Deployment")["spec"])["template"])["metadata"])["labels"]
    expect(rec(service["spec"])["selector"]).toEqual(podLabels)
    expect(() => render({ metrics: { enabled: false, service: { enabled: true } } })).toThrow("need metrics.enabled=true")
    const off = render({ metrics: { enabled: false } }).objects
    expect(arr(manager(off)["ports"]).map((p) => rec(p)["name"])).toEqual(["health", "webhook"])
  })

  it("a ServiceMonitor only with the monitoring.coreos.com/v1 API: it scrapes the metrics Service over HTTPS with a token", () => {
    const values = { metrics: { serviceMonitor: { enabled: true, interval: "15s", labels: { release: "prometheus" } } } }
    expect(ofKind(render().objects, "ServiceMonitor")).toEqual([])
    expect(() => render(values)).toThrow("metrics.serviceMonitor.enabled needs the monitoring.coreos.com/v1 ServiceMonitor API")
    const { objects } = render(values, { apiVersions: ["monitoring.coreos.com/v1"] })
    const monitor = only(objects, "ServiceMonitor")
    const service = named(objects, "Service", `${fullname}-metrics`)
    expect(monitor["apiVersion"]).toBe("monitoring.coreos.com/v1")
    expect(rec(monitor["metadata"])["labels"]).toMatchObject({ release: "prometheus" })
    const selector = rec(rec(rec(monitor["spec"])["selector"])["matchLabels"])
    expect(rec(service["metadata"])["labels"]).toMatchObject(selector)
    expect(rec(monitor["spec"])["namespaceSelector"]).toEqual({ matchNames: [release.namespace] })
    expect(rec(monitor["spec"])["endpoints"]).toEqual([
      {
        port: "metrics",
        path: "/metrics",
        interval: "15s",
        scheme: "https",
        bearerTokenFile: "/var/run/secrets/kubernetes.io/serviceaccount/token",
        tlsConfig: { insecureSkipVerify: true }
      }
    ])
    const plain = render({ metrics: { secure: false, serviceMonitor: { enabled: true } } }, { apiVersions: ["monitoring.coreos.com/v1"] })
    expect(arr(rec(only(plain.objects, "ServiceMonitor")["spec"])["endpoints"])).toEqual([
      { port: "metrics", path: "/metrics", interval: "30s", scheme: "http" }
    ])
  })

  it("cert-manager: a Certificate per endpoint, mounted where the run flags point; the ServiceMonitor then verifies the metrics certificate", async () => {
    const issuerRef = { name: "internal-ca", kind: "ClusterIssuer" }
    const values = { webhooks: { certManager: { enabled: true, issuerRef } }, metrics: { certManager: { enabled: true, issuerRef }, serviceMonitor: { enabled: true } } }
    const { objects } = render(values, { apiVersions: ["monitoring.coreos.com/v1"] })
    const certificates = ofKind(objects, "Certificate").map((c) => rec(c["spec"]))
    expect(certificates.map((c) => [c["secretName"], c["dnsNames"], c["issuerRef"]])).toEqual(
      ["metrics", "webhook"].map((endpoint) => [
        `${fullname}-${endpoint}-tls`,
        [`${fullname}-${endpoint}.${release.namespace}.svc`, `${fullname}-${endpoint}.${release.namespace}.svc.cluster.local`],
        issuerRef
      ])
    )
    const parsed = await parseRunArgs(arr(manager(objects)["args"]).map(String))
    const mounts = arr(manager(objects)["volumeMounts"]).map(rec)
    const volumes = arr(podSpec(objects)["volumes"]).map(rec)
    const secretAt = (dir: string) => {
      const mount = mounts.find((m) => m["mountPath"] === dir)
      return rec(volumes.find((v) => v["name"] === mount?.["name"])?.["secret"])["secretName"]
    }
    expect(secretAt(Option.getOrThrow(parsed.webhookCertDir))).toBe(`${fullname}-webhook-tls`)
    expect(secretAt(Option.getOrThrow(parsed.metricsCertDir))).toBe(`${fullname}-metrics-tls`)
    expect(rec(arr(rec(only(objects, "ServiceMonitor")["spec"])["endpoints"])[0])["tlsConfig"]).toEqual({
      serverName: `${fullname}-metrics.${release.namespace}.svc`,
      ca: { secret: { name: `${fullname}-metrics-tls`, key: "ca.crt" } }
    })
    expect(() => render({ metrics: { secure: false, certManager: { enabled: true, issuerRef } } })).toThrow(
      "metrics.certManager.enabled needs metrics.enabled=true, metrics.secure=true and metrics.certManager.issuerRef.name"
    )
    // Without cert-manager: no Certificate, no mounts, no cert-dir flags.
    expect(ofKind(render().objects, "Certificate")).toEqual([])
    expect(manager(render().objects)["volumeMounts"]).toBeUndefined()
  })

  it("the NetworkPolicy admits only the health, webhook and metrics ports, and lets out only DNS, the API server and the control plane", () => {
    expect(ofKind(render().objects, "NetworkPolicy")).toEqual([])
    const prometheus = { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "monitoring" } } }
    const { objects } = render({
      networkPolicy: {
        enabled: true,
        metricsFrom: [prometheus],
        apiServer: { cidrs: ["10.96.0.1/32", "192.168.10.5/32"] },
        controlPlane: { cidrs: ["203.0.113.7/32"] }
      }
    })
    const policy = only(objects, "NetworkPolicy")
    const podLabels = rec(rec(rec(only(objects, "Deployment")["spec"])["template"])["metadata"])["labels"]
    const tcp = (port: number | string) => ({ port, protocol: "TCP" })
    expect(policy["spec"]).toEqual({
      podSelector: { matchLabels: podLabels },
      policyTypes: ["Ingress", "Egress"],
      ingress: [{ ports: [tcp("health")] }, { ports: [tcp(9443)] }, { ports: [tcp("metrics")], from: [prometheus] }],
      egress: [
        { ports: [{ port: 53, protocol: "UDP" }, tcp(53)] },
        { ports: [tcp(443), tcp(6443)], to: [{ ipBlock: { cidr: "10.96.0.1/32" } }, { ipBlock: { cidr: "192.168.10.5/32" } }] },
        { ports: [tcp(443)], to: [{ ipBlock: { cidr: "203.0.113.7/32" } }] }
      ]
    })
    // Without the webhook server and metrics, only the probes may come in.
    const closed = render({ networkPolicy: { enabled: true }, webhooks: { port: 0 }, metrics: { enabled: false } })
    expect(rec(only(closed.objects, "NetworkPolicy")["spec"])["ingress"]).toEqual([{ ports: [tcp("health")] }])
    const extra = { to: [{ ipBlock: { cidr: "198.51.100.0/24" } }], ports: [tcp(4318)] }
    const traced = render({ networkPolicy: { enabled: true, extraEgress: [extra] } })
    expect(arr(rec(only(traced.objects, "NetworkPolicy")["spec"])["egress"]).at(-1)).toEqual(extra)
  })

  it("the health port follows healthProbeBindAddress; image tag and scheduling come from values", () => {
    const { objects } = render({
      manager: { healthProbeBindAddress: "0.0.0.0:9440" },
      image: { repository: "registry.example.test/ops/operator", tag: "v0.1.0" },
      nodeSelector: { "kubernetes.io/os": "linux" },
      tolerations: [{ key: "dedicated", operator: "Exists" }]
    })
    const c = manager(objects)
    expect(c["ports"]).toContainEqual({ name: "health", containerPort: 9440, protocol: "TCP" })
    expect(c["image"]).toBe("registry.example.test/ops/operator:v0.1.0")
    expect(podSpec(objects)).toMatchObject({
      nodeSelector: { "kubernetes.io/os": "linux" },
      tolerations: [{ key: "dedicated", operator: "Exists" }]
    })
    expect(podSpec(objects)["affinity"]).toBeUndefined()
  })

  it("the full name: the release name when it contains the chart name, the override when given", () => {
    const named = (values: Obj, releaseName: string) =>
      rec(only(render(values, { releaseName }).objects, "Deployment")["metadata"])["name"]
    expect(named({}, "vworkspace-operator")).toBe("vworkspace-operator")
    expect(named({}, "ops")).toBe("ops-vworkspace-operator")
    expect(named({ fullnameOverride: "operator" }, "ops")).toBe("operator")
    expect(named({ nameOverride: "vwo" }, "ops")).toBe("ops-vwo")
  })
})

describe("values.schema.json", () => {
  it("is draft-07 and describes every key of values.yaml, so a misspelt key is refused", () => {
    const schema = rec(JSON.parse(fs.readFileSync(path.join(chartDir, "values.schema.json"), "utf8")))
    expect(schema["$schema"]).toBe("http://json-schema.org/draft-07/schema#")
    // Every mapping in values.yaml is a closed object in the schema (free-form ones excepted).
    const freeForm = new Set(["podSecurityContext", "securityContext", "affinity", "global"])
    const missing: Array<string> = []
    const walk = (values: Obj, node: Obj, at: string) => {
      for (const [key, value] of Object.entries(values)) {
        const child = rec(rec(node["properties"])[key])
        if (Object.keys(child).length === 0) missing.push(`${at}${key}`)
        else if (rec(value) === value && Object.keys(value).length > 0 && !freeForm.has(key) && child["additionalProperties"] === false) {
          walk(rec(value), child, `${at}${key}.`)
        }
      }
    }
    walk(defaultValues(), schema, "")
    expect(missing).toEqual([])
    expect(() => render({ replicas: 2 })).toThrow("additional properties 'replicas' not allowed")
    expect(() => render({ metrics: { serviceMonitor: { enable: true } } })).toThrow("additional properties 'enable' not allowed")
  })

  it("a wrong type or value is refused with helm's message naming the key", () => {
    const refused: ReadonlyArray<readonly [Obj, string]> = [
      [{ replicaCount: "two" }, "at '/replicaCount': got string, want integer"],
      [{ manager: { leaderElect: "maybe" } }, "at '/manager/leaderElect': got string, want boolean"],
      [{ webhooks: { port: 70000 } }, "at '/webhooks/port': maximum: got 70,000, want 65,535"],
      [{ webhooks: { failurePolicy: "Retry" } }, "at '/webhooks/failurePolicy': value must be one of 'Fail', 'Ignore'"],
      [{ metrics: { serviceMonitor: { interval: "soon" } } }, "at '/metrics/serviceMonitor/interval'"],
      [{ metrics: { bindPort: "8443" } }, "at '/metrics/bindPort': got string, want integer"],
      [{ tracing: { endpoint: "collector:4318" } }, "at '/tracing/endpoint'"],
      [{ networkPolicy: { enabled: "true" } }, "at '/networkPolicy/enabled': got string, want boolean"],
      [{ podDisruptionBudget: { minAvailable: "half" } }, "at '/podDisruptionBudget/minAvailable'"],
      [{ connectivity: { push: { namespaces: "org-a" } } }, "at '/connectivity/push/namespaces': got string, want array"],
      [{ image: { pullPolicy: "Sometimes" } }, "at '/image/pullPolicy': value must be one of 'Always', 'IfNotPresent', 'Never'"]
    ]
    const messages = refused.map(([values]) => {
      try {
        render(values)
        return "rendered"
      } catch (error) {
        return error instanceof HelmError ? error.message : String(error)
      }
    })
    refused.forEach(([values, expected], i) => {
      expect(messages[i], JSON.stringify(values)).toContain("values don't meet the specifications of the schema(s)")
      expect(messages[i], JSON.stringify(values)).toContain(expected)
    })
  })

  it("every example values file renders, each in its mode", () => {
    const examples = fs.readdirSync(path.join(chartDir, "examples")).sort()
    expect(examples).toEqual(["gitops.yaml", "ha.yaml", "pull.yaml", "push.yaml"])
    const modes = examples.map((file) => {
      const values = rec(YAML.parse(fs.readFileSync(path.join(chartDir, "examples", file), "utf8")))
      const { objects } = render(values, { apiVersions: ["monitoring.coreos.com/v1"] })
      const args = arr(manager(objects)["args"]).map(String)
      return [file, args.find((a) => a.startsWith("--connectivity-mode=")), ofKind(objects, "PodDisruptionBudget").length] as const
    })
    expect(modes).toEqual([
      ["gitops.yaml", "--connectivity-mode=gitops", 0],
      ["ha.yaml", "--connectivity-mode=pull", 1],
      ["pull.yaml", "--connectivity-mode=pull", 0],
      ["push.yaml", "--connectivity-mode=push", 0]
    ])
  })
})
