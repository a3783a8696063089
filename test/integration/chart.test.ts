/**
 * The chart as users install it, against the real test API server: `helm lint --strict` is clean,
 * `helm template` with the default, Pull, Push, GitOps and HA values renders objects the API
 * server accepts (a strict server-side dry-run apply of each, after the chart's crds/ and
 * prometheus-operator's ServiceMonitor CRD are installed), NOTES.txt (only `helm install` renders
 * it) gives each mode's bootstrap steps, and values.schema.json refuses a wrong type.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import YAML from "yaml"
import { applyCrds, readCrdDir } from "../../src/devcluster/index.js"
import { adminTarget, apiServerVersion, createTestNamespace, kubeconfigPath } from "../support/cluster.js"
import { dryRunApply } from "../support/dryRunApply.js"
import { HelmError, chartDir, installDryRun, lintChart, renderChart } from "../support/helm.js"

type Values = Record<string, unknown>
const rec = (v: unknown): Values => (typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Values) : {})

const exampleFiles = ["pull.yaml", "push.yaml", "gitops.yaml", "ha.yaml"] as const
const example = (file: string): Values => rec(YAML.parse(fs.readFileSync(path.join(chartDir, "examples", file), "utf8")))

/** The run's cluster has every CRD the chart's objects need (the harness installs the third-party ones, ServiceMonitor included). */
const installCrds = Effect.gen(function* () {
  const own = yield* readCrdDir(path.join(chartDir, "crds"))
  expect(own.map((c) => c.name).sort()).toEqual([
    "applicationinstances.apps.vworkspace.io",
    "clusters.ops.vworkspace.io",
    "operations.ops.vworkspace.io"
  ])
  yield* applyCrds(yield* adminTarget, own)
})

describe("helm lint", () => {
  it("is clean with --strict for the default values and every example", () => {
    for (const file of ["values.yaml", ...exampleFiles]) {
      const values = file === "values.yaml" ? {} : example(file)
      const out = lintChart({ releaseName: "ops", namespace: "vworkspace-system", values, strict: true })
      expect(out, file).toContain("1 chart(s) linted, 0 chart(s) failed")
      expect(out, file).not.toMatch(/\[(WARNING|ERROR)\]/)
    }
  })
})

