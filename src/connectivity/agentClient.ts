/**
 * The control plane's `/api/agent/*` API as one service (spec/connectivity.md §2). Each method is a
 * single attempt with its own timeout; retrying is the caller's choice, because the rules differ
 * per call (a 401 on /jobs reloads the credential once; a result is retried until accepted).
 * Calls other than `register` use the current credentials of `AgentCredentials`, read per call, so
 * a rotated token takes effect at once.
 */
import { Context, Data, type Duration, type Effect } from "effect"
import type {
  AgentEvent,
  Job,
  JobResult,
  RegisterRequest,
  RegisterResponse,
  RotateCredentialsResponse,
  StatusUpdate
} from "../api/agentProtocol.js"
import type { CredentialsMissing } from "./credentials.js"

/** A non-2xx answer, with the documented error body's fields when the server sent one. */
export class AgentHttpError extends Data.TaggedError("AgentHttpError")<{
  readonly status: number
  /** The error body's `error` code, or "" when there was none. */
  readonly code: string
  readonly message: string
  /** From `Retry-After` (seconds or HTTP-date), when the server sent one. */
  readonly retryAfter?: Duration.Duration
}> {}

/** No answer: connection refused or reset, TLS failure, or the request timed out. */
export class AgentTransportError extends Data.TaggedError("AgentTransportError")<{
  readonly message: string
  readonly timedOut: boolean
}> {}

/** A 2xx answer whose body is not the documented shape. */
export class AgentDecodeError extends Data.TaggedError("AgentDecodeError")<{ readonly message: string }> {}

export type AgentError = AgentHttpError | AgentTransportError | AgentDecodeError

/** `/result` and `/ack` answer 409 when the job is already closed; callers treat it as done. */
export type Delivery = "accepted" | "alreadyClosed"

/**
 * One element of a poll answer. An element that is not a valid Job (a wrong type, a missing
 * field) does not break the poll: it arrives as `Malformed`, with its `id` when it has a string
 * one, so that the agent can answer it with a `failed` result.
 */
export type JobEnvelope =
  | { readonly _tag: "Valid"; readonly job: Job }
  | { readonly _tag: "Malformed"; readonly id: string | undefined; readonly message: string }

export interface AgentClientService {
  /** `POST /api/agent/register` with the one-time token as bearer and in the body; 200 only. */
  readonly register: (baseUrl: string, request: RegisterRequest) => Effect.Effect<RegisterResponse, AgentError>
  /** `GET /api/agent/jobs?cluster=&wait=`; `jobs: null` is an empty list; unknown fields are ignored. */
  readonly fetchJobs: (waitSeconds: number) => Effect.Effect<ReadonlyArray<Job>, AgentError | CredentialsMissing>
  /** Like `fetchJobs`, but every element of the answer, malformed ones included (added for the Pull agent). */
  readonly fetchJobEnvelopes: (
    waitSeconds: number
  ) => Effect.Effect<ReadonlyArray<JobEnvelope>, AgentError | CredentialsMissing>
  /** `POST /api/agent/jobs/{id}/ack`, no body. */
  readonly ack: (jobId: string) => Effect.Effect<Delivery, AgentError | CredentialsMissing>
  readonly postStatus: (jobId: string, update: StatusUpdate) => Effect.Effect<void, AgentError | CredentialsMissing>
  readonly postResult: (jobId: string, result: JobResult) => Effect.Effect<Delivery, AgentError | CredentialsMissing>
  readonly postEvents: (events: ReadonlyArray<AgentEvent>) => Effect.Effect<void, AgentError | CredentialsMissing>
  /** `POST /api/agent/credentials/rotate` with body `{}`; 200 with the new token. */
  readonly rotateCredentials: Effect.Effect<RotateCredentialsResponse, AgentError | CredentialsMissing>
}

export class AgentClient extends Context.Tag("vworkspace/AgentClient")<AgentClient, AgentClientService>() {}
