/**
 * `AgentClient` over HTTP(S) (spec/connectivity.md §2.1–§2.3): one attempt per call, each with a
 * timeout. Headers on every request: `Authorization: Bearer`, `Accept` = the agent media type, and
 * `Content-Type` only when a body is sent (ack sends none; rotation sends `{}`).
 */
import { hostname } from "node:os"
import { Duration, Effect, Either, Layer, Option, ParseResult, Schema } from "effect"
import {
  AgentErrorBody,
  AgentMediaType,
  AgentPaths,
  EventsRequest,
  Job,
  JobResult,
  RegisterResponse,
  RotateCredentialsResponse,
  StatusUpdate
} from "../api/agentProtocol.js"
import {
  AgentClient,
  type AgentClientService,
  AgentDecodeError,
  AgentHttpError,
  type Delivery,
  type JobEnvelope
} from "./agentClient.js"
import { AgentCredentials, type AgentCredentialsValue, requireCredentials } from "./credentials.js"
import { type HttpAgents, headerValue, makeHttpAgents, type PlainResponse, sendRequest } from "./http.js"
import { parseRetryAfter } from "./retry.js"

export interface AgentClientConfig {
  /** Timeout of every call except the long poll and registration. Default 30 s. */
  readonly requestTimeout: Duration.DurationInput
  /** The long poll's timeout is its `wait` plus this margin. Default 15 s. */
  readonly longPollMargin: Duration.DurationInput
  /** Timeout of `register` (the original uses 2 min). Default 2 min. */
  readonly registerTimeout: Duration.DurationInput
  /** Sent on every request; the default names the process (host name, i.e. the pod, and pid). */
  readonly userAgent: string
}

export const defaultAgentClientConfig: AgentClientConfig = {
  requestTimeout: Duration.seconds(30),
  longPollMargin: Duration.seconds(15),
  registerTimeout: Duration.minutes(2),
  userAgent: `vworkspace-operator (${hostname()}; pid ${process.pid})`
}

/** `https://cp.example/` → `https://cp.example`, so paths join without a double slash. */
export const normaliseBaseUrl = (baseUrl: string): string => baseUrl.trim().replace(/\/+$/, "")

const statusTexts: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  409: "Conflict",
  429: "Too Many Requests",
  500: "Internal Server Error",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout"
}

const decodeErrorBody = Schema.decodeUnknownOption(Schema.parseJson(AgentErrorBody))

/**
 * A non-2xx answer as `AgentHttpError`. The body is decoded leniently: a missing, non-JSON or
 * odd-shaped body still yields an error with the status text as its message.
 */
export const httpErrorOf = (response: PlainResponse, nowMillis: number, prefix = "agent API error"): AgentHttpError => {
  const body = Option.getOrElse(decodeErrorBody(response.body), () => ({}) as AgentErrorBody)
  const code = body.error?.trim() ?? ""
  const text = body.message?.trim() || statusTexts[response.status] || `HTTP ${response.status}`
  const retryAfter = parseRetryAfter(headerValue(response.headers, "retry-after"), nowMillis)
  return new AgentHttpError({
    status: response.status,
    code,
    message: `${prefix} (${response.status}): ${code === "" ? text : `${code}: ${text}`}`,
    ...(retryAfter === undefined ? {} : { retryAfter })
  })
}

const decodeBody =
  <A, I>(schema: Schema.Schema<A, I>, what: string) =>
  (response: PlainResponse): Effect.Effect<A, AgentDecodeError> =>
    Schema.decodeUnknown(Schema.parseJson(schema))(response.body).pipe(
      Effect.mapError(
        (e) => new AgentDecodeError({ message: `${what}: unexpected answer: ${ParseResult.TreeFormatter.formatErrorSync(e)}` })
      )
    )

/** The poll answer with its elements left raw, so that one bad job cannot hide the others. */
const RawJobsResponse = Schema.Struct({ jobs: Schema.optional(Schema.NullOr(Schema.Array(Schema.Unknown))) })
const decodeJob = Schema.decodeUnknownEither(Job)
const IdOnly = Schema.Struct({ id: Schema.String })
const decodeId = Schema.decodeUnknownOption(IdOnly)

export const envelopeOf = (element: unknown): JobEnvelope =>
  Either.match(decodeJob(element), {
    onRight: (job): JobEnvelope => ({ _tag: "Valid", job }),
    onLeft: (e): JobEnvelope => ({
      _tag: "Malformed",
      id: Option.getOrUndefined(Option.map(decodeId(element), (x) => x.id)),
      message: `malformed job envelope: ${ParseResult.TreeFormatter.formatErrorSync(e)}`
    })
  })

const encodeJson = <A, I>(schema: Schema.Schema<A, I>, value: A): string => JSON.stringify(Schema.encodeSync(schema)(value))

interface Call {
  readonly method: "GET" | "POST"
  readonly path: string
  readonly body?: string
  readonly timeout: Duration.DurationInput
}