describe("the chart against the API server", () => {
  it.scoped(
    "every object rendered with the default, Pull, Push, GitOps and HA values passes a strict server-side dry-run apply",
    () =>
      Effect.gen(function* () {
        yield* installCrds
        const kubeVersion = (yield* apiServerVersion).gitVersion
        const releaseNs = yield* createTestNamespace("chart")
        const appNs = yield* createTestNamespace("chart-apps", { "managed-by": "vworkspace" })
        const variants: ReadonlyArray<readonly [string, Values]> = [
          ["default", {}],
          ["pull", example("pull.yaml")],
          // The example's org namespaces do not exist here: the RoleBindings go to a test namespace.
          ["push", { ...example("push.yaml"), connectivity: { ...rec(example("push.yaml")["connectivity"]), push: { namespaces: [appNs] } } }],
          // Flux's namespace does not exist here: the GitOps Role goes to a test namespace.
          [
            "gitops",
            {
              ...example("gitops.yaml"),
              connectivity: {
                ...rec(example("gitops.yaml")["connectivity"]),
                gitops: { ...rec(rec(example("gitops.yaml")["connectivity"])["gitops"]), namespace: appNs }
              }
            }
          ],
          ["ha", example("ha.yaml")],
          // Everything else the chart can render at once.
          ["all", { metrics: { service: { enabled: true } }, networkPolicy: { enabled: true, extraEgress: [{ ports: [{ port: 4318 }] }] } }]
        ]
        const results = []
        const kinds = new Set<string>()
        for (const [name, values] of variants) {
          const rendered = renderChart({
            releaseName: `chart-${name}`,
            namespace: releaseNs,
            values,
            kubeVersion,
            apiVersions: ["monitoring.coreos.com/v1"]
          })
          expect(rendered.objects.length, name).toBeGreaterThan(0)
          for (const object of rendered.objects) {
            kinds.add(String(object["kind"]))
            results.push({ variant: name, ...(yield* dryRunApply(object)) })
          }
        }
        expect(results.filter((r) => r.status !== 200 && r.status !== 201)).toEqual([])
        // The dry runs covered every kind the chart renders, ServiceMonitor included.
        expect([...kinds].sort()).toEqual(
          expect.arrayContaining(["Deployment", "NetworkPolicy", "PodDisruptionBudget", "Service", "ServiceAccount", "ServiceMonitor"])
        )
      }),
    // Alone it takes about 20 s; beside the other integration files on 2 cores, several minutes.
    { timeout: 420_000 }
  )

  it.effect("NOTES.txt gives the bootstrap steps of each mode", () =>
    Effect.gen(function* () {
      // helm install checks the ServiceMonitor API of the HA example against the server.
      yield* installCrds
      const notes = (values: Values) =>
        installDryRun({ releaseName: "ops", namespace: "vworkspace-system", values, kubeconfig: kubeconfigPath() }).notes
      const fullname = "ops-vworkspace-operator"

      const pull = notes(example("pull.yaml"))
      expect(pull).toContain(`rollout status deployment/${fullname} --timeout=180s`)
      expect(pull).toContain("kubectl label namespace <namespace> managed-by=vworkspace")
      expect(pull).toContain("registrationTokenSecretRef: { name: cluster-registration, key: registrationToken }")
      expect(pull).toContain(`exec deploy/${fullname} -- node dist/src/cli/main.js register`)
      expect(pull).not.toContain("AwaitingApproval")

      const push = notes(example("push.yaml"))
      expect(push).toContain('"vworkspace-control-plane" in: org-myteam, org-other.')
      expect(push).toContain("kubectl -n vworkspace-system create token vworkspace-control-plane --duration=24h")
      expect(push).toContain("Status reports need a registered Cluster")
      expect(push).not.toContain("registrationTokenSecretRef")
      expect(notes({ connectivity: { mode: "push" } })).toContain("no namespace yet: set connectivity.push.namespaces")

      const gitops = notes(example("gitops.yaml"))
      expect(gitops).toContain("Flux applies ./clusters/cluster-eu-1 of https://git.example.org/fleet/clusters.git (branch main).")
      expect(gitops).toContain('Git credential: Secret "fleet-git-read" in "flux-system"')
      expect(gitops).toContain("kubectl -n flux-system get kustomization vworkspace-cluster")

      const ha = notes({ ...example("ha.yaml"), metrics: { service: { enabled: true } } })
      expect(ha).toContain('2 replicas: one holds Lease "dad03b25.vworkspace.io" and reconciles')
      expect(ha).toContain(`https://${fullname}-metrics.vworkspace-system.svc:8443/metrics`)
      expect(ha).toContain(`bind them to ClusterRole ${fullname}-metrics-reader`)
      expect(ha).toContain("AwaitingApproval")
    }),
    { timeout: 180_000 }
  )

  it.effect("a wrong type is refused by helm install with the key and the expected type", () =>
    Effect.sync(() => {
      const attempt = () =>
        installDryRun({
          releaseName: "ops",
          namespace: "vworkspace-system",
          values: { replicaCount: "2", metrics: { enabled: "yes please" } },
          kubeconfig: kubeconfigPath()
        })
      expect(attempt).toThrow(HelmError)
      const message = (() => {
        try {
          attempt()
          return "installed"
        } catch (error) {
          return error instanceof Error ? error.message : String(error)
        }
      })()
      expect(message).toMatch(/^Error: INSTALLATION FAILED: values don't meet the specifications of the schema\(s\) in the following chart\(s\):\nvworkspace-operator:\n/)
      expect(message).toContain("- at '/replicaCount': got string, want integer")
      expect(message).toContain("- at '/metrics/enabled': got string, want boolean")
    })
  )
})
