/**
 * The Pull agent against a real API server and the mock control plane over loopback HTTP: every
 * job kind and intent, the readiness wait (the test plays helm-controller), the allow-list,
 * conflicts, idempotency across restarts, and the HTTP error rules with their ConnectionState.
 */
import { expect, layer } from "@effect/vitest"
import { Duration, Effect, Fiber, Option, SubscriptionRef } from "effect"
import { KubeApi } from "../../src/kube/KubeApi.js"
import type { KubeObject } from "../../src/kube/object.js"
import { Resources } from "../../src/kube/resources.js"
import { createTestNamespace, deleteNamespace, testNamespaceName } from "../support/cluster.js"
import { plantedSecret } from "../support/logScan.js"
import { writeFluxStatus } from "../support/flux.js"
import { kubeLayer, startTestOperator } from "../support/operator.js"
import { clusterId, startPullHarness } from "../support/pullAgent.js"
import { waitFor } from "../support/wait.js"

const now = () => new Date().toISOString()
const within = Duration.seconds(30)

const configMap = (namespace: string, name: string, data: Record<string, string> = { a: "1" }) => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name, namespace, labels: { "app.vworkspace.io/managed-by": "someone-else", team: "x" } },
  data
})

const job = (id: string, kind: string, payload: unknown, extra: Record<string, unknown> = {}) => ({
  id,
  kind,
  payload,
  idempotencyKey: `test/${id}`,
  createdAt: now(),
  ...extra
})

const getOption = (type: (typeof Resources)[keyof typeof Resources], name: string, namespace?: string) =>
  Effect.flatMap(KubeApi, (api) =>
    api.get(type, name, namespace).pipe(
      Effect.map(Option.some),
      Effect.catchTag("NotFound", () => Effect.succeed(Option.none<KubeObject>()))
    )
  )

/** A namespace name the agent will create; removed at the end of the scope. */
const freshNamespace = (prefix: string) =>
  Effect.acquireRelease(Effect.sync(() => testNamespaceName(prefix)), (ns) => Effect.ignore(deleteNamespace(ns)))

const managedAi = (namespace: string, name: string) => ({
  apiVersion: "apps.vworkspace.io/v1alpha1",
  kind: "ApplicationInstance",
  metadata: { name, namespace },
  spec: {
    appRef: { catalogId: "nextcloud" },
    chart: { sourceType: "helm", url: "https://charts.example.test/stable", name: "nextcloud", version: "6.6.0" },
    release: { name: `${name}-rel`, namespace },
    values: { source: "inline", inline: { replicaCount: 1 } }
  }
})

