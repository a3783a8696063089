/**
 * A Pull agent under test: the mock control plane on loopback, in-memory credentials the test can
 * change, the live AgentClient, and `runPullAgent` forked for the test's scope (against the run's
 * real API server, from the enclosing KubeApi layer).
 */
import { Context, Duration, Effect, Fiber, Layer, Option, SubscriptionRef } from "effect"
import { appliedRefOf } from "../../src/api/agentProtocol.js"
import { agentClientLive } from "../../src/connectivity/agentClientLive.js"
import { ConnectionState, connectionStateLive } from "../../src/connectivity/connectionState.js"
import { credentialRotationToRef, credentialsFromRef, type AgentCredentialsValue } from "../../src/connectivity/credentials.js"
import type { MockAdminClient } from "../../src/connectivity/mock/adminClient.js"
import type { MockControlPlaneOptions } from "../../src/connectivity/mock/server.js"
import { conditionEventKey, conditionsOf } from "../../src/connectivity/outbox/transitions.js"
import { type PullAgentConfig, runPullAgent } from "../../src/connectivity/pull/agent.js"
import { CredentialKeys, Names } from "../../src/api/wellKnown.js"
import { KubeApi } from "../../src/kube/KubeApi.js"
import type { KubeObject } from "../../src/kube/object.js"
import { Resources } from "../../src/kube/resources.js"
import { createTestNamespace, kubeconfigPath } from "./cluster.js"
import { collectLogs } from "./collectedLogs.js"
import { plantedSecret } from "./logScan.js"
import { writeFluxStatus } from "./flux.js"
import { startMock } from "./mockControlPlane.js"
import { type OperatorProcess, operatorProcess } from "./operatorProcess.js"
import { waitFor } from "./wait.js"

export const clusterId = "cluster-pull-test"
export const agentToken = plantedSecret("agent bearer token", "vwksp-agent-pull-test")

export const startPullHarness = (options: { readonly mock?: Partial<MockControlPlaneOptions> } = {}) =>
  Effect.gen(function* () {
    const { mock, admin } = yield* startMock({ agentTokens: [{ token: agentToken, clusterId }], ...options.mock })
    const ref = yield* SubscriptionRef.make(Option.some<AgentCredentialsValue>({ baseUrl: mock.url, clusterId, token: agentToken }))
    const credentials = credentialsFromRef(ref)
    const services = yield* Layer.build(
      Layer.mergeAll(Layer.provideMerge(agentClientLive(), credentials), connectionStateLive, credentialRotationToRef(ref))
    )
    const state = Context.get(services, ConnectionState)
    /** Starts an agent for the rest of the scope; returns its fiber so a test can kill it. */
    const startAgent = (config: PullAgentConfig) =>
      Effect.gen(function* () {
        const fiber = yield* Effect.forkScoped(runPullAgent(config).pipe(Effect.provide(services), collectLogs()))
        return fiber
      })
    return { mock, admin, ref, state, startAgent, stop: Fiber.interrupt }
  })

export type PullHarness = Effect.Effect.Success<ReturnType<typeof startPullHarness>>

/**
 * The Pull agent as the operator process runs it: the mock on loopback, the credentials Secret
 * (as the Cluster reconciler writes it after registration) in a fresh operator namespace, a gated
 * namespace for the workloads, and `start` for `vworkspace-operator run` processes over them.
 * The processes reconcile no Cluster object (`--cluster-name` names none), so they leave the
 * Clusters of other test files alone.
 */
