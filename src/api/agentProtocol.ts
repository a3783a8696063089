/**
 * The `/api/agent/*` wire types (spec/connectivity.md §2.2, §3), media type
 * `application/vnd.vworkspace.agent.v1+json`. Decoders ignore unknown fields (forward
 * compatibility within v1) and tolerate `null` where the Go control plane sends it.
 */
import { Schema } from "effect"
import type { KubeObject } from "../kube/object.js"
import { ApplicationInstance } from "./applicationInstance.js"
import { ConditionStatus } from "./meta.js"
import { Operation } from "./operation.js"
import { DateTimeString } from "./schemaKit.js"

export const AgentMediaType = "application/vnd.vworkspace.agent.v1+json"

export const AgentPaths = {
  register: "/api/agent/register",
  jobs: "/api/agent/jobs",
  ack: (jobId: string) => `/api/agent/jobs/${encodeURIComponent(jobId)}/ack`,
  status: (jobId: string) => `/api/agent/jobs/${encodeURIComponent(jobId)}/status`,
  result: (jobId: string) => `/api/agent/jobs/${encodeURIComponent(jobId)}/result`,
  events: "/api/agent/events",
  rotateCredentials: "/api/agent/credentials/rotate"
} as const

/** A time the peer may omit, send as `null`, or (Go zero value quirks) send as `""`. */
const OptionalTime = Schema.optional(Schema.NullOr(Schema.String))

/** `metav1.Condition` on the wire: a Go zero `lastTransitionTime` arrives as `null`. */
export const WireCondition = Schema.Struct({
  type: Schema.String,
  status: ConditionStatus,
  observedGeneration: Schema.optional(Schema.Int),
  lastTransitionTime: Schema.NullOr(DateTimeString),
  reason: Schema.String,
  message: Schema.String
}).annotations({ identifier: "Condition" })
export type WireCondition = typeof WireCondition.Type

/** Identifies a Kubernetes object; `namespace` is `""` for cluster-scoped objects. */
export const AppliedRef = Schema.Struct({
  apiVersion: Schema.String,
  kind: Schema.String,
  namespace: Schema.String,
  name: Schema.String,
  uid: Schema.optional(Schema.String),
  generation: Schema.optional(Schema.Int)
}).annotations({ identifier: "AppliedRef" })
export type AppliedRef = typeof AppliedRef.Type

/** The reference to an object as results and events carry it (uid and generation when it has them). */
export const appliedRefOf = (object: KubeObject): AppliedRef => ({
  apiVersion: object.apiVersion,
  kind: object.kind,
  namespace: object.metadata.namespace ?? "",
  name: object.metadata.name ?? "",
  ...(object.metadata.uid === undefined ? {} : { uid: object.metadata.uid }),
  ...(object.metadata.generation === undefined ? {} : { generation: object.metadata.generation })
})

export const JobKinds = ["apply", "delete", "intent"] as const
export const JobKind = Schema.Literal(...JobKinds)
export type JobKind = typeof JobKind.Type

/**
 * One job of `GET /api/agent/jobs`. `kind` stays a plain string so that a job of an unknown kind
 * decodes and can be answered with a `failed` result instead of breaking the whole poll.
 */
export const Job = Schema.Struct({
  id: Schema.String.annotations({ description: "Opaque job id, used in the ack/status/result paths." }),
  kind: Schema.String.annotations({ description: "apply | delete | intent" }),
  payload: Schema.Unknown.annotations({ description: "Raw JSON whose shape depends on kind." }),
  idempotencyKey: Schema.optional(Schema.String),
  createdAt: OptionalTime,
  expiresAt: OptionalTime,
  signature: Schema.optional(Schema.String).annotations({
    description: "Detached Ed25519 signature (base64) over the canonical JSON of payload."
  })
}).annotations({ identifier: "Job" })
export type Job = typeof Job.Type

/** `GET /api/agent/jobs` answer; the mock sends `{"jobs":null}` when the queue is empty. */
export const JobsResponse = Schema.Struct({
  jobs: Schema.optional(Schema.NullOr(Schema.Array(Job)))
})
export type JobsResponse = typeof JobsResponse.Type

/** `POST /api/agent/jobs/{id}/status` body. */
export const StatusUpdate = Schema.Struct({
  phase: Schema.String,
  conditions: Schema.optional(Schema.Array(WireCondition)),
  message: Schema.optional(Schema.String),
  timestamp: DateTimeString
})
export type StatusUpdate = typeof StatusUpdate.Type

export const JobOutcome = Schema.Literal("succeeded", "failed", "noop", "conflict")
export type JobOutcome = typeof JobOutcome.Type

/** `POST /api/agent/jobs/{id}/result` body (once per job). */
export const JobResult = Schema.Struct({
  outcome: JobOutcome,
  error: Schema.optional(Schema.String),
  appliedRef: Schema.optional(AppliedRef),
  timestamp: DateTimeString
})
export type JobResult = typeof JobResult.Type

export const EventKinds = [
  "ConditionTransition",
  "ClusterHeartbeat",
  "CredentialRotated",
  "OperationAccepted",
  "OperationBlocked",
  "OperationRunning",
  "OperationSucceeded",
  "OperationFailed"
] as const
export const EventKind = Schema.Literal(...EventKinds)
export type EventKind = typeof EventKind.Type

export const EventEndpoint = Schema.Struct({ name: Schema.String, url: Schema.String })

