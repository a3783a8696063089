/**
 * The Cluster reconciler against a real API server and the mock control plane over HTTP:
 * registration (Secret ref and the deprecated inline token), adoption, forced re-exchange,
 * rotation, heartbeats with a conditions snapshot, and the Disconnected window.
 */
import { expect, layer } from "@effect/vitest"
import { Duration, Effect, FiberRef, HashSet, Option, Schema } from "effect"
import { Cluster } from "../../src/api/cluster.js"
import { findCondition } from "../../src/api/conditions.js"
import { defaultConnectivityConfig } from "../../src/config.js"
import { credentialsOf, tokenFingerprint } from "../../src/connectivity/credentialsLive.js"
import type { MockAdminClient } from "../../src/connectivity/mock/adminClient.js"
import { KubeApi } from "../../src/kube/KubeApi.js"
import type { KubeObject } from "../../src/kube/object.js"
import { Resources } from "../../src/kube/resources.js"
import { createTestNamespace } from "../support/cluster.js"
import { warningCollector } from "../support/collectedLogs.js"
import { startMock } from "../support/mockControlPlane.js"
import { kubeLayer, startTestOperator } from "../support/operator.js"
import { plantedSecret } from "../support/logScan.js"
import { waitFor } from "../support/wait.js"

const decodeCluster = Schema.decodeUnknownSync(Cluster)

const fast = {
  ...defaultConnectivityConfig,
  heartbeatInterval: Duration.seconds(1),
  disconnectWindow: Duration.seconds(3)
}

const get = (type: (typeof Resources)[keyof typeof Resources], name: string, namespace?: string) =>
  Effect.flatMap(KubeApi, (api) =>
    api.get(type, name, namespace).pipe(
      Effect.map(Option.some),
      Effect.catchTag("NotFound", () => Effect.succeed(Option.none<KubeObject>()))
    )
  )

/** A Cluster (named after the test namespace, which the test operator reconciles), deleted with the scope. */
const applyCluster = (name: string, spec: Record<string, unknown>, annotations?: Record<string, string>) =>
  Effect.flatMap(KubeApi, (api) =>
    Effect.acquireRelease(
      api.apply(
        Resources.Cluster,
        { apiVersion: "ops.vworkspace.io/v1alpha1", kind: "Cluster", metadata: { name, ...(annotations ? { annotations } : {}) }, spec },
        { fieldManager: "test-admin", force: true }
      ),
      () =>
        Effect.gen(function* () {
          // Without kube-controller-manager nothing removes our finalizer once the operator is gone.
          yield* Effect.ignore(api.patch(Resources.Cluster, name, undefined, "merge", { metadata: { finalizers: null } }))
          yield* Effect.ignore(api.delete(Resources.Cluster, name))
        })
    )
  )

const tokenSecret = (namespace: string, token: string) =>
  Effect.flatMap(KubeApi, (api) =>
    api.apply(
      Resources.Secret,
      {
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name: "registration", namespace },
        stringData: { registrationToken: token }
      },
      { fieldManager: "test-admin", force: true }
    )
  )

const clusterStatus = (name: string) =>
  Effect.map(get(Resources.Cluster, name), (o) => Option.map(o, (c) => decodeCluster(c)))

const waitStatus = (name: string, what: string, ok: (c: typeof Cluster.Type) => boolean) =>
  waitFor(
    what,
    Effect.map(clusterStatus(name), (c) => (Option.isSome(c) && ok(c.value) ? c.value : undefined)),
    { timeout: Duration.seconds(30) }
  )

const hasCondition = (c: typeof Cluster.Type, type: string, status: string, reason?: string) => {
  const found = findCondition(c.status?.conditions, type)
  return found !== undefined && found.status === status && (reason === undefined || found.reason === reason)
}

const credentialsIn = (namespace: string) =>
  Effect.map(get(Resources.Secret, "vworkspace-agent-credentials", namespace), (o) => Option.flatMap(o, credentialsOf))

