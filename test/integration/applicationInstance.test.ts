/**
 * The ApplicationInstance reconciler against a real API server. The test plays helm-controller:
 * it writes HelmRelease status the way Flux does, and watches the instance fold it in.
 */
import { expect, layer } from "@effect/vitest"
import { Effect, Option } from "effect"
import { findCondition } from "../../src/api/conditions.js"
import type { Condition } from "../../src/api/meta.js"
import { KubeApi } from "../../src/kube/KubeApi.js"
import type { KubeObject } from "../../src/kube/object.js"
import { Resources } from "../../src/kube/resources.js"
import { createTestNamespace } from "../support/cluster.js"
import { kubeLayer, startTestOperator } from "../support/operator.js"
import { writeFluxStatus } from "../support/flux.js"
import { waitFor } from "../support/wait.js"

const gated = { "managed-by": "vworkspace" }

const managedHelm = (namespace: string, name = "app", extra: Record<string, unknown> = {}): KubeObject => ({
  apiVersion: "apps.vworkspace.io/v1alpha1",
  kind: "ApplicationInstance",
  metadata: { name, namespace },
  spec: {
    appRef: { catalogId: "nextcloud" },
    chart: { sourceType: "helm", url: "https://charts.example.test/stable", name: "nextcloud", version: "6.6.0" },
    release: { name: `${name}-rel`, namespace },
    values: { source: "inline", inline: { replicaCount: 2, ingress: { className: "nginx" } } },
    ...extra
  }
})

const apply = (o: KubeObject) =>
  Effect.flatMap(KubeApi, (api) =>
    api.apply(Resources.ApplicationInstance, o, { fieldManager: "test-control-plane", force: true })
  )

const get = (type: (typeof Resources)[keyof typeof Resources], namespace: string, name: string) =>
  Effect.flatMap(KubeApi, (api) =>
    api.get(type, name, namespace).pipe(
      Effect.map(Option.some),
      Effect.catchTag("NotFound", () => Effect.succeed(Option.none<KubeObject>()))
    )
  )

const conditionsOf = (o: KubeObject): ReadonlyArray<Condition> =>
  ((o["status"] as { conditions?: ReadonlyArray<Condition> } | undefined)?.conditions ?? [])

/** Waits until the instance has condition `type` with `status` (and `reason`, when given). */
const waitCondition = (namespace: string, name: string, type: string, status: string, reason?: string) =>
  waitFor(
    `${namespace}/${name} ${type}=${status}${reason ? `/${reason}` : ""}`,
    get(Resources.ApplicationInstance, namespace, name).pipe(
      Effect.map((o) => {
        if (Option.isNone(o)) return undefined
        const c = findCondition(conditionsOf(o.value), type)
        return c !== undefined && c.status === status && (reason === undefined || c.reason === reason) ? o.value : undefined
      })
    )
  )

const waitExists = (type: (typeof Resources)[keyof typeof Resources], namespace: string, name: string) =>
  waitFor(`${type.kind} ${namespace}/${name}`, get(type, namespace, name).pipe(Effect.map(Option.getOrUndefined)))

const waitGone = (type: (typeof Resources)[keyof typeof Resources], namespace: string, name: string) =>
  waitFor(
    `${type.kind} ${namespace}/${name} to be gone`,
    get(type, namespace, name).pipe(Effect.map((o) => (Option.isNone(o) ? true : undefined)))
  )

