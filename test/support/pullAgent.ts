/**
 * A Pull agent under test: the mock control plane on loopback, in-memory credentials the test can
 * change, the live AgentClient, and `runPullAgent` forked for the test's scope (against the run's
 * real API server, from the enclosing KubeApi layer).
 */
import { Context, Effect, Fiber, Layer, Option, SubscriptionRef } from "effect"
import { agentClientLive } from "../../src/connectivity/agentClientLive.js"
import { ConnectionState, connectionStateLive } from "../../src/connectivity/connectionState.js"
import { credentialRotationToRef, credentialsFromRef, type AgentCredentialsValue } from "../../src/connectivity/credentials.js"
import type { MockControlPlaneOptions } from "../../src/connectivity/mock/server.js"
import { type PullAgentConfig, runPullAgent } from "../../src/connectivity/pull/agent.js"
import { CredentialKeys, Names } from "../../src/api/wellKnown.js"
import { KubeApi } from "../../src/kube/KubeApi.js"
import { Resources } from "../../src/kube/resources.js"
import { createTestNamespace, kubeconfigPath } from "./cluster.js"
import { startMock } from "./mockControlPlane.js"
import { type OperatorProcess, operatorProcess } from "./operatorProcess.js"

export const clusterId = "cluster-pull-test"
export const agentToken = "vwksp-agent-pull-test"

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
        const fiber = yield* Effect.forkScoped(runPullAgent(config).pipe(Effect.provide(services)))
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