export const startPullOperators = (options: { readonly mock?: Partial<MockControlPlaneOptions> } = {}) =>
  Effect.gen(function* () {
    const api = yield* KubeApi
    const podNamespace = yield* createTestNamespace("pull-op")
    const appNamespace = yield* createTestNamespace("pull-app", { "managed-by": "vworkspace" })
    const { mock, admin } = yield* startMock({ agentTokens: [{ token: agentToken, clusterId }], ...options.mock })
    yield* api.create(Resources.Secret, {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: Names.agentCredentialsSecret, namespace: podNamespace },
      stringData: {
        [CredentialKeys.controlPlaneBaseUrl]: mock.url,
        [CredentialKeys.clusterId]: clusterId,
        [CredentialKeys.token]: agentToken
      }
    })
    const started: Array<OperatorProcess> = []
    const start = (extra: ReadonlyArray<string> = []) =>
      operatorProcess([
        "--kubeconfig",
        kubeconfigPath(),
        "--pod-namespace",
        podNamespace,
        "--watch-namespace",
        appNamespace,
        "--cluster-name",
        `none-${podNamespace}`,
        "--agent-poll-interval-seconds",
        "1",
        "--health-probe-bind-address",
        "127.0.0.1:0",
        ...extra
      ]).pipe(Effect.tap((p) => Effect.sync(() => started.push(p))))
    /** What the processes wrote: for a failing test's report. */
    const outputs = () => started.map((p) => `--- operator pid ${p.pid} ---\n${p.output().slice(-6000)}`).join("\n")
    /** The agent requests a process made (its pid is in the User-Agent). */
    const requestsOf = (p: OperatorProcess) =>
      Effect.map(admin.requests, (rs) => rs.filter((r) => r.userAgent.endsWith(`pid ${p.pid})`)))
    return { api, podNamespace, appNamespace, mock, admin, start, requestsOf, outputs }
  })

/** A managed ApplicationInstance whose HelmRelease has the instance's name. */
export const managedInstance = (namespace: string, name: string): KubeObject => ({
  apiVersion: "apps.vworkspace.io/v1alpha1",
  kind: "ApplicationInstance",
  metadata: { namespace, name },
  spec: {
    appRef: { catalogId: "nextcloud" },
    chart: { sourceType: "helm", url: "https://charts.example.test/stable", name: "nextcloud", version: "6.6.0" },
    release: { name, namespace },
    values: { source: "inline", inline: {} }
  }
})

export const readyIs = (status: string) => (o: KubeObject) => conditionsOf(o).some((c) => c.type === "Ready" && c.status === status)

/**
 * Instances changing under operator processes, and what the control plane must get: `observe`
 * waits for an instance to reach a state and adds its conditions' eventKeys to `expected`; `helm`
 * plays helm-controller (install succeeded, or an upgrade failed); `delivered` is what the mock
 * accepted (distinct keys, and re-posts of accepted ones).
 */
export const instanceTransitions = (
  f: { readonly appNamespace: string; readonly admin: MockAdminClient },
  within: Duration.DurationInput
) =>
  Effect.gen(function* () {
    const api = yield* KubeApi
    const expected = new Set<string>()
    const observe = (name: string, ready: (o: KubeObject) => boolean) =>
      Effect.gen(function* () {
        const o = yield* waitFor(
          `${name} to reach the state`,
          Effect.map(api.get(Resources.ApplicationInstance, name, f.appNamespace), (o) => (ready(o) ? o : undefined)),
          { timeout: within }
        )
        for (const c of conditionsOf(o)) expected.add(conditionEventKey(appliedRefOf(o), c))
      })
    const helm = (name: string, ready: "True" | "False") =>
      Effect.gen(function* () {
        const hr = yield* waitFor(
          "the HelmRelease",
          Effect.map(
            api.get(Resources.HelmRelease, name, f.appNamespace).pipe(
              Effect.map(Option.some),
              Effect.catchTag("NotFound", () => Effect.succeed(Option.none()))
            ),
            Option.getOrUndefined
          ),
          { timeout: within }
        )
        yield* writeFluxStatus(
          hr,
          ready === "True"
            ? [
                { type: "Ready", status: "True", reason: "InstallSucceeded", message: `Helm install succeeded for release ${f.appNamespace}/${name}.v1` },
                { type: "Released", status: "True", reason: "InstallSucceeded", message: "Helm install succeeded" }
              ]
            : [
                { type: "Ready", status: "False", reason: "UpgradeFailed", message: `Helm upgrade failed for release ${f.appNamespace}/${name}` },
                { type: "Released", status: "False", reason: "UpgradeFailed", message: "Helm upgrade failed" }
              ]
        )
      })
    const delivered = Effect.map(f.admin.events(clusterId), (v) => ({
      keys: new Set(v.events.map((e) => e.event.eventKey ?? "")),
      duplicates: v.duplicatePosts
    }))
    const waitDelivered = (what: string) =>
      waitFor(what, Effect.map(delivered, (d) => ([...expected].every((k) => d.keys.has(k)) ? d : undefined)), {
        timeout: within,
        interval: Duration.millis(500)
      })
    return { expected, observe, helm, delivered, waitDelivered }
  })
