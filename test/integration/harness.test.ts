import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Schedule } from "effect"
import { ETCD_VERSION, K8S_VERSION, projectCrds, request } from "../../src/devcluster/index.js"
import { adminRequest, adminTarget, apiServerVersion, createTestNamespace, credentialsFor, devCluster } from "../support/cluster.js"

const cluster = devCluster()
const ownCluster = cluster !== null

const json = (body: string): Record<string, unknown> => JSON.parse(body) as Record<string, unknown>

/** Retries `check` until it succeeds, for at most `within`; fails with its last error. */
const eventually = <A, E, R>(check: Effect.Effect<A, E, R>, within: Duration.DurationInput = Duration.seconds(15)) =>
  Effect.retry(check, Schedule.spaced(Duration.millis(100)).pipe(Schedule.upTo(within)))

/** A status, as a failure until it is the expected one (for `eventually`). */
const expectStatus = (want: number) => (res: { status: number; body: string }) =>
  res.status === want ? Effect.succeed(res) : Effect.fail(`HTTP ${res.status}: ${res.body.slice(0, 300)}`)

const listConfigMapsAs = (user: string, namespace: string) =>
  adminRequest({ method: "GET", path: `/api/v1/namespaces/${namespace}/configmaps`, headers: { "Impersonate-User": user } })