export const makeAgentClient = (
  agents: HttpAgents,
  credentials: typeof AgentCredentials.Service,
  config: AgentClientConfig = defaultAgentClientConfig
): AgentClientService => {
  const now = Effect.clockWith((c) => c.currentTimeMillis)

  const send = (baseUrl: string, token: string, call: Call, errorPrefix?: string) =>
    Effect.gen(function* () {
      const headers: Record<string, string> = {
        Authorization: `Bearer ${token}`,
        Accept: AgentMediaType,
        "User-Agent": config.userAgent
      }
      if (call.body !== undefined) headers["Content-Type"] = AgentMediaType
      const response = yield* sendRequest(agents, {
        method: call.method,
        url: new URL(normaliseBaseUrl(baseUrl) + call.path),
        headers,
        ...(call.body === undefined ? {} : { body: call.body }),
        timeout: call.timeout
      })
      if (response.status >= 200 && response.status < 300) return response
      return yield* Effect.fail(httpErrorOf(response, yield* now, errorPrefix))
    })

  /** A call with the credentials current at the time of the call (a rotation applies at once). */
  const authorised = (call: (creds: AgentCredentialsValue) => Call) =>
    Effect.flatMap(requireCredentials, (creds) => send(creds.baseUrl, creds.token, call(creds))).pipe(
      Effect.provideService(AgentCredentials, credentials)
    )

  /** 409 means the job is already closed: the caller treats it as done. */
  const delivery = <E, R>(effect: Effect.Effect<unknown, AgentHttpError | E, R>): Effect.Effect<Delivery, AgentHttpError | E, R> =>
    effect.pipe(
      Effect.as<Delivery>("accepted"),
      Effect.catchIf(
        (e): e is AgentHttpError => e instanceof AgentHttpError && e.status === 409,
        () => Effect.succeed<Delivery>("alreadyClosed")
      )
    )

  const timeout = config.requestTimeout

  const fetchJobEnvelopes = (waitSeconds: number) => {
    const wait = Math.max(0, Math.floor(waitSeconds))
    return authorised((c) => ({
      method: "GET",
      path: `${AgentPaths.jobs}?cluster=${encodeURIComponent(c.clusterId)}&wait=${wait}`,
      timeout: Duration.sum(Duration.seconds(wait), config.longPollMargin)
    })).pipe(
      Effect.flatMap(decodeBody(RawJobsResponse, "jobs")),
      Effect.map((r) => (r.jobs ?? []).map(envelopeOf))
    )
  }

  return {
    register: (baseUrl, request) =>
      send(
        baseUrl,
        request.registrationToken,
        { method: "POST", path: AgentPaths.register, body: JSON.stringify(request), timeout: config.registerTimeout },
        "register API error"
      ).pipe(
        Effect.flatMap(decodeBody(RegisterResponse, "register")),
        Effect.flatMap((r) => {
          const clusterId = r.clusterId.trim()
          const token = r.token.trim()
          return clusterId === "" || token === ""
            ? Effect.fail(new AgentDecodeError({ message: "register: the answer has a blank clusterId or token" }))
            : Effect.succeed({ ...r, clusterId, token })
        })
      ),

    fetchJobEnvelopes,
    fetchJobs: (waitSeconds) =>
      Effect.map(fetchJobEnvelopes(waitSeconds), (envelopes) =>
        envelopes.flatMap((e) => (e._tag === "Valid" ? [e.job] : []))
      ),

    ack: (jobId) => delivery(authorised(() => ({ method: "POST", path: AgentPaths.ack(jobId), timeout }))),

    postStatus: (jobId, update) =>
      authorised(() => ({ method: "POST", path: AgentPaths.status(jobId), body: encodeJson(StatusUpdate, update), timeout })).pipe(
        Effect.asVoid
      ),

    postResult: (jobId, result) =>
      delivery(
        authorised(() => ({ method: "POST", path: AgentPaths.result(jobId), body: encodeJson(JobResult, result), timeout }))
      ),

    postEvents: (events) =>
      authorised(() => ({ method: "POST", path: AgentPaths.events, body: encodeJson(EventsRequest, { events }), timeout })).pipe(
        Effect.asVoid
      ),

    rotateCredentials: authorised(() => ({ method: "POST", path: AgentPaths.rotateCredentials, body: "{}", timeout })).pipe(
      Effect.flatMap(decodeBody(RotateCredentialsResponse, "credentials/rotate")),
      Effect.flatMap((r) => {
        const token = r.token.trim()
        return token === ""
          ? Effect.fail(new AgentDecodeError({ message: "credentials/rotate: the answer has a blank token" }))
          : Effect.succeed({ ...r, token })
      })
    )
  }
}

/** The live client; its connection pool lives as long as the Layer. */
export const agentClientLive = (config: Partial<AgentClientConfig> = {}): Layer.Layer<AgentClient, never, AgentCredentials> =>
  Layer.scoped(
    AgentClient,
    Effect.gen(function* () {
      const agents = yield* makeHttpAgents
      const credentials = yield* AgentCredentials
      return makeAgentClient(agents, credentials, { ...defaultAgentClientConfig, ...config })
    })
  )