layer(kubeLayer(), { timeout: "60 seconds", excludeTestServices: true })("ApplicationInstance reconciler", (it) => {
  it.scoped("managed helm source: materialises HelmRepository + hardened HelmRelease, then follows Flux status", () =>
    Effect.gen(function* () {
      const ns = yield* createTestNamespace("ai-helm", gated)
      yield* startTestOperator({ namespace: ns })
      const created = yield* apply(managedHelm(ns))

      const source = yield* waitExists(Resources.HelmRepository, ns, "app-rel-source")
      expect(source["spec"]).toMatchObject({ interval: "1m0s", url: "https://charts.example.test/stable" })
      const hr = yield* waitExists(Resources.HelmRelease, ns, "app-rel")
      for (const child of [source, hr]) {
        expect(child.metadata.ownerReferences).toEqual([
          expect.objectContaining({ kind: "ApplicationInstance", name: "app", uid: created.metadata.uid, controller: true })
        ])
        expect(child.metadata.labels).toMatchObject({
          "app.vworkspace.io/managed-by": "vworkspace-operator",
          "app.vworkspace.io/application-instance": "app"
        })
      }
      expect(hr["spec"]).toMatchObject({
        interval: "5m0s",
        chart: { spec: { chart: "nextcloud", version: "6.6.0", sourceRef: { kind: "HelmRepository", name: "app-rel-source" } } },
        install: { remediation: { retries: 1 } },
        upgrade: { cleanupOnFail: true, remediation: { retries: 1, remediateLastFailure: true } },
        rollback: { cleanupOnFail: true },
        maxHistory: 10,
        driftDetection: { mode: "enabled" },
        suspend: false,
        values: { replicaCount: 2, ingress: { className: "nginx" } }
      })

      const waiting = yield* waitCondition(ns, "app", "Ready", "Unknown", "Reconciling")
      expect(waiting.metadata.finalizers).toContain("apps.vworkspace.io/finalizer")
      expect(waiting["status"]).toMatchObject({
        observedGeneration: 1,
        helmReleaseRef: { name: "app-rel", namespace: ns },
        lastAppliedChart: { sourceType: "helm", name: "nextcloud", version: "6.6.0" }
      })

      // helm-controller installs.
      yield* writeFluxStatus(hr, [
        { type: "Ready", status: "True", reason: "InstallSucceeded", message: "Helm install succeeded for release app-rel" },
        { type: "Released", status: "True", reason: "InstallSucceeded" }
      ])
      const ready = yield* waitCondition(ns, "app", "Ready", "True", "HelmReleaseReady")
      const readyCond = findCondition(conditionsOf(ready), "Ready")!
      expect(readyCond.message).toBe("Helm install succeeded for release app-rel")
      expect(readyCond.observedGeneration).toBe(1)
      expect(findCondition(conditionsOf(ready), "Blocked")).toMatchObject({ status: "False", reason: "Unblocked" })
      expect(findCondition(conditionsOf(ready), "Degraded")).toMatchObject({ status: "False", reason: "Recovered" })

      // An upgrade in flight.
      yield* writeFluxStatus(hr, [
        { type: "Reconciling", status: "True", reason: "Progressing", message: "Running 'upgrade' action" },
        { type: "Ready", status: "Unknown", reason: "Progressing", message: "Running 'upgrade' action" }
      ])
      const progressing = yield* waitCondition(ns, "app", "Ready", "Unknown", "Progressing")
      expect(findCondition(conditionsOf(progressing), "Reconciling")).toMatchObject({ status: "True", reason: "Progressing" })

      // It fails, and helm-controller gives up.
      yield* writeFluxStatus(hr, [
        { type: "Ready", status: "False", reason: "UpgradeFailed", message: "Helm upgrade failed: timed out" },
        { type: "Released", status: "False", reason: "UpgradeFailed", message: "upgrade failed" },
        { type: "Stalled", status: "True", reason: "RetriesExceeded", message: "Failed to upgrade after 1 attempt(s)" }
      ])
      const failed = yield* waitCondition(ns, "app", "Ready", "False", "HelmReleaseFailed")
      expect(findCondition(conditionsOf(failed), "Ready")!.message).toBe("Helm upgrade failed: timed out")
      expect(findCondition(conditionsOf(failed), "Degraded")).toMatchObject({ status: "True", reason: "RetriesExceeded" })

      // Released=False alone (no Stalled) is still degraded.
      yield* writeFluxStatus(hr, [
        { type: "Ready", status: "False", reason: "UpgradeFailed", message: "again" },
        { type: "Released", status: "False", reason: "UpgradeFailed", message: "release failed" }
      ])
      yield* waitCondition(ns, "app", "Degraded", "True", "HelmReleaseDegraded")

      // Ready's transitions left Events (recorded in the background).
      const reasons = yield* waitFor(
        "ReconcileSucceeded and ReconcileFailed events",
        Effect.flatMap(KubeApi, (api) =>
          api.list(Resources.Event, { namespace: ns, fieldSelector: "involvedObject.name=app" })
        ).pipe(
          Effect.map((events) => events.items.map((e) => e["reason"])),
          Effect.map((rs) => (rs.includes("ReconcileSucceeded") && rs.includes("ReconcileFailed") ? rs : undefined))
        )
      )
      // Conditions that first appear in their quiet state (Blocked=False, ...) are not announced.
      expect(reasons).not.toContain("Unblocked")
    }))

  it.scoped("upgrade: a new chart version reaches the HelmRelease, emits HelmReleaseUpgraded, and a stale Ready is not trusted", () =>
    Effect.gen(function* () {
      const ns = yield* createTestNamespace("ai-upg", gated)
      yield* startTestOperator({ namespace: ns })
      const ai = managedHelm(ns, "u")
      yield* apply(ai)
      const hr = yield* waitExists(Resources.HelmRelease, ns, "u-rel")
      yield* writeFluxStatus(hr, [{ type: "Ready", status: "True", reason: "InstallSucceeded", message: "installed" }])
      yield* waitCondition(ns, "u", "Ready", "True", "HelmReleaseReady")

      const spec = ai["spec"] as { chart: Record<string, string> }
      yield* apply({ ...ai, spec: { ...spec, chart: { ...spec.chart, version: "6.7.0" } } })
      const upgraded = yield* waitFor(
        "HelmRelease at 6.7.0",
        get(Resources.HelmRelease, ns, "u-rel").pipe(
          Effect.map((o) =>
            Option.isSome(o) &&
            (o.value["spec"] as { chart: { spec: { version: string } } }).chart.spec.version === "6.7.0"
              ? o.value
              : undefined
          )
        )
      )
      expect(upgraded.metadata.generation).toBe(2)
      // helm-controller has not looked at generation 2 yet: its Ready=True is about 6.6.0.
      const waiting = yield* waitCondition(ns, "u", "Ready", "Unknown", "Reconciling")
      expect(findCondition(conditionsOf(waiting), "Ready")!.message).toBe("Waiting for helm-controller to observe generation 2")
      expect(waiting["status"]).toMatchObject({ observedGeneration: 2, lastAppliedChart: { version: "6.7.0" } })
      // Events are recorded in the background.
      const upgradedEvent = yield* waitFor(
        "a HelmReleaseUpgraded event",
        Effect.flatMap(KubeApi, (api) =>
          api.list(Resources.Event, { namespace: ns, fieldSelector: "involvedObject.name=u" })
        ).pipe(Effect.map((events) => events.items.find((e) => e["reason"] === "HelmReleaseUpgraded")))
      )
      expect(upgradedEvent["message"]).toBe("chart nextcloud 6.6.0 -> 6.7.0")

      yield* writeFluxStatus(upgraded, [{ type: "Ready", status: "True", reason: "UpgradeSucceeded", message: "upgraded" }])
      yield* waitCondition(ns, "u", "Ready", "True", "HelmReleaseReady")
    }))

  it.scoped("removed values reach the HelmRelease; a release name owned by another instance is not taken over", () =>
    Effect.gen(function* () {
      const ns = yield* createTestNamespace("ai-own", gated)
      yield* startTestOperator({ namespace: ns })
      const first = managedHelm(ns, "first")
      yield* apply(first)
      yield* waitExists(Resources.HelmRelease, ns, "first-rel")

      // Dropping an inline key must remove it from the HelmRelease (SSA drops fields we stop setting).
      const spec = first["spec"] as Record<string, unknown>
      yield* apply({ ...first, spec: { ...spec, values: { source: "inline", inline: { replicaCount: 2 } } } })
      yield* waitFor(
        "ingress values removed from the HelmRelease",
        get(Resources.HelmRelease, ns, "first-rel").pipe(
          Effect.map((o) =>
            Option.isSome(o) && (o.value["spec"] as { values?: Record<string, unknown> }).values?.["ingress"] === undefined
              ? true
              : undefined
          )
        )
      )

      // A second instance asking for the same release name is refused, and the first keeps it.
      const second = managedHelm(ns, "second")
      yield* apply({ ...second, spec: { ...(second["spec"] as object), release: { name: "first-rel", namespace: ns } } })
      const conflict = yield* waitCondition(ns, "second", "Blocked", "True", "ReleaseConflict")
      expect(findCondition(conditionsOf(conflict), "Blocked")!.message).toContain("is not owned by this instance")
      const hr = yield* waitExists(Resources.HelmRelease, ns, "first-rel")
      expect(hr.metadata.ownerReferences?.map((r) => r.name)).toEqual(["first"])

      // Deleting the refused instance leaves the other's HelmRelease alone.
      const api = yield* KubeApi
      yield* api.delete(Resources.ApplicationInstance, "second", ns)
      yield* waitGone(Resources.ApplicationInstance, ns, "second")
      expect(Option.isSome(yield* get(Resources.HelmRelease, ns, "first-rel"))).toBe(true)
      expect(Option.isSome(yield* get(Resources.HelmRepository, ns, "first-rel-source"))).toBe(true)
    }))

  it.scoped("OCI chart: OCIRepository with oci:// URL and tag, HelmRelease through chartRef", () =>
    Effect.gen(function* () {
      const ns = yield* createTestNamespace("ai-oci", gated)
      yield* startTestOperator({ namespace: ns })
      const ai = managedHelm(ns, "web")
      yield* apply({
        ...ai,
        spec: {
          ...(ai["spec"] as object),
          chart: { sourceType: "oci", url: "oci://registry.example.test/charts/web", name: "web", version: "1.2.3" }
        }
      })
      const source = yield* waitExists(Resources.OCIRepository, ns, "web-rel-source")
      expect(source["spec"]).toMatchObject({ url: "oci://registry.example.test/charts/web", ref: { tag: "1.2.3" } })
      const hr = yield* waitExists(Resources.HelmRelease, ns, "web-rel")
      expect(hr["spec"]).toMatchObject({ chartRef: { kind: "OCIRepository", name: "web-rel-source" } })
      expect((hr["spec"] as Record<string, unknown>)["chart"]).toBeUndefined()

      // Switching back to a Helm repository replaces the OCIRepository.
      yield* apply(ai)
      yield* waitExists(Resources.HelmRepository, ns, "web-rel-source")
      yield* waitGone(Resources.OCIRepository, ns, "web-rel-source")
    }))

  it.scoped("secretRef and configMapRef values reach Flux by reference; no secret data in the HelmRelease", () =>
    Effect.gen(function* () {
      const ns = yield* createTestNamespace("ai-values", gated)
      const api = yield* KubeApi
      yield* api.create(Resources.Secret, {
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name: "app-values", namespace: ns },
        stringData: { "values.yaml": "adminPassword: s3cr3t-value-123\n" }
      })
      yield* startTestOperator({ namespace: ns })
      const base = managedHelm(ns, "sec")
      yield* apply({
        ...base,
        spec: { ...(base["spec"] as object), values: { source: "secretRef", secretRef: { name: "app-values", key: "values.yaml" } } }
      })
      const hr = yield* waitExists(Resources.HelmRelease, ns, "sec-rel")
      expect(hr["spec"]).toMatchObject({ valuesFrom: [{ kind: "Secret", name: "app-values", valuesKey: "values.yaml" }] })
      expect(JSON.stringify(hr)).not.toContain("s3cr3t-value-123")
      const aiAfter = yield* waitCondition(ns, "sec", "Ready", "Unknown")
      expect(JSON.stringify(aiAfter)).not.toContain("s3cr3t-value-123")

      const cm = managedHelm(ns, "cfg")
      yield* apply({
        ...cm,
        spec: { ...(cm["spec"] as object), values: { source: "configMapRef", configMapRef: { name: "cfg-values", key: "v.yaml" } } }
      })
      const cmHr = yield* waitExists(Resources.HelmRelease, ns, "cfg-rel")
      expect(cmHr["spec"]).toMatchObject({ valuesFrom: [{ kind: "ConfigMap", name: "cfg-values", valuesKey: "v.yaml" }] })
    }))

  it.scoped("spec rules the API server lets through are reported as Blocked/ValidationFailed", () =>
    Effect.gen(function* () {
      const ns = yield* createTestNamespace("ai-invalid", gated)
      yield* startTestOperator({ namespace: ns })
      const base = managedHelm(ns, "x")
      const spec = base["spec"] as Record<string, unknown>
      // The CRD's own rules reject most bad specs at admission (test/integration/crds.test.ts);
      // these are the ones only the operator can see.
      const cases: ReadonlyArray<[string, Record<string, unknown>, string]> = [
        [
          "oci-scheme",
          { ...spec, chart: { sourceType: "oci", url: "https://registry.example.test/x", name: "x", version: "1.0.0" } },
          "spec.chart.url must start with oci:// when sourceType is oci"
        ],
        [
          "helm-scheme",
          { ...spec, chart: { sourceType: "helm", url: "oci://registry.example.test/x", name: "x", version: "1.0.0" } },
          "spec.chart.url must start with http:// or https:// when sourceType is helm"
        ],
        ["release-ns", spec, "spec.release.namespace must match metadata.namespace"]
      ]
      for (const [name, caseSpec] of cases) {
        const releaseNamespace = name === "release-ns" ? "somewhere-else" : ns
        yield* apply({
          ...base,
          metadata: { name, namespace: ns },
          spec: { ...caseSpec, release: { name: `${name}-rel`, namespace: releaseNamespace } }
        })
      }
      for (const [name, , message] of cases) {
        const blocked = yield* waitCondition(ns, name, "Blocked", "True", "ValidationFailed")
        expect(findCondition(conditionsOf(blocked), "Blocked")!.message).toBe(message)
        expect(findCondition(conditionsOf(blocked), "Ready")).toMatchObject({ status: "False", reason: "ValidationFailed" })
        expect(Option.isNone(yield* get(Resources.HelmRelease, ns, `${name}-rel`))).toBe(true)
      }
    }))

  it.scoped("namespace gate and cluster id", () =>
    Effect.gen(function* () {
      const ns = yield* createTestNamespace("ai-gate")
      const api = yield* KubeApi
      yield* startTestOperator({ namespace: ns, config: { clusterId: "cluster-a" } })
      yield* apply(managedHelm(ns, "gated"))
      const blocked = yield* waitCondition(ns, "gated", "Blocked", "True", "NamespaceNotGated")
      expect(findCondition(conditionsOf(blocked), "Ready")).toMatchObject({ status: "False", reason: "NamespaceNotGated" })
      expect(Option.isNone(yield* get(Resources.HelmRelease, ns, "gated-rel"))).toBe(true)

      // Labelling the namespace opens the gate without touching the instance.
      yield* api.patch(Resources.Namespace, ns, undefined, "merge", { metadata: { labels: gated } })
      yield* waitCondition(ns, "gated", "Blocked", "False", "Unblocked")
      yield* waitExists(Resources.HelmRelease, ns, "gated-rel")

      const other = managedHelm(ns, "foreign")
      yield* apply({ ...other, metadata: { ...other.metadata, labels: { "app.vworkspace.io/cluster-id": "cluster-b" } } })
      yield* waitCondition(ns, "foreign", "Blocked", "True", "ClusterIdMismatch")
      const mine = managedHelm(ns, "mine")
      yield* apply({ ...mine, metadata: { ...mine.metadata, labels: { "app.vworkspace.io/cluster-id": "cluster-a" } } })
      const ok = yield* waitExists(Resources.HelmRelease, ns, "mine-rel")
      expect(ok.metadata.labels).toMatchObject({ "app.vworkspace.io/cluster-id": "cluster-a" })
    }))

  it.scoped("placeholder: Ready=True/Placeholder and no Helm objects", () =>
    Effect.gen(function* () {
      const ns = yield* createTestNamespace("ai-ph", gated)
      yield* startTestOperator({ namespace: ns })
      yield* apply({
        apiVersion: "apps.vworkspace.io/v1alpha1",
        kind: "ApplicationInstance",
        metadata: { name: "cluster-ops", namespace: ns, annotations: { "ops.vworkspace.io/runcommand": "job" } },
        spec: { appRef: { catalogId: "cluster-ops" }, mode: "placeholder" }
      })
      const ready = yield* waitCondition(ns, "cluster-ops", "Ready", "True", "Placeholder")
      expect(findCondition(conditionsOf(ready), "Ready")!.message).toBe("Placeholder instance is ready (no Helm release)")
      expect((ready["status"] as Record<string, unknown>)["helmReleaseRef"]).toBeUndefined()
      const hrs = yield* Effect.flatMap(KubeApi, (api) => api.list(Resources.HelmRelease, { namespace: ns }))
      expect(hrs.items).toHaveLength(0)
    }))

  it.scoped("suspend and resume through the apps.vworkspace.io/reconcile annotation", () =>
    Effect.gen(function* () {
      const ns = yield* createTestNamespace("ai-susp", gated)
      yield* startTestOperator({ namespace: ns })
      const ai = managedHelm(ns, "s")
      yield* apply(ai)
      yield* waitExists(Resources.HelmRelease, ns, "s-rel")
      yield* waitCondition(ns, "s", "Suspended", "False", "Active")

      yield* apply({ ...ai, metadata: { ...ai.metadata, annotations: { "apps.vworkspace.io/reconcile": "disabled" } } })
      yield* waitCondition(ns, "s", "Suspended", "True", "ManuallySuspended")
      const suspended = yield* waitFor(
        "HelmRelease suspended",
        get(Resources.HelmRelease, ns, "s-rel").pipe(
          Effect.map((o) => (Option.isSome(o) && (o.value["spec"] as { suspend?: boolean }).suspend === true ? o.value : undefined))
        )
      )
      expect(suspended.metadata.name).toBe("s-rel")

      yield* apply(ai)
      yield* waitCondition(ns, "s", "Suspended", "False", "Active")
      yield* waitFor(
        "HelmRelease resumed",
        get(Resources.HelmRelease, ns, "s-rel").pipe(
          Effect.map((o) => (Option.isSome(o) && (o.value["spec"] as { suspend?: boolean }).suspend === false ? true : undefined))
        )
      )
    }))

  it.scoped("deletion of a suspended instance: resumes the HelmRelease, waits for it to go, then releases the finalizer", () =>
    Effect.gen(function* () {
      const ns = yield* createTestNamespace("ai-del", gated)
      const api = yield* KubeApi
      yield* startTestOperator({ namespace: ns })
      const d = managedHelm(ns, "d")
      yield* apply({ ...d, metadata: { ...d.metadata, annotations: { "apps.vworkspace.io/reconcile": "disabled" } } })
      yield* waitExists(Resources.HelmRepository, ns, "d-rel-source")
      yield* waitCondition(ns, "d", "Suspended", "True", "ManuallySuspended")
      yield* waitCondition(ns, "d", "Ready", "Unknown")
      // helm-controller holds its own finalizer until the Helm uninstall is done.
      yield* api.patch(Resources.HelmRelease, "d-rel", ns, "merge", { metadata: { finalizers: ["finalizers.fluxcd.io"] } })

      yield* api.delete(Resources.ApplicationInstance, "d", ns)
      const deleting = yield* waitCondition(ns, "d", "Deleting", "True", "Uninstalling")
      expect(deleting.metadata.deletionTimestamp).toBeDefined()
      yield* waitGone(Resources.HelmRepository, ns, "d-rel-source")
      const held = yield* get(Resources.HelmRelease, ns, "d-rel")
      expect(Option.isSome(held) && held.value.metadata.deletionTimestamp !== undefined).toBe(true)
      // A suspended HelmRelease would be deleted without a Helm uninstall: it is resumed first.
      expect(Option.isSome(held) && (held.value["spec"] as { suspend?: boolean }).suspend).toBe(false)
      expect(Option.isSome(yield* get(Resources.ApplicationInstance, ns, "d"))).toBe(true)

      // The uninstall finishes.
      yield* api.patch(Resources.HelmRelease, "d-rel", ns, "merge", { metadata: { finalizers: null } })
      yield* waitGone(Resources.HelmRelease, ns, "d-rel")
      yield* waitGone(Resources.ApplicationInstance, ns, "d")
    }))

  it.scoped("a fresh operator pass over unchanged instances writes nothing", () =>
    Effect.gen(function* () {
      const ns = yield* createTestNamespace("ai-idle", gated)
      const first = yield* Effect.forkScoped(Effect.scoped(Effect.zipRight(startTestOperator({ namespace: ns }), Effect.never)))
      yield* apply(managedHelm(ns, "idle"))
      const hr = yield* waitExists(Resources.HelmRelease, ns, "idle-rel")
      yield* writeFluxStatus(hr, [{ type: "Ready", status: "True", reason: "InstallSucceeded", message: "ok" }])
      yield* waitCondition(ns, "idle", "Ready", "True", "HelmReleaseReady")
      const versions = () =>
        Effect.all([
          get(Resources.ApplicationInstance, ns, "idle"),
          get(Resources.HelmRelease, ns, "idle-rel"),
          get(Resources.HelmRepository, ns, "idle-rel-source")
        ]).pipe(Effect.map((os) => os.map((o) => Option.getOrThrow(o).metadata.resourceVersion)))
      const before = yield* versions()
      yield* first.interruptAsFork(first.id())

      // A new operator lists everything and reconciles every instance once.
      const second = yield* startTestOperator({ namespace: ns })
      yield* waitFor(
        "the new operator to report ready",
        Effect.promise(() => fetch(`http://127.0.0.1:${second.health.port}/readyz`).then((r) => (r.ok ? true : undefined)))
      )
      const events = yield* Effect.flatMap(KubeApi, (api) => api.list(Resources.Event, { namespace: ns }))
      // Give the pass something to do first: a new instance, reconciled after the idle one was.
      yield* apply(managedHelm(ns, "probe"))
      yield* waitExists(Resources.HelmRelease, ns, "probe-rel")
      expect(yield* versions()).toEqual(before)
      const eventsAfter = yield* Effect.flatMap(KubeApi, (api) => api.list(Resources.Event, { namespace: ns }))
      expect(eventsAfter.items.filter((e) => (e["involvedObject"] as { name?: string }).name === "idle")).toHaveLength(
        events.items.filter((e) => (e["involvedObject"] as { name?: string }).name === "idle").length
      )
    }))
})