describe("the test cluster harness", () => {
  describe.runIf(ownCluster)("runs the binaries built from Go modules", () => {
    it.effect("kube-apiserver reports the built Kubernetes release", () =>
      Effect.gen(function* () {
        const v = yield* apiServerVersion
        expect(v.gitVersion).toBe(K8S_VERSION)
        expect(`v${v.major}.${v.minor}`).toBe(K8S_VERSION.split(".").slice(0, 2).join("."))
      }))

    it.effect("etcd reports the built etcd release", () =>
      Effect.gen(function* () {
        const body = yield* Effect.tryPromise(async () => {
          const res = await fetch(`${cluster?.etcdUrl}/version`, { signal: AbortSignal.timeout(5000) })
          return json(await res.text())
        })
        expect(body["etcdserver"]).toBe(ETCD_VERSION.slice(1))
      }))
  })

  describe("RBAC is enforced", () => {
    it.effect.runIf(ownCluster)("an anonymous request is Forbidden", () =>
      Effect.gen(function* () {
        const admin = yield* adminTarget
        expect((yield* adminRequest({ method: "GET", path: "/api/v1/namespaces" })).status).toBe(200)
        // The same server and CA, without the admin client certificate.
        const { cert: _cert, key: _key, agent: _agent, ...anonymous } = admin.options
        const anon = yield* request({ server: admin.server, options: anonymous }, { method: "GET", path: "/api/v1/namespaces" })
        expect(anon.status).toBe(403)
        expect(json(anon.body)["message"]).toContain("system:anonymous")
      }))

    it.scoped.runIf(ownCluster)("a client certificate user without grants is Forbidden", () =>
      Effect.gen(function* () {
        const nobody = yield* credentialsFor("vworkspace-harness-nobody", ["vworkspace-harness-group"])
        const res = yield* request(nobody.target, { method: "GET", path: "/api/v1/namespaces" })
        expect(res.status).toBe(403)
        expect(json(res.body)["message"]).toContain(`User "vworkspace-harness-nobody"`)
        // Authenticated, not anonymous: the server knows the user and the certificate's group.
        const review = yield* request(nobody.target, {
          method: "POST",
          path: "/apis/authentication.k8s.io/v1/selfsubjectreviews",
          body: JSON.stringify({ apiVersion: "authentication.k8s.io/v1", kind: "SelfSubjectReview" })
        })
        expect(review.status).toBe(201)
        const userInfo = (json(review.body)["status"] as { userInfo: { username: string; groups: Array<string> } }).userInfo
        expect(userInfo.username).toBe("vworkspace-harness-nobody")
        expect(userInfo.groups).toContain("vworkspace-harness-group")
      }))

    it.scoped("a Role grants exactly what it names, to whom it is bound", () =>
      Effect.gen(function* () {
        const user = "vworkspace-harness-reader"
        const granted = yield* createTestNamespace("harness-rbac")
        const other = yield* createTestNamespace("harness-rbac-other")

        const before = yield* listConfigMapsAs(user, granted)
        expect(before.status).toBe(403)

        const role = yield* adminRequest({
          method: "POST",
          path: `/apis/rbac.authorization.k8s.io/v1/namespaces/${granted}/roles`,
          body: JSON.stringify({
            apiVersion: "rbac.authorization.k8s.io/v1",
            kind: "Role",
            metadata: { name: "configmap-reader" },
            rules: [{ apiGroups: [""], resources: ["configmaps"], verbs: ["get", "list"] }]
          })
        })
        expect(role.status).toBe(201)
        const binding = yield* adminRequest({
          method: "POST",
          path: `/apis/rbac.authorization.k8s.io/v1/namespaces/${granted}/rolebindings`,
          body: JSON.stringify({
            apiVersion: "rbac.authorization.k8s.io/v1",
            kind: "RoleBinding",
            metadata: { name: "configmap-reader" },
            roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "configmap-reader" },
            subjects: [{ apiGroup: "rbac.authorization.k8s.io", kind: "User", name: user }]
          })
        })
        expect(binding.status).toBe(201)

        // The authorizer reads RBAC objects from its cache, so the grant shows up shortly after.
        yield* eventually(Effect.flatMap(listConfigMapsAs(user, granted), expectStatus(200)))
        expect((yield* listConfigMapsAs(user, other)).status).toBe(403)
        const write = yield* adminRequest({
          method: "POST",
          path: `/api/v1/namespaces/${granted}/configmaps`,
          headers: { "Impersonate-User": user },
          body: JSON.stringify({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "not-allowed" } })
        })
        expect(write.status).toBe(403)
      }))
  })

  describe("CRDs are installed and Established", () => {
    const crdEstablished = (name: string) =>
      Effect.gen(function* () {
        const res = yield* adminRequest({ method: "GET", path: `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${name}` })
        expect(res.status, name).toBe(200)
        const crd = json(res.body) as {
          spec: { versions: Array<{ name: string; served: boolean }> }
          status: { conditions: Array<{ type: string; status: string }> }
        }
        expect(crd.status.conditions.find((c) => c.type === "Established")?.status, name).toBe("True")
        return crd.spec.versions.filter((v) => v.served).map((v) => v.name)
      })

    // The kinds the operator and its tests use, with the API version each must serve.
    const thirdParty: ReadonlyArray<readonly [string, string]> = [
      ["helmreleases.helm.toolkit.fluxcd.io", "v2"],
      ["helmrepositories.source.toolkit.fluxcd.io", "v1"],
      ["ocirepositories.source.toolkit.fluxcd.io", "v1"],
      ["gitrepositories.source.toolkit.fluxcd.io", "v1"],
      ["kustomizations.kustomize.toolkit.fluxcd.io", "v1"],
      ["backups.velero.io", "v1"],
      ["restores.velero.io", "v1"],
      ["workflows.argoproj.io", "v1alpha1"],
      ["replicationsources.volsync.backube", "v1alpha1"],
      ["replicationdestinations.volsync.backube", "v1alpha1"],
      ["volumesnapshots.snapshot.storage.k8s.io", "v1"]
    ]

    it.effect("third-party CRDs from Go modules", () =>
      Effect.gen(function* () {
        for (const [name, version] of thirdParty) {
          expect(yield* crdEstablished(name), name).toContain(version)
        }
      }))

    it.effect("the project's own CRDs from schema/crds", () =>
      Effect.gen(function* () {
        const own = yield* projectCrds()
        expect(own.length).toBeGreaterThan(0)
        for (const crd of own) yield* crdEstablished(crd.name)
      }))

    it.scoped("objects of each third-party kind validate against the real schemas", () =>
      Effect.gen(function* () {
        const ns = yield* createTestNamespace("harness-crs")
        const objects: ReadonlyArray<readonly [string, string, Record<string, unknown>]> = [
          ["/apis/source.toolkit.fluxcd.io/v1", "ocirepositories", { kind: "OCIRepository", spec: { url: "oci://registry.invalid/charts/app", interval: "5m", ref: { tag: "1.0.0" } } }],
          ["/apis/source.toolkit.fluxcd.io/v1", "helmrepositories", { kind: "HelmRepository", spec: { url: "https://charts.invalid", interval: "5m" } }],
          ["/apis/source.toolkit.fluxcd.io/v1", "gitrepositories", { kind: "GitRepository", spec: { url: "https://git.invalid/repo.git", interval: "5m" } }],
          ["/apis/helm.toolkit.fluxcd.io/v2", "helmreleases", { kind: "HelmRelease", spec: { interval: "5m", chartRef: { kind: "OCIRepository", name: "app" } } }],
          ["/apis/kustomize.toolkit.fluxcd.io/v1", "kustomizations", { kind: "Kustomization", spec: { interval: "5m", prune: true, sourceRef: { kind: "GitRepository", name: "repo" } } }],
          ["/apis/velero.io/v1", "backups", { kind: "Backup", spec: { includedNamespaces: [ns] } }],
          ["/apis/velero.io/v1", "restores", { kind: "Restore", spec: { backupName: "backup" } }],
          ["/apis/argoproj.io/v1alpha1", "workflows", { kind: "Workflow", spec: { workflowTemplateRef: { name: "runbook" } } }],
          ["/apis/volsync.backube/v1alpha1", "replicationsources", { kind: "ReplicationSource", spec: { sourcePVC: "data" } }],
          ["/apis/volsync.backube/v1alpha1", "replicationdestinations", { kind: "ReplicationDestination", spec: {} }],
          ["/apis/snapshot.storage.k8s.io/v1", "volumesnapshots", { kind: "VolumeSnapshot", spec: { source: { persistentVolumeClaimName: "data" } } }]
        ]
        for (const [groupVersion, plural, object] of objects) {
          const res = yield* adminRequest({
            method: "POST",
            path: `${groupVersion}/namespaces/${ns}/${plural}`,
            body: JSON.stringify({ apiVersion: groupVersion.slice("/apis/".length), metadata: { name: "sample" }, ...object })
          })
          expect(res.status, `${plural}: ${res.body.slice(0, 500)}`).toBe(201)
        }
        // The CEL rule of the real HelmRelease schema: chart or chartRef, not neither.
        const invalid = yield* adminRequest({
          method: "POST",
          path: `/apis/helm.toolkit.fluxcd.io/v2/namespaces/${ns}/helmreleases`,
          body: JSON.stringify({ apiVersion: "helm.toolkit.fluxcd.io/v2", kind: "HelmRelease", metadata: { name: "neither" }, spec: { interval: "5m" } })
        })
        expect(invalid.status).toBe(422)
        expect(invalid.body).toContain("either chart or chartRef must be set")
      }))
  })
})
