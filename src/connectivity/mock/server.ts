/**
 * The mock control plane's HTTP server (docs/development/mock-control-plane.md): the agent API
 * `/api/agent/*` as the real control plane documents it, plus an admin API `/api/admin/*` behind
 * a bearer admin token. Binds 127.0.0.1 unless told otherwise.
 */
import * as http from "node:http"
import { randomBytes } from "node:crypto"
import { Data, Duration, Effect, Either, Option, ParseResult, Runtime, Schema, type Scope } from "effect"
import { AgentMediaType, EventsRequest, JobResult, RegisterRequest, StatusUpdate } from "../../api/agentProtocol.js"
import {
  type AgentRoute,
  defaultMockStateOptions,
  type Fault,
  MockState,
  type MockStateOptions,
  type Refusal,
  tokenFingerprint
} from "./state.js"
import { AdminAddFaults, AdminAgentToken, AdminEnqueue, AdminRegistrationToken } from "./adminProtocol.js"

export interface MockControlPlaneOptions extends Partial<MockStateOptions> {
  /** Default 127.0.0.1. */
  readonly host?: string
  /** Default 0 (any free port). */
  readonly port?: number
  /** Bearer token of `/api/admin/*`. */
  readonly adminToken: string
  /** Registration tokens known at start, each bound to a cluster id (or any, when undefined). */
  readonly registrationTokens?: ReadonlyArray<{ readonly token: string; readonly clusterId?: string }>
  /** Long-lived agent tokens known at start (as if registered earlier). */
  readonly agentTokens?: ReadonlyArray<{ readonly token: string; readonly clusterId: string }>
}

export interface MockControlPlane {
  /** `http://127.0.0.1:<port>` */
  readonly url: string
  readonly port: number
  readonly state: MockState
}

export class MockListenError extends Data.TaggedError("MockListenError")<{ readonly message: string }> {}

interface Answer {
  readonly status: number
  readonly body?: unknown
  readonly headers?: Readonly<Record<string, string>>
}

const noContent: Answer = { status: 204 }
const json = (body: unknown, status = 200): Answer => ({ status, body })
const refusal = (r: Refusal): Answer => ({
  status: r.status,
  body: { error: r.code, message: r.message, requestId: `rq-${randomBytes(6).toString("hex")}` }
})
const isRefusal = (x: unknown): x is Refusal =>
  typeof x === "object" && x !== null && "status" in x && "code" in x && "message" in x

const defaultCodes: Record<number, string> = {
  400: "BadRequest",
  401: "Unauthorized",
  403: "Forbidden",
  404: "NotFound",
  409: "Conflict",
  429: "RateLimited",
  500: "InternalError",
  502: "BadGateway",
  503: "Unavailable",
  504: "GatewayTimeout"
}

const faultAnswer = (status: number, f: Fault): Answer => ({
  ...refusal({ status, code: f.code ?? defaultCodes[status] ?? "InjectedFault", message: f.message ?? "injected fault" }),
  ...(f.retryAfter === undefined ? {} : { headers: { "Retry-After": f.retryAfter } })
})

const bearer = (req: http.IncomingMessage): string | undefined => {
  const h = req.headers.authorization
  return h?.startsWith("Bearer ") ? h.slice("Bearer ".length).trim() : undefined
}

const readBody = (req: http.IncomingMessage): Effect.Effect<string> =>
  Effect.async<string>((resume) => {
    const chunks: Array<Buffer> = []
    req.on("data", (c: Buffer) => chunks.push(c))
    req.once("end", () => resume(Effect.succeed(Buffer.concat(chunks).toString("utf8"))))
    req.once("error", () => resume(Effect.succeed("")))
  })

/**
 * A decoder of a JSON body that answers 400 `InvalidJSON` with the parse error. Built once per
 * schema: `Schema.parseJson(schema)` is a new schema each time, and its parser is compiled anew.
 */
const jsonBody = <A, I>(schema: Schema.Schema<A, I>): ((body: string) => Either.Either<A, Answer>) => {
  const decode = Schema.decodeUnknownEither(Schema.parseJson(schema))
  return (body) =>
    Either.mapLeft(decode(body), (e) => refusal({ status: 400, code: "InvalidJSON", message: ParseResult.TreeFormatter.formatErrorSync(e) }))
}
const decodeBody = {
  register: jsonBody(RegisterRequest),
  status: jsonBody(StatusUpdate),
  result: jsonBody(JobResult),
  events: jsonBody(EventsRequest),
  enqueue: jsonBody(AdminEnqueue),
  registrationToken: jsonBody(AdminRegistrationToken),
  agentToken: jsonBody(AdminAgentToken),
  faults: jsonBody(AdminAddFaults)
}

