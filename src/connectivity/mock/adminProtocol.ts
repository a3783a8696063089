/** Bodies of the mock control plane's admin API, shared by the server and the typed admin client. */
import { Schema } from "effect"
import { AgentEvent, JobResult, StatusUpdate } from "../../api/agentProtocol.js"

export const AdminEnqueue = Schema.Struct({
  clusterId: Schema.String,
  /** Kept raw, so that tests can enqueue malformed envelopes; only `id` is required. */
  job: Schema.Record({ key: Schema.String, value: Schema.Unknown })
})
export type AdminEnqueue = typeof AdminEnqueue.Type

export const AdminRegistrationToken = Schema.Struct({
  token: Schema.String.pipe(Schema.minLength(1)),
  clusterId: Schema.optional(Schema.String),
  ttlSeconds: Schema.optional(Schema.Number)
})
export type AdminRegistrationToken = typeof AdminRegistrationToken.Type

export const AdminAgentToken = Schema.Struct({
  clusterId: Schema.String.pipe(Schema.minLength(1)),
  token: Schema.String.pipe(Schema.minLength(1))
})

const Route = Schema.Literal("register", "jobs", "ack", "status", "result", "events", "rotate")

export const AdminFault = Schema.Struct({
  /**
   * An error status to answer with; `drop`: cut the connection without handling the request;
   * `dropAnswer`: handle the request, then cut the connection before the answer (the agent
   * cannot tell whether it took effect).
   */
  status: Schema.Union(Schema.Int.pipe(Schema.between(400, 599)), Schema.Literal("drop", "dropAnswer")),
  code: Schema.optional(Schema.String),
  message: Schema.optional(Schema.String),
  retryAfter: Schema.optional(Schema.String),
  routes: Schema.optional(Schema.Array(Route)),
  count: Schema.optional(Schema.Int.pipe(Schema.positive()))
})
export type AdminFault = typeof AdminFault.Type

export const AdminAddFaults = Schema.Struct({ faults: Schema.Array(AdminFault) })

export const AgentRouteName = Route
export type AgentRoute = typeof Route.Type

/** One job as the admin API shows it. */
export const JobView = Schema.Struct({
  id: Schema.String,
  clusterId: Schema.String,
  /** The job as enqueued (kept raw, so malformed envelopes reach the agent as sent). */
  job: Schema.Record({ key: Schema.String, value: Schema.Unknown }),
  enqueuedAt: Schema.String,
  deliveries: Schema.Number,
  acked: Schema.Boolean,
  statuses: Schema.Array(StatusUpdate),
  result: Schema.optional(JobResult),
  resultAt: Schema.optional(Schema.String),
  /** Result posts answered 409 because one was already recorded. */
  duplicateResults: Schema.Number
})
export type JobView = typeof JobView.Type

export const StoredEvent = Schema.Struct({
  clusterId: Schema.String,
  receivedAt: Schema.String,
  event: AgentEvent
})
export type StoredEvent = typeof StoredEvent.Type

export const EventsView = Schema.Struct({
  events: Schema.Array(StoredEvent),
  /** Per `eventKey`: how often it was posted again after it was accepted. */
  duplicatePosts: Schema.Record({ key: Schema.String, value: Schema.Number })
})
export type EventsView = typeof EventsView.Type

export const RequestLogEntry = Schema.Struct({
  at: Schema.String,
  route: Route,
  method: Schema.String,
  path: Schema.String,
  /** First 16 hex characters of sha256 of the bearer token (never the token), or "". */
  tokenFingerprint: Schema.String,
  accept: Schema.String,
  contentType: Schema.String,
  bodyBytes: Schema.Number,
  /** The agent's User-Agent header (it names the process: host and pid). */
  userAgent: Schema.String,
  status: Schema.Union(Schema.Number, Schema.Literal("drop", "dropAnswer"))
})
export type RequestLogEntry = typeof RequestLogEntry.Type

export const JobsView = Schema.Struct({ jobs: Schema.Array(JobView) })
export const RequestsView = Schema.Struct({ requests: Schema.Array(RequestLogEntry) })