const heartbeats = (admin: MockAdminClient, clusterId: string) =>
  Effect.map(admin.events(clusterId, { eventKind: "ClusterHeartbeat" }), (v) => v.events)

// The log scan looks for every token these tests hand out (the mock's issued ones are planted where read).
for (const token of ["vwksp-reg-0001", "vwksp-reg-inline", "vwksp-reg-unknown", "vwksp-reg-consumed", "vwksp-reg-rot", "vwksp-reg-again", "vwksp-reg-out"]) {
  plantedSecret("registration token", token)
}
plantedSecret("agent bearer token", "vwksp-agent-earlier")

layer(kubeLayer(), { timeout: "90 seconds", excludeTestServices: true })("Cluster reconciler", (it) => {
  it.scoped("registers from a token Secret, stores owned credentials, heartbeats with conditions", () =>
    Effect.gen(function* () {
      const ns = yield* createTestNamespace("cluster-reg")
      const { mock, admin } = yield* startMock()
      yield* admin.addRegistrationToken({ token: "vwksp-reg-0001" })
      yield* tokenSecret(ns, "vwksp-reg-0001")
      const created = yield* applyCluster(ns, {
        controlPlaneEndpoint: mock.url,
        registrationTokenSecretRef: { name: "registration" }
      })
      yield* startTestOperator({ namespace: ns, config: { podNamespace: ns, connectivity: fast } })

      const connected = yield* waitStatus(ns, "Connected=True/RoundTripOK", (c) => hasCondition(c, "Connected", "True", "RoundTripOK"))
      expect(connected.status).toMatchObject({
        phase: "Connected",
        connectivityMode: "pull",
        observedToken: tokenFingerprint("vwksp-reg-0001"),
        credentialsSecretRef: { name: "vworkspace-agent-credentials", namespace: ns },
        credentialStatus: { secretName: "vworkspace-agent-credentials", secretNamespace: ns, registrationTokenConsumed: true }
      })
      expect(connected.status?.lastHeartbeat).toBeDefined()
      expect(hasCondition(connected, "Disconnected", "False", "Connected")).toBe(true)
      expect(hasCondition(connected, "Authenticated", "True", "CredentialAccepted")).toBe(true)
      expect(findCondition(connected.status?.conditions, "ControllersHealthy")?.reason).toMatch(
        /^(AllControllersReady|ControllerMissing|ControllerDegraded)$/
      )
      expect(connected.metadata.finalizers).toContain("ops.vworkspace.io/cluster-cleanup")

      // The server-issued id is written back into the spec.
      const clusterId = connected.spec?.clusterId ?? ""
      expect(clusterId).toMatch(/^cluster-/)
      const secret = yield* get(Resources.Secret, "vworkspace-agent-credentials", ns)
      expect(Option.getOrThrow(secret).metadata.ownerReferences).toEqual([
        expect.objectContaining({ kind: "Cluster", name: ns, uid: created.metadata.uid, controller: true })
      ])
      const stored = Option.getOrThrow(yield* credentialsIn(ns))
      expect(stored).toMatchObject({ baseUrl: mock.url, clusterId })
      expect(plantedSecret("agent bearer token issued at registration", stored.token)).toMatch(/^vwksp-agent-/)

      // Heartbeats keep coming, each with the Cluster's conditions.
      const beats = yield* waitFor(
        "two heartbeats",
        Effect.map(heartbeats(admin, clusterId), (e) => (e.length >= 2 ? e : undefined))
      )
      expect(beats[1]?.event).toMatchObject({
        kind: "ClusterHeartbeat",
        resourceRef: { apiVersion: "ops.vworkspace.io/v1alpha1", kind: "Cluster", namespace: "", name: clusterId }
      })
      expect(beats.at(-1)?.event.conditions?.map((c) => c.type)).toEqual(
        expect.arrayContaining(["Connected", "Authenticated", "ControllersHealthy"])
      )
      // The registration token was exchanged exactly once.
      const registers = (yield* admin.requests).filter((r) => r.route === "register")
      expect(registers.map((r) => r.status)).toEqual([200])
    }))

  it.scoped("the deprecated inline token: exchanged, cleared from the spec, DeprecatedField warning", () =>
    Effect.gen(function* () {
      const ns = yield* createTestNamespace("cluster-inline")
      const { mock, admin } = yield* startMock()
      yield* admin.addRegistrationToken({ token: "vwksp-reg-inline", clusterId: "c-inline" })
      yield* applyCluster(ns, { controlPlaneEndpoint: mock.url, registrationToken: "vwksp-reg-inline", clusterId: "c-inline" })
      yield* startTestOperator({ namespace: ns, config: { podNamespace: ns, connectivity: fast } })
      const done = yield* waitStatus(ns, "the inline token exchanged and cleared", (c) =>
        c.status?.observedToken === tokenFingerprint("vwksp-reg-inline") && c.spec?.registrationToken === undefined
      )
      expect(done.spec?.clusterId).toBe("c-inline")
      const events = yield* waitFor(
        "a DeprecatedField Event",
        Effect.flatMap(KubeApi, (api) => api.list(Resources.Event, { namespace: "default" })).pipe(
          Effect.map((l) =>
            l.items.find(
              (e) =>
                e["reason"] === "DeprecatedField" &&
                (e["involvedObject"] as { name?: string } | undefined)?.name === ns
            )
          )
        )
      )
      expect(events["type"]).toBe("Warning")
      expect(JSON.stringify(events)).not.toContain("vwksp-reg-inline")
    }))

  it.scoped("an unresolvable token Secret: Pending/TokenSecretMissing; a refused exchange: Error/RegistrationFailed", () =>
    Effect.gen(function* () {
      const ns = yield* createTestNamespace("cluster-pending")
      const { mock } = yield* startMock()
      yield* applyCluster(ns, { controlPlaneEndpoint: mock.url, registrationTokenSecretRef: { name: "registration" } })
      yield* startTestOperator({ namespace: ns, config: { podNamespace: ns, connectivity: fast } })
      const pending = yield* waitStatus(ns, "Pending/TokenSecretMissing", (c) =>
        hasCondition(c, "Authenticated", "False", "TokenSecretMissing")
      )
      expect(pending.status?.phase).toBe("Pending")
      expect(findCondition(pending.status?.conditions, "Authenticated")?.message).toContain(`${ns}/registration not found`)
      expect(hasCondition(pending, "Connected", "False", "RegistrationPending")).toBe(true)

      // A token the control plane does not know.
      yield* tokenSecret(ns, "vwksp-reg-unknown")
      // The Secret is not watched; touching the Cluster wakes the reconciler.
      yield* applyCluster(ns, { controlPlaneEndpoint: mock.url, registrationTokenSecretRef: { name: "registration", key: "registrationToken" } })
      const failed = yield* waitStatus(ns, "Error/RegistrationFailed", (c) => hasCondition(c, "Authenticated", "False", "RegistrationFailed"))
      expect(failed.status?.phase).toBe("Error")
      expect(findCondition(failed.status?.conditions, "Authenticated")?.message).toContain("register API error (401)")
      expect(JSON.stringify(failed)).not.toContain("vwksp-reg-unknown")
    }))

  it.scoped("adoption: credentials from an earlier registration are kept, not re-exchanged", () =>
    Effect.gen(function* () {
      const ns = yield* createTestNamespace("cluster-adopt")
      const { mock, admin } = yield* startMock({ agentTokens: [{ token: "vwksp-agent-earlier", clusterId: "c-adopt" }] })
      const api = yield* KubeApi
      yield* tokenSecret(ns, "vwksp-reg-consumed")
      const cluster = yield* applyCluster(ns, {
        controlPlaneEndpoint: mock.url,
        clusterId: "c-adopt",
        registrationTokenSecretRef: { name: "registration" }
      })
      // What an earlier operator version left: the Secret, and a status that says the token was used.
      yield* api.apply(
        Resources.Secret,
        {
          apiVersion: "v1",
          kind: "Secret",
          metadata: { name: "vworkspace-agent-credentials", namespace: ns },
          stringData: { "control-plane-base-url": mock.url, "cluster-id": "c-adopt", token: "vwksp-agent-earlier" }
        },
        { fieldManager: "earlier-operator", force: true }
      )
      yield* api.applyStatus(
        Resources.Cluster,
        {
          apiVersion: cluster.apiVersion,
          kind: cluster.kind,
          metadata: { name: ns },
          status: { phase: "Connected", credentialStatus: { registrationTokenConsumed: true } }
        },
        { fieldManager: "earlier-operator", force: true }
      )
      yield* startTestOperator({ namespace: ns, config: { podNamespace: ns, connectivity: fast } })
      const adopted = yield* waitStatus(ns, "adopted and connected", (c) =>
        c.status?.observedToken === tokenFingerprint("vwksp-reg-consumed") && hasCondition(c, "Connected", "True", "RoundTripOK")
      )
      expect(adopted.status?.credentialsSecretRef).toEqual({ name: "vworkspace-agent-credentials", namespace: ns })
      const requests = yield* admin.requests
      expect(requests.filter((r) => r.route === "register")).toEqual([])
      expect(requests.filter((r) => r.route === "events").every((r) => r.tokenFingerprint === tokenFingerprint("vwksp-agent-earlier"))).toBe(true)
    }))

  it.scoped("rotation: the new token is used at once, the old one never again; CredentialRotated is sent", () =>
    Effect.gen(function* () {
      const ns = yield* createTestNamespace("cluster-rotate")
      const { mock, admin } = yield* startMock()
      yield* admin.addRegistrationToken({ token: "vwksp-reg-rot" })
      yield* tokenSecret(ns, "vwksp-reg-rot")
      yield* applyCluster(ns, { controlPlaneEndpoint: mock.url, registrationTokenSecretRef: { name: "registration" } })
      yield* startTestOperator({ namespace: ns, config: { podNamespace: ns, connectivity: fast } })
      const connected = yield* waitStatus(ns, "connected", (c) => hasCondition(c, "Connected", "True", "RoundTripOK"))
      const clusterId = connected.spec?.clusterId ?? ""
      const before = Option.getOrThrow(yield* credentialsIn(ns))

      yield* applyCluster(ns, {
        controlPlaneEndpoint: mock.url,
        registrationTokenSecretRef: { name: "registration" },
        rotateCredentials: true
      })
      const after = yield* waitFor(
        "the rotated token in the Secret",
        Effect.map(credentialsIn(ns), (c) => (Option.isSome(c) && c.value.token !== before.token ? c.value : undefined))
      )
      plantedSecret("agent bearer token issued at rotation", after.token)
      yield* waitStatus(ns, "spec.rotateCredentials cleared", (c) => c.spec?.rotateCredentials === false)
      const rotated = yield* waitFor(
        "a CredentialRotated event",
        Effect.map(admin.events(clusterId, { eventKind: "CredentialRotated" }), (v) => v.events[0])
      )
      expect(rotated.event.conditions?.[0]).toMatchObject({ type: "Authenticated", status: "True", reason: "CredentialRotated" })
      // Heartbeats continue, with the new token only.
      const rotateAt = (yield* admin.requests).findIndex((r) => r.route === "rotate")
      yield* waitFor(
        "heartbeats with the new token",
        Effect.map(admin.requests, (rs) =>
          rs.slice(rotateAt + 1).filter((r) => r.route === "events" && r.tokenFingerprint === tokenFingerprint(after.token) && r.status === 204).length >= 2
            ? true
            : undefined
        )
      )
      const later = (yield* admin.requests).slice(rotateAt + 1)
      expect(later.filter((r) => r.tokenFingerprint === tokenFingerprint(before.token))).toEqual([])
      const still = Option.getOrThrow(yield* clusterStatus(ns))
      expect(hasCondition(still, "Authenticated", "True", "CredentialAccepted")).toBe(true)
      expect(JSON.stringify(still)).not.toContain(after.token)
    }))

  it.scoped("the annotation forces a re-exchange of the same token, and is removed afterwards", () =>
    Effect.gen(function* () {
      const ns = yield* createTestNamespace("cluster-reex")
      const { mock, admin } = yield* startMock()
      yield* admin.addRegistrationToken({ token: "vwksp-reg-again", clusterId: "c-again" })
      yield* tokenSecret(ns, "vwksp-reg-again")
      const spec = { controlPlaneEndpoint: mock.url, clusterId: "c-again", registrationTokenSecretRef: { name: "registration" } }
      yield* applyCluster(ns, spec)
      yield* startTestOperator({ namespace: ns, config: { podNamespace: ns, connectivity: fast } })
      yield* waitStatus(ns, "registered", (c) => c.status?.credentialStatus?.registrationTokenConsumed === true)
      const first = Option.getOrThrow(yield* credentialsIn(ns))
      // The control plane re-issues the token; the admin asks for a re-exchange.
      yield* admin.addRegistrationToken({ token: "vwksp-reg-again", clusterId: "c-again" })
      yield* applyCluster(ns, spec, { "ops.vworkspace.io/rotate-credentials": "true" })
      const second = yield* waitFor(
        "new credentials",
        Effect.map(credentialsIn(ns), (c) => (Option.isSome(c) && c.value.token !== first.token ? c.value : undefined))
      )
      plantedSecret("agent bearer token issued at re-exchange", second.token)
      expect(second.clusterId).toBe("c-again")
      yield* waitStatus(ns, "the annotation removed", (c) => c.metadata.annotations?.["ops.vworkspace.io/rotate-credentials"] === undefined)
      expect((yield* admin.requests).filter((r) => r.route === "register").map((r) => r.status)).toEqual([200, 200])
    }))

  it.scoped("an outage: Connected=False at once, Disconnected=True only after the window, then back", () =>
    Effect.gen(function* () {
      const ns = yield* createTestNamespace("cluster-outage")
      const { mock, admin } = yield* startMock()
      yield* admin.addRegistrationToken({ token: "vwksp-reg-out" })
      yield* tokenSecret(ns, "vwksp-reg-out")
      yield* applyCluster(ns, { controlPlaneEndpoint: mock.url, registrationTokenSecretRef: { name: "registration" } })
      const warnings: Array<string> = []
      yield* startTestOperator({ namespace: ns, config: { podNamespace: ns, connectivity: fast } }).pipe(
        Effect.locallyWith(FiberRef.currentLoggers, (loggers) => HashSet.add(loggers, warningCollector(warnings)))
      )
      yield* waitStatus(ns, "connected", (c) => hasCondition(c, "Connected", "True", "RoundTripOK"))

      yield* admin.addFaults([{ status: 503, routes: ["events"] }])
      const unreachable = yield* waitStatus(ns, "Connected=False/ControlPlaneUnreachable", (c) =>
        hasCondition(c, "Connected", "False", "ControlPlaneUnreachable")
      )
      // Inside the window: not yet Disconnected, and a 503 says nothing about the credential.
      expect(hasCondition(unreachable, "Disconnected", "False", "Connected")).toBe(true)
      expect(hasCondition(unreachable, "Authenticated", "True", "CredentialAccepted")).toBe(true)
      const disconnected = yield* waitStatus(ns, "Disconnected=True/NoRecentRoundTrip", (c) =>
        hasCondition(c, "Disconnected", "True", "NoRecentRoundTrip")
      )
      expect(disconnected.status?.phase).toBe("Disconnected")
      // Every heartbeat of the window failed the same way: one warning, not one per beat.
      expect(warnings.filter((line) => line.endsWith("heartbeat failed"))).toHaveLength(1)

      yield* admin.clearFaults
      const back = yield* waitStatus(ns, "connected again", (c) => hasCondition(c, "Connected", "True", "RoundTripOK"))
      expect(back.status?.phase).toBe("Connected")
      expect(hasCondition(back, "Disconnected", "False", "Connected")).toBe(true)
    }))
})