const agentPath = /^\/api\/agent\/jobs\/([^/]+)\/(ack|status|result)$/

const routeOf = (method: string, path: string): AgentRoute | undefined => {
  if (method === "POST" && path === "/api/agent/register") return "register"
  if (method === "GET" && path === "/api/agent/jobs") return "jobs"
  if (method === "POST" && path === "/api/agent/events") return "events"
  if (method === "POST" && path === "/api/agent/credentials/rotate") return "rotate"
  const m = method === "POST" ? agentPath.exec(path) : null
  if (m === null) return undefined
  return m[2] === "ack" ? "ack" : m[2] === "status" ? "status" : "result"
}

export const makeMockControlPlane = (
  options: MockControlPlaneOptions
): Effect.Effect<MockControlPlane, MockListenError, Scope.Scope> =>
  Effect.gen(function* () {
    const stateOptions: MockStateOptions = {
      redeliverAfterMillis: options.redeliverAfterMillis ?? defaultMockStateOptions.redeliverAfterMillis,
      resultTimeoutMillis: options.resultTimeoutMillis ?? defaultMockStateOptions.resultTimeoutMillis,
      maxJobsPerPoll: options.maxJobsPerPoll ?? defaultMockStateOptions.maxJobsPerPoll,
      rotationGraceMillis: options.rotationGraceMillis ?? defaultMockStateOptions.rotationGraceMillis,
      registrationTokenTtlMillis: options.registrationTokenTtlMillis ?? defaultMockStateOptions.registrationTokenTtlMillis,
      requestLogLimit: options.requestLogLimit ?? defaultMockStateOptions.requestLogLimit
    }
    const state = new MockState(stateOptions)
    const now = Date.now()
    for (const t of options.registrationTokens ?? []) state.addRegistrationToken(t.token, t.clusterId, now)
    for (const t of options.agentTokens ?? []) state.setAgentToken(t.clusterId, t.token)
    const clock = Effect.clockWith((c) => c.currentTimeMillis)

    /** The long poll: answers as soon as a job is deliverable, or when `wait` is over. */
    const longPoll = (clusterId: string, waitSeconds: number): Effect.Effect<Answer> =>
      Effect.gen(function* () {
        const deadline = (yield* clock) + waitSeconds * 1000
        for (;;) {
          const t = yield* clock
          const { jobs, nextDueAt } = state.takeDeliverable(clusterId, t)
          // The original mock answers `{"jobs":null}` when empty; clients must cope, so we do too.
          if (jobs.length > 0 || t >= deadline) return json({ jobs: jobs.length > 0 ? jobs : null })
          const until = Math.min(deadline, nextDueAt ?? deadline)
          yield* Effect.async<void>((resume) => {
            const unsubscribe = state.onEnqueue(clusterId, () => resume(Effect.void))
            return Effect.sync(unsubscribe)
          }).pipe(Effect.timeoutOption(Duration.millis(Math.max(1, until - t))))
        }
      })

    const agent = (route: AgentRoute, req: http.IncomingMessage, url: URL, body: string): Effect.Effect<Answer> =>
      Effect.gen(function* () {
        const t = yield* clock
        if (!(req.headers.accept ?? "").includes("vworkspace.agent.v1"))
          return refusal({ status: 406, code: "NotAcceptable", message: `Accept must be ${AgentMediaType}` })
        const contentType = req.headers["content-type"]
        if (route === "ack" && (body !== "" || contentType !== undefined))
          return refusal({ status: 400, code: "UnexpectedBody", message: "ack takes no body" })
        if (route !== "ack" && route !== "jobs" && contentType !== AgentMediaType)
          return refusal({ status: 415, code: "UnsupportedMediaType", message: `Content-Type must be ${AgentMediaType}` })

        if (route === "register") {
          const token = bearer(req)
          if (token === undefined) return refusal({ status: 401, code: "Unauthorized", message: "missing bearer token" })
          const request = decodeBody.register(body)
          if (Either.isLeft(request)) return request.left
          const registrationToken = request.right.registrationToken === "" ? token : request.right.registrationToken
          if (registrationToken !== token)
            return refusal({ status: 401, code: "Unauthorized", message: "bearer and registrationToken differ" })
          const outcome = state.register(registrationToken, request.right.clusterId, t)
          return isRefusal(outcome) ? refusal(outcome) : json(outcome)
        }

        const token = bearer(req) ?? ""
        const clusterId = state.authenticate(token, t)
        if (isRefusal(clusterId)) return refusal(clusterId)

        switch (route) {
          case "jobs": {
            const cluster = url.searchParams.get("cluster")
            if (cluster === null || cluster === "")
              return refusal({ status: 400, code: "MissingCluster", message: "query parameter cluster is required" })
            if (cluster !== clusterId)
              return refusal({ status: 403, code: "Forbidden", message: "the token does not belong to this cluster" })
            const parsed = Number.parseInt(url.searchParams.get("wait") ?? "", 10)
            const wait = Number.isNaN(parsed) || parsed < 0 ? 30 : Math.min(parsed, 300)
            return yield* longPoll(clusterId, wait)
          }
          case "ack":
          case "status":
          case "result": {
            const id = decodeURIComponent(agentPath.exec(url.pathname)?.[1] ?? "")
            if (route === "ack") {
              const r = state.ack(clusterId, id)
              return r === undefined ? noContent : refusal(r)
            }
            if (route === "status") {
              const update = decodeBody.status(body)
              if (Either.isLeft(update)) return update.left
              const r = state.addStatus(clusterId, id, update.right)
              return r === undefined ? noContent : refusal(r)
            }
            const result = decodeBody.result(body)
            if (Either.isLeft(result)) return result.left
            if (result.right.outcome === "failed" && (result.right.error ?? "") === "")
              return refusal({ status: 400, code: "MissingError", message: "a failed result needs an error" })
            const r = state.setResult(clusterId, id, result.right, t)
            return r === undefined ? noContent : refusal(r)
          }
          case "events": {
            const request = decodeBody.events(body)
            if (Either.isLeft(request)) return request.left
            state.addEvents(clusterId, request.right.events, t)
            return noContent
          }
          case "rotate":
            return json({ token: state.rotate(token, clusterId, t) })
        }
      })

    const admin = (req: http.IncomingMessage, url: URL, body: string): Effect.Effect<Answer> =>
      Effect.gen(function* () {
        if (bearer(req) !== options.adminToken) return refusal({ status: 401, code: "Unauthorized", message: "admin token required" })
        const t = yield* clock
        const path = url.pathname
        const method = req.method ?? "GET"
        const q = (name: string) => Option.getOrUndefined(Option.fromNullable(url.searchParams.get(name)))
        if (method === "POST" && path === "/api/admin/enqueue") {
          const r = decodeBody.enqueue(body)
          if (Either.isLeft(r)) return r.left
          if (r.right.clusterId === "") return refusal({ status: 400, code: "MissingCluster", message: "clusterId is required" })
          const refused = state.enqueue(r.right.clusterId, r.right.job, t)
          return refused === undefined ? noContent : refusal(refused)
        }
        if (method === "GET" && path === "/api/admin/jobs") {
          const cluster = q("cluster")
          if (cluster === undefined) return refusal({ status: 400, code: "MissingCluster", message: "cluster is required" })
          return json({ jobs: state.jobsOf(cluster) })
        }
        const jobMatch = /^\/api\/admin\/jobs\/([^/]+)(\/result)?$/.exec(path)
        if (method === "GET" && jobMatch !== null) {
          const job = state.job(decodeURIComponent(jobMatch[1] ?? ""))
          if (job === undefined) return refusal({ status: 404, code: "NotFound", message: "job not found" })
          if (jobMatch[2] === undefined) return json(job)
          return job.result === undefined ? refusal({ status: 404, code: "NotFound", message: "job result not found" }) : json(job.result)
        }
        if (method === "GET" && path === "/api/admin/events") {
          const cluster = q("cluster")
          if (cluster === undefined) return refusal({ status: 400, code: "MissingCluster", message: "cluster is required" })
          const filter = { kind: q("kind"), eventKind: q("eventKind"), namespace: q("namespace"), name: q("name") }
          return json({ events: state.eventsOf(cluster, filter), duplicatePosts: state.duplicateEventPosts(cluster) })
        }
        if (method === "POST" && path === "/api/admin/registration-tokens") {
          const r = decodeBody.registrationToken(body)
          if (Either.isLeft(r)) return r.left
          state.addRegistrationToken(r.right.token, r.right.clusterId, t, r.right.ttlSeconds === undefined ? undefined : r.right.ttlSeconds * 1000)
          return noContent
        }
        if (method === "POST" && path === "/api/admin/agent-tokens") {
          const r = decodeBody.agentToken(body)
          if (Either.isLeft(r)) return r.left
          state.setAgentToken(r.right.clusterId, r.right.token)
          return noContent
        }
        if (method === "POST" && path === "/api/admin/faults") {
          const r = decodeBody.faults(body)
          if (Either.isLeft(r)) return r.left
          state.addFaults(r.right.faults)
          return noContent
        }
        if (method === "DELETE" && path === "/api/admin/faults") {
          state.clearFaults()
          return noContent
        }
        if (method === "GET" && path === "/api/admin/requests") return json({ requests: state.requests() })
        return refusal({ status: 404, code: "NotFound", message: "unknown endpoint" })
      })

    // The request log names each request's token by its fingerprint: one hash per token, not per request.
    let lastToken = ""
    let lastFingerprint = tokenFingerprint("")
    const fingerprintOf = (token: string) => {
      if (token !== lastToken) {
        lastToken = token
        lastFingerprint = tokenFingerprint(token)
      }
      return lastFingerprint
    }

    const handle = (req: http.IncomingMessage, res: http.ServerResponse): Effect.Effect<void> =>
      Effect.gen(function* () {
        const url = new URL(req.url ?? "/", "http://mock")
        const method = req.method ?? "GET"
        const body = yield* readBody(req)
        const route = routeOf(method, url.pathname)
        let answer: Answer
        if (route !== undefined) {
          const fault = state.takeFault(route)
          const entry = {
            at: new Date(yield* clock).toISOString(),
            route,
            method,
            path: url.pathname + url.search,
            tokenFingerprint: fingerprintOf(bearer(req) ?? ""),
            accept: req.headers.accept ?? "",
            contentType: req.headers["content-type"] ?? "",
            bodyBytes: Buffer.byteLength(body),
            userAgent: req.headers["user-agent"] ?? ""
          }
          if (fault === undefined) answer = yield* agent(route, req, url, body)
          else if (fault.status === "drop" || fault.status === "dropAnswer") {
            if (fault.status === "dropAnswer") yield* agent(route, req, url, body)
            state.logRequest({ ...entry, status: fault.status })
            req.socket.destroy()
            return
          } else answer = faultAnswer(fault.status, fault)
          state.logRequest({ ...entry, status: answer.status })
        } else if (url.pathname.startsWith("/api/admin/")) {
          answer = yield* admin(req, url, body)
        } else if (method === "GET" && url.pathname === "/healthz") {
          res.writeHead(200, { "Content-Type": "text/plain" }).end("ok")
          return
        } else {
          answer = refusal({ status: 404, code: "NotFound", message: "unknown endpoint" })
        }
        const payload = answer.body === undefined ? undefined : JSON.stringify(answer.body)
        res.writeHead(answer.status, {
          ...(payload === undefined ? {} : { "Content-Type": AgentMediaType }),
          ...answer.headers
        })
        res.end(payload)
      })

    const runtime = yield* Effect.runtime<never>()
    const server = yield* Effect.acquireRelease(
      Effect.async<http.Server, MockListenError>((resume) => {
        const s = http.createServer((req, res) => {
          Runtime.runFork(runtime)(handle(req, res))
        })
        s.keepAliveTimeout = 65_000
        s.once("error", (e) => resume(Effect.fail(new MockListenError({ message: e.message }))))
        s.listen(options.port ?? 0, options.host ?? "127.0.0.1", () => resume(Effect.succeed(s)))
      }),
      (s) =>
        Effect.async<void>((resume) => {
          s.close(() => resume(Effect.void))
          s.closeAllConnections()
        })
    )
    const address = server.address()
    const port = typeof address === "object" && address !== null ? address.port : 0
    const host = options.host ?? "127.0.0.1"
    return { url: `http://${host.includes(":") ? `[${host}]` : host}:${port}`, port, state }
  })
