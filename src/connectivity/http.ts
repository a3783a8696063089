/**
 * The node:http(s) edge of the control-plane clients (the agent client and the mock's admin
 * client): one request, one answer read whole, within a timeout. Everything above it sees Effects.
 */
import type * as http from "node:http"
import { Duration, Effect, type Scope } from "effect"
import { exchange, type HttpResponse, keepAliveAgent } from "../kube/transport.js"
import { AgentTransportError } from "./agentClient.js"

export interface PlainRequest {
  readonly method: "GET" | "POST" | "DELETE"
  readonly url: URL
  readonly headers: Readonly<Record<string, string>>
  /** Sent as is; `Content-Length` is set from it. */
  readonly body?: string
  readonly timeout: Duration.DurationInput
}

export type PlainResponse = HttpResponse

export interface HttpAgents {
  readonly http: http.Agent
  readonly https: http.Agent
}

/** Keep-alive connection pools that live as long as the scope. */
export const makeHttpAgents: Effect.Effect<HttpAgents, never, Scope.Scope> = Effect.all({
  http: keepAliveAgent(false),
  https: keepAliveAgent(true)
})

const describe = (e: unknown): string => (e instanceof Error ? e.message : String(e))

/**
 * Sends one request; any status is an answer, only a missing answer is an error. The timeout is
 * a node timer (`exchange`'s deadline), not an Effect timeout, which forks a fiber per request.
 */
export const sendRequest = (agents: HttpAgents, req: PlainRequest): Effect.Effect<PlainResponse, AgentTransportError> => {
  const what = `${req.method} ${req.url.pathname}`
  const headers: Record<string, string | number> = { ...req.headers }
  if (req.body !== undefined) headers["Content-Length"] = Buffer.byteLength(req.body)
  const agent = req.url.protocol === "https:" ? agents.https : agents.http
  const after = Duration.decode(req.timeout)
  return exchange(
    req.url,
    { method: req.method, headers, agent },
    req.body,
    (e) => new AgentTransportError({ message: `${what}: ${describe(e)}`, timedOut: false }),
    {
      after,
      onTimeout: () => new AgentTransportError({ message: `${what}: no answer within ${Duration.format(after)}`, timedOut: true })
    }
  )
}

/** The header's single value (node joins or arrays repeated headers). */
export const headerValue = (headers: http.IncomingHttpHeaders, name: string): string | undefined => {
  const v = headers[name.toLowerCase()]
  return Array.isArray(v) ? v[0] : v
}