/** Inline S3 credentials of SeaweedFS managed storage: secret material, never log it. */
export const ManagedStorage = Schema.Struct({
  accessKeyId: Schema.optional(Schema.String),
  secretAccessKey: Schema.optional(Schema.String),
  bucketName: Schema.optional(Schema.String)
})

/** One element of `POST /api/agent/events`. */
export const AgentEvent = Schema.Struct({
  eventKey: Schema.optional(Schema.String),
  kind: Schema.String.annotations({ description: EventKinds.join(" | ") }),
  resourceRef: AppliedRef,
  conditions: Schema.optional(Schema.Array(WireCondition)),
  endpoints: Schema.optional(Schema.Array(EventEndpoint)),
  managedStorage: Schema.optional(ManagedStorage),
  timestamp: DateTimeString
}).annotations({ identifier: "Event" })
export type AgentEvent = typeof AgentEvent.Type

/** `POST /api/agent/events` body; never sent empty. */
export const EventsRequest = Schema.Struct({
  events: Schema.Array(AgentEvent)
})
export type EventsRequest = typeof EventsRequest.Type

/** The heartbeat: an unbatched `POST /api/agent/events` with one `ClusterHeartbeat` event. */
export const HeartbeatEvent = Schema.Struct({
  kind: Schema.Literal("ClusterHeartbeat"),
  resourceRef: AppliedRef,
  conditions: Schema.optional(Schema.Array(WireCondition)),
  timestamp: DateTimeString
})
export const HeartbeatRequest = Schema.Struct({
  events: Schema.Tuple(HeartbeatEvent)
})
export type HeartbeatRequest = typeof HeartbeatRequest.Type

/** `POST /api/agent/register` body (Bearer = the registration token). */
export const RegisterRequest = Schema.Struct({
  registrationToken: Schema.String,
  clusterId: Schema.optional(Schema.String),
  displayName: Schema.optional(Schema.String)
})
export type RegisterRequest = typeof RegisterRequest.Type

/** `POST /api/agent/register` answer (200). Blank `clusterId` or `token` is an error. */
export const RegisterResponse = Schema.Struct({
  clusterId: Schema.String,
  token: Schema.String,
  expiresAt: OptionalTime
})
export type RegisterResponse = typeof RegisterResponse.Type

/** `POST /api/agent/credentials/rotate` body: always `{}`. */
export const RotateCredentialsRequest = Schema.Struct({})
export type RotateCredentialsRequest = typeof RotateCredentialsRequest.Type

/** `POST /api/agent/credentials/rotate` answer (200). An empty token is an error. */
export const RotateCredentialsResponse = Schema.Struct({
  token: Schema.String,
  expiresAt: OptionalTime
})
export type RotateCredentialsResponse = typeof RotateCredentialsResponse.Type

/** Error body of any non-2xx answer; decoded leniently. */
export const AgentErrorBody = Schema.Struct({
  error: Schema.optional(Schema.String),
  message: Schema.optional(Schema.String),
  requestId: Schema.optional(Schema.String)
})
export type AgentErrorBody = typeof AgentErrorBody.Type

// ---------------------------------------------------------------------------------------------
// Job payloads
// ---------------------------------------------------------------------------------------------

/** `kind: delete` payload. */
export const DeletePayload = Schema.Struct({
  apiVersion: Schema.String.pipe(Schema.minLength(1)),
  kind: Schema.String.pipe(Schema.minLength(1)),
  name: Schema.String.pipe(Schema.minLength(1)),
  namespace: Schema.optional(Schema.String)
})
export type DeletePayload = typeof DeletePayload.Type

export const IntentNames = [
  "ensure-application-instance",
  "request-operation",
  "delete-application-instance",
  "rotate-operator-credentials"
] as const
export type IntentName = (typeof IntentNames)[number]

export const EnsureApplicationInstanceIntent = Schema.Struct({
  intent: Schema.Literal("ensure-application-instance"),
  applicationInstance: ApplicationInstance
})
export const RequestOperationIntent = Schema.Struct({
  intent: Schema.Literal("request-operation"),
  operation: Operation
})
export const DeleteApplicationInstanceIntent = Schema.Struct({
  intent: Schema.Literal("delete-application-instance"),
  name: Schema.String.pipe(Schema.minLength(1)),
  namespace: Schema.optional(Schema.String)
})
export const RotateOperatorCredentialsIntent = Schema.Struct({
  intent: Schema.Literal("rotate-operator-credentials")
})

/** `kind: intent` payload. Decode `IntentHeader` first to report an unknown intent by name. */
export const IntentPayload = Schema.Union(
  EnsureApplicationInstanceIntent,
  RequestOperationIntent,
  DeleteApplicationInstanceIntent,
  RotateOperatorCredentialsIntent
)
export type IntentPayload = typeof IntentPayload.Type

export const IntentHeader = Schema.Struct({ intent: Schema.String })

/** Files written to schema/agent-protocol/<name>.json by `npm run crds`. */
export const agentProtocolSchemas = {
  "job": Job,
  "jobs-response": JobsResponse,
  "status-update": StatusUpdate,
  "job-result": JobResult,
  "event": AgentEvent,
  "events-request": EventsRequest,
  "heartbeat-request": HeartbeatRequest,
  "register-request": RegisterRequest,
  "register-response": RegisterResponse,
  "rotate-credentials-request": RotateCredentialsRequest,
  "rotate-credentials-response": RotateCredentialsResponse,
  "error": AgentErrorBody,
  "payload-delete": DeletePayload,
  "payload-intent": IntentPayload
} as const satisfies Record<string, Schema.Schema.AnyNoContext>