layer(kubeLayer(), { timeout: "120 seconds", excludeTestServices: true })("Pull agent", (it) => {
  it.scoped("apply of a plain object: namespace created and gated, labels forced, SSA as vworkspace-agent, appliedRef", () =>
    Effect.gen(function* () {
      const store = yield* createTestNamespace("pull-store")
      const target = yield* freshNamespace("pull-apply")
      const h = yield* startPullHarness()
      yield* h.startAgent({ namespace: store, waitSeconds: 1 })
      yield* h.admin.enqueue(clusterId, job("apply-1", "apply", configMap(target, "settings")))
      const result = yield* h.admin.waitForResult("apply-1", within)
      const live = Option.getOrThrow(yield* getOption(Resources.ConfigMap, "settings", target))
      expect(result).toMatchObject({
        outcome: "succeeded",
        appliedRef: { apiVersion: "v1", kind: "ConfigMap", namespace: target, name: "settings", uid: live.metadata.uid }
      })
      expect(live.metadata.labels).toEqual({
        "app.vworkspace.io/managed-by": "control-plane",
        "app.vworkspace.io/cluster-id": clusterId,
        team: "x"
      })
      expect(JSON.stringify(live.metadata.managedFields)).toContain('"manager":"vworkspace-agent"')
      const ns = Option.getOrThrow(yield* getOption(Resources.Namespace, target))
      expect(ns.metadata.labels).toMatchObject({ "managed-by": "vworkspace" })
      expect((yield* h.admin.job("apply-1")).acked).toBe(true)
      expect((yield* h.state.get).lastSuccessAt._tag).toBe("Some")
    }))

  it.scoped("ensure-application-instance: AI created → HelmRelease → helm-controller Ready → interim statuses → succeeded; the wait holds back no other job", () =>
    Effect.gen(function* () {
      const store = yield* createTestNamespace("pull-store")
      const target = yield* freshNamespace("pull-ai")
      yield* startTestOperator({ namespace: target })
      const h = yield* startPullHarness()
      // One job applied at a time: the readiness wait must not be part of that bound.
      yield* h.startAgent({ namespace: store, waitSeconds: 1, concurrency: 1 })
      yield* h.admin.enqueue(clusterId, job("ai-1", "intent", { intent: "ensure-application-instance", applicationInstance: managedAi(target, "cloud") }))
      const hr = yield* waitFor("HelmRelease", Effect.map(getOption(Resources.HelmRelease, "cloud-rel", target), Option.getOrUndefined), { timeout: within })
      // Interim statuses while the instance is not Ready yet.
      yield* waitFor("an interim status", Effect.map(h.admin.job("ai-1"), (j) => (j.statuses.length > 0 ? j : undefined)), { timeout: within })
      expect((yield* h.admin.job("ai-1")).result).toBeUndefined()
      // Another job goes ahead while the instance waits.
      yield* h.admin.enqueue(clusterId, job("cm-during-wait", "apply", configMap(target, "during-wait")))
      expect(yield* h.admin.waitForResult("cm-during-wait", within)).toMatchObject({ outcome: "succeeded" })
      expect((yield* h.admin.job("ai-1")).result).toBeUndefined()
      yield* writeFluxStatus(hr, [{ type: "Reconciling", status: "True", reason: "Progressing", message: "installing" }])
      yield* writeFluxStatus(hr, [
        { type: "Ready", status: "True", reason: "InstallSucceeded", message: "Helm install succeeded" },
        { type: "Released", status: "True", reason: "InstallSucceeded" }
      ])
      const result = yield* h.admin.waitForResult("ai-1", within)
      const ai = Option.getOrThrow(yield* getOption(Resources.ApplicationInstance, "cloud", target))
      expect(result).toMatchObject({
        outcome: "succeeded",
        appliedRef: { kind: "ApplicationInstance", name: "cloud", namespace: target, uid: ai.metadata.uid, generation: ai.metadata.generation }
      })
      expect(ai.metadata.labels).toMatchObject({ "app.vworkspace.io/managed-by": "control-plane", "app.vworkspace.io/cluster-id": clusterId })
      const view = yield* h.admin.job("ai-1")
      expect(view.statuses.length).toBeGreaterThan(0)
      expect(view.statuses.some((u) => u.conditions?.some((c) => c.type === "Ready" && c.status !== "True"))).toBe(true)
      expect(Option.getOrThrow(yield* getOption(Resources.Namespace, target)).metadata.labels).toMatchObject({ "managed-by": "vworkspace" })
    }))

  it.scoped("delete and delete-application-instance; expired → noop/expired; replayed key → noop; outside the allow-list and malformed → failed", () =>
    Effect.gen(function* () {
      const store = yield* createTestNamespace("pull-store")
      const target = yield* createTestNamespace("pull-misc", { "managed-by": "vworkspace" })
      const h = yield* startPullHarness()
      yield* h.startAgent({ namespace: store, waitSeconds: 1 })
      const enqueue = (j: Record<string, unknown>) => h.admin.enqueue(clusterId, j)
      yield* enqueue(job("c1", "apply", configMap(target, "doomed")))
      expect((yield* h.admin.waitForResult("c1", within)).outcome).toBe("succeeded")
      yield* enqueue(job("d1", "delete", { apiVersion: "v1", kind: "ConfigMap", name: "doomed", namespace: target }))
      expect(yield* h.admin.waitForResult("d1", within)).toMatchObject({ outcome: "succeeded", appliedRef: { name: "doomed", kind: "ConfigMap" } })
      expect(Option.isNone(yield* getOption(Resources.ConfigMap, "doomed", target))).toBe(true)
      // delete-application-instance of a placeholder instance (no finalizer without the reconciler).
      yield* Effect.flatMap(KubeApi, (api) =>
        api.apply(Resources.ApplicationInstance, {
          apiVersion: "apps.vworkspace.io/v1alpha1",
          kind: "ApplicationInstance",
          metadata: { name: "old", namespace: target },
          spec: { appRef: { catalogId: "x" }, mode: "placeholder" }
        }, { fieldManager: "test", force: true })
      )
      const old = Option.getOrThrow(yield* getOption(Resources.ApplicationInstance, "old", target))
      yield* enqueue(job("d2", "intent", { intent: "delete-application-instance", name: "old", namespace: target }))
      expect(yield* h.admin.waitForResult("d2", within)).toMatchObject({ outcome: "succeeded", appliedRef: { uid: old.metadata.uid } })
      yield* enqueue(job("d3", "intent", { intent: "delete-application-instance", name: "never", namespace: target }))
      expect((yield* h.admin.waitForResult("d3", within)).outcome).toBe("succeeded")

      yield* enqueue(job("e1", "apply", configMap(target, "late"), { expiresAt: "2020-01-01T00:00:00.123456789Z" }))
      expect(yield* h.admin.waitForResult("e1", within)).toMatchObject({ outcome: "noop", error: "expired" })
      expect(Option.isNone(yield* getOption(Resources.ConfigMap, "late", target))).toBe(true)

      yield* enqueue(job("r1", "apply", configMap(target, "once"), { idempotencyKey: "configmap/once@1" }))
      expect((yield* h.admin.waitForResult("r1", within)).outcome).toBe("succeeded")
      yield* Effect.flatMap(KubeApi, (api) => api.delete(Resources.ConfigMap, "once", target))
      yield* enqueue(job("r2", "apply", configMap(target, "once"), { idempotencyKey: "configmap/once@1" }))
      const replay = yield* h.admin.waitForResult("r2", within)
      expect(replay.outcome).toBe("noop")
      expect(replay.appliedRef).toBeUndefined()
      expect(Option.isNone(yield* getOption(Resources.ConfigMap, "once", target))).toBe(true)

      yield* enqueue(job("x1", "apply", {
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "ClusterRoleBinding",
        metadata: { name: "pwn" },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "cluster-admin" },
        subjects: [{ kind: "User", name: "mallory" }]
      }))
      const refused = yield* h.admin.waitForResult("x1", within)
      expect(refused.outcome).toBe("failed")
      expect(refused.error).toMatch(/ClusterRoleBinding is not in the agent's allow-list/)

      yield* enqueue(job("m1", "apply", { kind: "ConfigMap", metadata: {} }))
      yield* enqueue(job("m2", "intent", { intent: "launch-rockets" }))
      yield* enqueue(job("m3", "teleport", {}))
      yield* enqueue({ id: "m4", kind: 42, payload: null })
      expect((yield* h.admin.waitForResult("m1", within)).error).toMatch(/^decode apply payload: /)
      expect((yield* h.admin.waitForResult("m2", within)).error).toBe('unsupported intent "launch-rockets"')
      expect((yield* h.admin.waitForResult("m3", within)).error).toBe('unsupported job kind "teleport"')
      expect((yield* h.admin.waitForResult("m4", within)).error).toMatch(/^malformed job envelope: /)
    }))

  it.scoped("a field owned by another manager is a conflict naming the manager and the field; nothing is forced", () =>
    Effect.gen(function* () {
      const store = yield* createTestNamespace("pull-store")
      const target = yield* createTestNamespace("pull-conflict", { "managed-by": "vworkspace" })
      yield* Effect.flatMap(KubeApi, (api) =>
        api.apply(Resources.ConfigMap, configMap(target, "shared", { owner: "theirs" }), { fieldManager: "other-team", force: true })
      )
      const h = yield* startPullHarness()
      yield* h.startAgent({ namespace: store, waitSeconds: 1 })
      yield* h.admin.enqueue(clusterId, job("cf1", "apply", configMap(target, "shared", { owner: "ours" })))
      const result = yield* h.admin.waitForResult("cf1", within)
      expect(result.outcome).toBe("conflict")
      expect(result.error).toMatch(/other-team/)
      expect(result.error).toMatch(/\.data\.owner/)
      const live = Option.getOrThrow(yield* getOption(Resources.ConfigMap, "shared", target))
      expect(live["data"]).toEqual({ owner: "theirs" })
    }))

  it.scoped("killed after apply, before the result: a restarted agent with the same store applies once and posts one result", () =>
    Effect.gen(function* () {
      const store = yield* createTestNamespace("pull-store")
      const target = yield* createTestNamespace("pull-crash", { "managed-by": "vworkspace" })
      const h = yield* startPullHarness({ mock: { resultTimeoutMillis: 1500 } })
      // Results are cut off: the agent applies, records the key, and then cannot report.
      yield* h.admin.addFaults([{ status: "drop", routes: ["result"] }])
      const first = yield* h.startAgent({ namespace: store, waitSeconds: 1 })
      yield* h.admin.enqueue(clusterId, job("k1", "apply", configMap(target, "exactly-once"), { idempotencyKey: "k1@1" }))
      yield* waitFor("the first result attempt", Effect.map(h.admin.requests, (rs) => (rs.some((r) => r.route === "result") ? true : undefined)), { timeout: within })
      const applied = Option.getOrThrow(yield* getOption(Resources.ConfigMap, "exactly-once", target))
      yield* Fiber.interrupt(first)
      yield* h.admin.clearFaults
      yield* h.startAgent({ namespace: store, waitSeconds: 1 })
      // The acked job had no result, so the mock delivers it again; the new agent finds the key.
      const result = yield* h.admin.waitForResult("k1", within)
      expect(result.outcome).toBe("noop")
      const view = yield* h.admin.job("k1")
      expect(view.deliveries).toBe(2)
      expect(view.duplicateResults).toBe(0)
      const live = Option.getOrThrow(yield* getOption(Resources.ConfigMap, "exactly-once", target))
      expect(live.metadata.resourceVersion).toBe(applied.metadata.resourceVersion)
      // One key is below the fold: it is in the recent object, the main one is not written yet.
      const recent = Option.getOrThrow(yield* getOption(Resources.ConfigMap, "vworkspace-applied-jobs-recent", store))
      expect(recent["data"]).toEqual({ "applied-keys.json": expect.stringMatching(/^\{"version":2,"entries":\{"[\w-]{16}":\d+\}\}$/) })
      expect(Option.isNone(yield* getOption(Resources.ConfigMap, "vworkspace-applied-jobs", store))).toBe(true)
    }))

  it.scoped("HTTP rules: 401 → one reload then CredentialRejected; resumes on new credentials; 403 halts; 429 and 5xx are retried", () =>
    Effect.gen(function* () {
      const store = yield* createTestNamespace("pull-store")
      const target = yield* createTestNamespace("pull-http", { "managed-by": "vworkspace" })
      const h = yield* startPullHarness()
      // One 401: the reload returns the same (valid) credential and polling goes on.
      yield* h.admin.addFaults([{ status: 401, routes: ["jobs"], count: 1 }])
      yield* h.startAgent({ namespace: store, waitSeconds: 1, retry: { base: Duration.seconds(1) } })
      yield* h.admin.enqueue(clusterId, job("h1", "apply", configMap(target, "h1")))
      expect((yield* h.admin.waitForResult("h1", within)).outcome).toBe("succeeded")
      expect(Option.isNone((yield* h.state.get).halted)).toBe(true)

      // Two 401s in a row: halted with CredentialRejected; no job runs.
      yield* h.admin.addFaults([{ status: 401, routes: ["jobs"], count: 2 }])
      const halted = yield* waitFor("halt", Effect.map(h.state.get, (s) => Option.getOrUndefined(s.halted)), { timeout: within })
      expect(halted.reason).toBe("CredentialRejected")
      yield* h.admin.enqueue(clusterId, job("h2", "apply", configMap(target, "h2")))
      const seen = (yield* h.admin.requests).length
      // New credentials (a new token for the same cluster): the agent resumes.
      yield* h.admin.setAgentToken(clusterId, "vwksp-agent-second")
      yield* SubscriptionRef.update(h.ref, Option.map((c) => ({ ...c, token: plantedSecret("agent bearer token", "vwksp-agent-second") })))
      expect((yield* h.admin.waitForResult("h2", within)).outcome).toBe("succeeded")
      expect(Option.isNone((yield* h.state.get).halted)).toBe(true)
      expect((yield* h.admin.requests).length).toBeGreaterThan(seen)

      // 403: halted (Forbidden), without a reload.
      yield* h.admin.addFaults([{ status: 403, routes: ["jobs"], count: 1 }])
      const forbidden = yield* waitFor("forbidden", Effect.map(h.state.get, (s) => Option.getOrUndefined(s.halted)), { timeout: within })
      expect(forbidden.reason).toBe("Forbidden")
      yield* h.admin.setAgentToken(clusterId, "vwksp-agent-third")
      yield* SubscriptionRef.update(h.ref, Option.map((c) => ({ ...c, token: plantedSecret("agent bearer token", "vwksp-agent-third") })))
      yield* waitFor("resumed", Effect.map(h.state.get, (s) => (Option.isNone(s.halted) ? true : undefined)), { timeout: within })

      // 429 with Retry-After 1 on ack, then 503 on result: both retried, the job completes.
      yield* h.admin.addFaults([
        { status: 429, retryAfter: "1", routes: ["ack"], count: 1 },
        { status: 503, routes: ["result"], count: 2 }
      ])
      yield* h.admin.enqueue(clusterId, job("h3", "apply", configMap(target, "h3")))
      expect((yield* h.admin.waitForResult("h3", within)).outcome).toBe("succeeded")
      const log = yield* h.admin.requests
      const acks = log.filter((r) => r.path.includes("/h3/ack"))
      expect(acks.map((r) => r.status)).toEqual([429, 204])
      expect(Date.parse(acks[1]!.at) - Date.parse(acks[0]!.at)).toBeGreaterThanOrEqual(1000)
      expect(log.filter((r) => r.path.includes("/h3/result")).map((r) => r.status)).toEqual([503, 503, 204])
      expect(Option.isSome((yield* h.state.get).lastFailure)).toBe(true)
    }))

  it.scoped("ack 409 (closed) → not applied; ack 404 (unknown) → skipped; result 409 ends the retries", () =>
    Effect.gen(function* () {
      const store = yield* createTestNamespace("pull-store")
      const target = yield* createTestNamespace("pull-ack", { "managed-by": "vworkspace" })
      const h = yield* startPullHarness()
      yield* h.admin.addFaults([
        { status: 409, routes: ["ack"], count: 1 },
        { status: 404, routes: ["ack"], count: 1 }
      ])
      yield* h.admin.enqueue(clusterId, job("a1", "apply", configMap(target, "a1")))
      yield* h.admin.enqueue(clusterId, job("a2", "apply", configMap(target, "a2")))
      yield* h.startAgent({ namespace: store, waitSeconds: 1 })
      yield* h.admin.enqueue(clusterId, job("a3", "apply", configMap(target, "a3")))
      expect((yield* h.admin.waitForResult("a3", within)).outcome).toBe("succeeded")
      expect(Option.isNone(yield* getOption(Resources.ConfigMap, "a1", target))).toBe(true)
      expect(Option.isNone(yield* getOption(Resources.ConfigMap, "a2", target))).toBe(true)
      expect((yield* h.admin.requests).filter((r) => r.route === "result").length).toBe(1)
    }))

  it.scoped("rotate-operator-credentials: new token persisted, the old one refused at once, polling continues", () =>
    Effect.gen(function* () {
      const store = yield* createTestNamespace("pull-store")
      const target = yield* createTestNamespace("pull-rotate", { "managed-by": "vworkspace" })
      const h = yield* startPullHarness()
      yield* h.startAgent({ namespace: store, waitSeconds: 1 })
      const before = Option.getOrThrow(yield* SubscriptionRef.get(h.ref)).token
      yield* h.admin.enqueue(clusterId, job("rot", "intent", { intent: "rotate-operator-credentials" }))
      expect((yield* h.admin.waitForResult("rot", within)).outcome).toBe("succeeded")
      const after = Option.getOrThrow(yield* SubscriptionRef.get(h.ref)).token
      expect(after).not.toBe(before)
      yield* h.admin.enqueue(clusterId, job("post", "apply", configMap(target, "post")))
      expect((yield* h.admin.waitForResult("post", within)).outcome).toBe("succeeded")
      expect(Option.isNone((yield* h.state.get).halted)).toBe(true)
    }))
})
