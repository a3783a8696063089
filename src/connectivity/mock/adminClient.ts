/**
 * A typed client of the mock control plane's admin API, for tests, the bench and the demo.
 * Every call has a timeout; `waitForResult` waits for a job's result with a deadline.
 */
import { Data, Duration, Effect, ParseResult, Schedule, Schema, type Scope } from "effect"
import type { JobResult } from "../../api/agentProtocol.js"
import { AgentTransportError } from "../agentClient.js"
import { type HttpAgents, makeHttpAgents, sendRequest } from "../http.js"
import {
  type AdminFault,
  type AdminRegistrationToken,
  EventsView,
  JobsView,
  JobView,
  type RequestLogEntry,
  RequestsView
} from "./adminProtocol.js"

export class MockAdminError extends Data.TaggedError("MockAdminError")<{ readonly message: string }> {}

export interface EventFilter {
  /** The resource kind of `resourceRef`. */
  readonly kind?: string
  /** The event's own kind, e.g. `ConditionTransition`. */
  readonly eventKind?: string
  readonly namespace?: string
  readonly name?: string
}

const timeout = Duration.seconds(10)

export interface MockAdminClient {
  /** Enqueue a job (kept raw; only `id` is required) for a cluster. */
  readonly enqueue: (clusterId: string, job: Readonly<Record<string, unknown>>) => Effect.Effect<void, MockAdminError>
  readonly job: (id: string) => Effect.Effect<JobView, MockAdminError>
  readonly jobs: (clusterId: string) => Effect.Effect<ReadonlyArray<JobView>, MockAdminError>
  /** The recorded result, waiting up to `within` for it (polling every 50 ms). */
  readonly waitForResult: (id: string, within: Duration.DurationInput) => Effect.Effect<JobResult, MockAdminError>
  readonly events: (clusterId: string, filter?: EventFilter) => Effect.Effect<EventsView, MockAdminError>
  readonly addRegistrationToken: (token: AdminRegistrationToken) => Effect.Effect<void, MockAdminError>
  readonly setAgentToken: (clusterId: string, token: string) => Effect.Effect<void, MockAdminError>
  readonly addFaults: (faults: ReadonlyArray<AdminFault>) => Effect.Effect<void, MockAdminError>
  readonly clearFaults: Effect.Effect<void, MockAdminError>
  readonly requests: Effect.Effect<ReadonlyArray<RequestLogEntry>, MockAdminError>
}

const asAdminError = (e: AgentTransportError | ParseResult.ParseError) =>
  new MockAdminError({
    message: e instanceof AgentTransportError ? e.message : `unexpected answer: ${ParseResult.TreeFormatter.formatErrorSync(e)}`
  })

export const makeMockAdminClient = (baseUrl: string, adminToken: string, agents: HttpAgents): MockAdminClient => {
  const call = (method: "GET" | "POST" | "DELETE", path: string, body?: unknown) =>
    sendRequest(agents, {
      method,
      url: new URL(baseUrl.replace(/\/+$/, "") + path),
      headers: {
        Authorization: `Bearer ${adminToken}`,
        Accept: "application/json",
        ...(body === undefined ? {} : { "Content-Type": "application/json" })
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      timeout
    }).pipe(Effect.mapError(asAdminError))

  const expect = (status: number, what: string) => (r: { status: number; body: string }) =>
    r.status === status ? Effect.succeed(r.body) : Effect.fail(new MockAdminError({ message: `${what}: HTTP ${r.status}: ${r.body}` }))

  const decode = <A, I>(schema: Schema.Schema<A, I>) => (body: string) =>
    Schema.decodeUnknown(Schema.parseJson(schema))(body).pipe(Effect.mapError(asAdminError))

  const noContent = (what: string) => (r: { status: number; body: string }) => Effect.asVoid(expect(204, what)(r))

  const job = (id: string) =>
    call("GET", `/api/admin/jobs/${encodeURIComponent(id)}`).pipe(
      Effect.flatMap(expect(200, `job ${id}`)),
      Effect.flatMap(decode(JobView))
    )

  return {
    enqueue: (clusterId, j) => call("POST", "/api/admin/enqueue", { clusterId, job: j }).pipe(Effect.flatMap(noContent("enqueue"))),
    job,
    jobs: (clusterId) =>
      call("GET", `/api/admin/jobs?cluster=${encodeURIComponent(clusterId)}`).pipe(
        Effect.flatMap(expect(200, "jobs")),
        Effect.flatMap(decode(JobsView)),
        Effect.map((v) => v.jobs)
      ),
    waitForResult: (id, within) =>
      job(id).pipe(
        Effect.flatMap((v) =>
          v.result === undefined ? Effect.fail(new MockAdminError({ message: `job ${id} has no result yet` })) : Effect.succeed(v.result)
        ),
        Effect.retry(Schedule.spaced(Duration.millis(50))),
        Effect.timeoutFail({
          duration: within,
          onTimeout: () => new MockAdminError({ message: `job ${id}: no result within ${Duration.format(Duration.decode(within))}` })
        })
      ),
    events: (clusterId, filter = {}) => {
      const q = new URLSearchParams({ cluster: clusterId })
      for (const [k, v] of Object.entries(filter)) if (typeof v === "string") q.set(k, v)
      return call("GET", `/api/admin/events?${q.toString()}`).pipe(
        Effect.flatMap(expect(200, "events")),
        Effect.flatMap(decode(EventsView))
      )
    },
    addRegistrationToken: (token) => call("POST", "/api/admin/registration-tokens", token).pipe(Effect.flatMap(noContent("registration token"))),
    setAgentToken: (clusterId, token) =>
      call("POST", "/api/admin/agent-tokens", { clusterId, token }).pipe(Effect.flatMap(noContent("agent token"))),
    addFaults: (faults) => call("POST", "/api/admin/faults", { faults }).pipe(Effect.flatMap(noContent("faults"))),
    clearFaults: call("DELETE", "/api/admin/faults").pipe(Effect.flatMap(noContent("clear faults"))),
    requests: call("GET", "/api/admin/requests").pipe(
      Effect.flatMap(expect(200, "requests")),
      Effect.flatMap(decode(RequestsView)),
      Effect.map((v) => v.requests)
    )
  }
}

/** An admin client with its own connection pool, for the life of the scope. */
export const mockAdminClient = (baseUrl: string, adminToken: string): Effect.Effect<MockAdminClient, never, Scope.Scope> =>
  Effect.map(makeHttpAgents, (agents) => makeMockAdminClient(baseUrl, adminToken, agents))
