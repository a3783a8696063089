/**
 * The mock control plane for tests: started on loopback for the test's scope (its request
 * log collected for the log scan), with an admin client and an `AgentClient` bound to
 * in-memory credentials the test can change.
 */
import { Context, Effect, Layer, Option, SubscriptionRef } from "effect"
import { AgentClient } from "../../src/connectivity/agentClient.js"
import { type AgentClientConfig, agentClientLive } from "../../src/connectivity/agentClientLive.js"
import { type AgentCredentialsValue, credentialsFromRef } from "../../src/connectivity/credentials.js"
import { type MockAdminClient, mockAdminClient } from "../../src/connectivity/mock/adminClient.js"
import { type MockControlPlane, makeMockControlPlane, type MockControlPlaneOptions } from "../../src/connectivity/mock/server.js"
import { logSources, openLogFile, plantedSecret } from "./logScan.js"
import { testFileId } from "./testFileId.js"

export const adminToken = plantedSecret("mock admin bearer token", "test-admin-token")

export const startMock = (options: Partial<MockControlPlaneOptions> = {}) =>
  Effect.gen(function* () {
    const mock = yield* makeMockControlPlane({ adminToken, ...options })
    // Its request log goes to the log scan when the scope ends (logScan.ts).
    yield* Effect.addFinalizer(() => Effect.sync(() => writeRequestLog(mock)))
    const admin: MockAdminClient = yield* mockAdminClient(mock.url, adminToken)
    return { mock, admin }
  })

let mocks = 0
const writeRequestLog = (mock: MockControlPlane) => {
  const file = openLogFile(logSources.mockControlPlane, `${testFileId()}-${++mocks}`)
  for (const entry of mock.state.requests()) file.write(`${JSON.stringify(entry)}\n`)
  file.close()
}

/** A registered cluster's credentials held in a ref, and the live client over them. */
export const agentClientFor = (initial: AgentCredentialsValue | undefined, config: Partial<AgentClientConfig> = {}) =>
  Effect.gen(function* () {
    const ref = yield* SubscriptionRef.make(Option.fromNullable(initial))
    const credentials = credentialsFromRef(ref)
    const layer = Layer.provideMerge(agentClientLive(config), credentials)
    const context = yield* Layer.build(layer)
    return { ref, client: Context.get(context, AgentClient), context }
  })
