/**
 * The node:http(s) edge of the control-plane clients (the agent client and the mock's admin
 * client): one request, one answer read whole, within a timeout. Everything above it sees Effects.
 */
import * as http from "node:http"
import * as https from "node:https"
import { Duration, Effect, type Scope } from "effect"
import { AgentTransportError } from "./agentClient.js"

export interface PlainRequest {
  readonly method: "GET" | "POST" | "DELETE"
  readonly url: URL
  readonly headers: Readonly<Record<string, string>>
  /** Sent as is; `Content-Length` is set from it. */
  readonly body?: string
  readonly timeout: Duration.DurationInput
}

export interface PlainResponse {
  readonly status: number
  readonly headers: http.IncomingHttpHeaders
  readonly body: string
}

export interface HttpAgents {
  readonly http: http.Agent
  readonly https: https.Agent
}

/** Keep-alive connection pools that live as long as the scope. */
export const makeHttpAgents: Effect.Effect<HttpAgents, never, Scope.Scope> = Effect.acquireRelease(
  Effect.sync(() => ({
    http: new http.Agent({ keepAlive: true, maxSockets: 64 }),
    https: new https.Agent({ keepAlive: true, maxSockets: 64 })
  })),
  (agents) =>
    Effect.sync(() => {
      agents.http.destroy()
      agents.https.destroy()
    })
)

const describe = (e: unknown): string => (e instanceof Error ? e.message : String(e))

/** Sends one request; any status is an answer, only a missing answer is an error. */
export const sendRequest = (agents: HttpAgents, req: PlainRequest): Effect.Effect<PlainResponse, AgentTransportError> => {
  const what = `${req.method} ${req.url.pathname}`
  return Effect.async<PlainResponse, AgentTransportError>((resume) => {
    const secure = req.url.protocol === "https:"
    const headers: Record<string, string | number> = { ...req.headers }
    if (req.body !== undefined) headers["Content-Length"] = Buffer.byteLength(req.body)
    const r = (secure ? https.request : http.request)(req.url, {
      method: req.method,
      headers,
      agent: secure ? agents.https : agents.http
    })
    const fail = (e: unknown) =>
      resume(Effect.fail(new AgentTransportError({ message: `${what}: ${describe(e)}`, timedOut: false })))
    r.on("error", fail)
    r.once("response", (res) => {
      const chunks: Array<Buffer> = []
      res.on("data", (c: Buffer) => chunks.push(c))
      res.on("error", fail)
      res.once("end", () =>
        resume(Effect.succeed({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString("utf8") }))
      )
    })
    r.end(req.body)
    return Effect.sync(() => r.destroy())
  }).pipe(
    Effect.timeoutFail({
      duration: req.timeout,
      onTimeout: () =>
        new AgentTransportError({
          message: `${what}: no answer within ${Duration.format(Duration.decode(req.timeout))}`,
          timedOut: true
        })
    })
  )
}

/** The header's single value (node joins or arrays repeated headers). */
export const headerValue = (headers: http.IncomingHttpHeaders, name: string): string | undefined => {
  const v = headers[name.toLowerCase()]
  return Array.isArray(v) ? v[0] : v
}
