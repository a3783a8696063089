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
import type { KubeApi } from "../../src/kube/KubeApi.js"
import { startMock } from "./mockControlPlane.js"

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
export type { KubeApi }
