/**
 * The node:http(s) edge of the Kubernetes client: the only place that touches sockets and
 * callbacks. Everything above it sees Effects and typed errors.
 */
import * as http from "node:http"
import * as https from "node:https"
import { Deferred, Duration, Effect, FiberId, type Scope, Stream } from "effect"
import type { ClusterConnection } from "./connection.js"
import { Timeout, Transport } from "./errors.js"

export type HttpMethod = "GET" | "POST" | "PATCH" | "DELETE"

export interface HttpRequest {
  readonly method: HttpMethod
  /** Path and query below the server URL, e.g. `/api/v1/namespaces?limit=500`. */
  readonly path: string
  readonly contentType?: string
  /** Serialised as JSON. */
  readonly body?: unknown
}

export interface HttpResponse {
  readonly status: number
  readonly headers: http.IncomingHttpHeaders
  readonly body: string
}

export interface HttpStreamResponse {
  readonly status: number
  readonly headers: http.IncomingHttpHeaders
  /**
   * The raw body. It fails with Timeout when no bytes came for the stream's `idle` time while
   * the consumer was waiting. The request is destroyed when the enclosing scope closes.
   */
  readonly body: Stream.Stream<Uint8Array, Transport | Timeout>
}

export interface HttpTransport {
  /** Sends a request and reads the whole answer, whatever its status, within `timeout`. */
  readonly request: (req: HttpRequest, timeout: Duration.DurationInput) => Effect.Effect<HttpResponse, Transport | Timeout>
  /**
   * Sends a request and waits at most `headerTimeout` for the status line; the body streams and
   * fails with `idle.onTimeout()` when it stays silent for `idle.after`.
   */
  readonly stream: (
    req: HttpRequest,
    headerTimeout: Duration.DurationInput,
    idle?: Deadline<Timeout>
  ) => Effect.Effect<HttpStreamResponse, Transport | Timeout, Scope.Scope>
}

const describe = (e: unknown): string => (e instanceof Error ? e.message : String(e))

/** A keep-alive connection pool that lives as long as the scope; `tls` applies to every connection. */
export const keepAliveAgent = (secure: boolean, tls: https.AgentOptions = {}): Effect.Effect<http.Agent, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() =>
      secure
        ? new https.Agent({ ...tls, keepAlive: true, maxSockets: 64 })
        : new http.Agent({ keepAlive: true, maxSockets: 64 })
    ),
    (a) => Effect.sync(() => a.destroy())
  )

/** A node timer for a deadline: cheaper than an Effect timeout, which forks a fiber per use. */
export interface Deadline<E> {
  readonly after: Duration.Duration
  readonly onTimeout: () => E
}

/**
 * Sends one request and reads its whole answer, whatever the status; fails (with `onError` of
 * the socket's error) only when there is no answer, and with `deadline.onTimeout()` when the
 * answer is not complete in time. Interrupting it destroys the request. This is the one
 * request/response edge of every HTTP client here (the Kubernetes and the agent client).
 */
export const exchange = <E>(
  url: URL,
  options: https.RequestOptions,
  payload: string | undefined,
  onError: (cause: unknown) => E,
  deadline?: Deadline<E>
): Effect.Effect<HttpResponse, E> =>
  Effect.async<HttpResponse, E>((resume) => {
    let settled = false
    let timer: NodeJS.Timeout | undefined = undefined
    const settle = (result: Effect.Effect<HttpResponse, E>) => {
      if (settled) return
      settled = true
      if (timer !== undefined) clearTimeout(timer)
      resume(result)
    }
    const r = (url.protocol === "https:" ? https.request : http.request)(url, options)
    const fail = (e: unknown) => settle(Effect.fail(onError(e)))
    r.on("error", fail)
    r.once("response", (res) => {
      const chunks: Array<Buffer> = []
      res.on("data", (c: Buffer) => chunks.push(c))
      res.on("error", fail)
      res.once("end", () =>
        settle(Effect.succeed({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString("utf8") }))
      )
    })
    if (deadline !== undefined) {
      timer = setTimeout(() => {
        settle(Effect.fail(deadline.onTimeout()))
        r.destroy()
      }, Duration.toMillis(deadline.after))
    }
    r.end(payload)
    return Effect.sync(() => {
      if (timer !== undefined) clearTimeout(timer)
      r.destroy()
    })
  })

const transportError = (what: string) => (cause: unknown) => new Transport({ message: `${what}: ${describe(cause)}`, cause })

/**
 * A transport for one cluster. Auth is applied per request, because exec plugins and projected
 * service-account tokens rotate. Connections are pooled by a keep-alive agent that lives as long
 * as the scope.
 */
export const makeHttpTransport = (connection: ClusterConnection): Effect.Effect<HttpTransport, never, Scope.Scope> =>
  Effect.gen(function* () {
    const server = connection.server
    const secure = server.protocol === "https:"
    // A server URL may carry a path prefix (e.g. behind a proxy); requests go below it.
    const basePath = server.pathname.replace(/\/+$/, "")
    const agent = yield* keepAliveAgent(secure, connection.agentOptions)
    const requestOptions = (req: HttpRequest, payload: string | undefined) =>
      connection.requestOptions.pipe(
        Effect.map((opts): https.RequestOptions => ({
          ...opts,
          ...(connection.ownAgent ? {} : { agent }),
          method: req.method,
          headers: {
            ...(opts.headers ?? {}),
            Accept: "application/json",
            "User-Agent": "vworkspace-operator",
            ...(payload === undefined
              ? {}
              : {
                  "Content-Type": req.contentType ?? "application/json",
                  "Content-Length": Buffer.byteLength(payload)
                })
          }
        }))
      )

    const send = (req: HttpRequest) =>
      Effect.gen(function* () {
        const payload = req.body === undefined ? undefined : JSON.stringify(req.body)
        const opts = yield* requestOptions(req, payload)
        const url = new URL(server.origin + basePath + req.path)
        return { url, opts, payload }
      })

    const request: HttpTransport["request"] = (req, timeout) =>
      Effect.flatMap(send(req), ({ url, opts, payload }) => {
        const after = Duration.decode(timeout)
        return exchange<Transport | Timeout>(url, opts, payload, transportError(`${req.method} ${url.pathname}`), {
          after,
          onTimeout: () => new Timeout({ message: `${req.method} ${req.path} timed out after ${Duration.format(after)}` })
        })
      })

    const stream: HttpTransport["stream"] = (req, headerTimeout, idle) =>
      Effect.gen(function* () {
        const { url, opts, payload } = yield* send(req)
        const fail = transportError(`${req.method} ${url.pathname}`)
        // Created in an (uninterruptible) acquire with every listener attached at once, so the
        // request is always cleaned up; the wait for the status line below stays interruptible.
        const opened = yield* Effect.acquireRelease(
          Effect.sync(() => {
            const response = Deferred.unsafeMake<http.IncomingMessage, Transport>(FiberId.none)
            const state: { res: http.IncomingMessage | undefined } = { res: undefined }
            const r = (secure ? https.request : http.request)(url, opts)
            r.once("response", (res) => {
              state.res = res
              // Errors reach the caller through the body stream; this listener only keeps a late
              // one (after the stream was released) from becoming an uncaught exception.
              res.on("error", () => {})
              Deferred.unsafeDone(response, Effect.succeed(res))
            })
            r.on("error", (e) => Deferred.unsafeDone(response, Effect.fail(fail(e))))
            r.end(payload)
            return { r, response, state }
          }),
          ({ r, state }) =>
            Effect.sync(() => {
              // A finished response already gave its socket back to the pool; only cut unfinished ones.
              if (state.res?.complete !== true) r.destroy()
            })
        )
        const res = yield* Deferred.await(opened.response)
        return {
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: bodyStream(res, fail, idle)
        }
      }).pipe(
        Effect.timeoutFail({
          duration: headerTimeout,
          onTimeout: () =>
            new Timeout({
              message: `${req.method} ${req.path}: no response within ${Duration.format(Duration.decode(headerTimeout))}`
            })
        })
      )

    return { request, stream }
  })

/** Chunks buffered ahead of the consumer before the socket is paused. */
const HIGH_WATER = 16

/**
 * A response body as a stream. Each chunk is handed over synchronously (no fiber per chunk);
 * the socket is paused while `HIGH_WATER` chunks wait for the consumer (backpressure) and
 * resumed when it takes them. The idle timer runs only while the socket is read: it restarts at
 * each chunk and stops while the socket is paused for a consumer that is behind.
 */
const bodyStream = (
  res: http.IncomingMessage,
  fail: (e: unknown) => Transport,
  idle: Deadline<Timeout> | undefined
): Stream.Stream<Uint8Array, Transport | Timeout> =>
  Stream.suspend(() => {
    let timer: NodeJS.Timeout | undefined = undefined
    let waiting = 0
    let onIdle = () => {}
    const stop = () => {
      if (timer !== undefined) clearTimeout(timer)
      timer = undefined
    }
    const wait = () => {
      if (idle === undefined) return
      stop()
      timer = setTimeout(onIdle, Duration.toMillis(idle.after))
    }
    const body = Stream.asyncPush<Uint8Array, Transport | Timeout>((emit) =>
      Effect.acquireRelease(
        Effect.sync(() => {
          if (idle !== undefined) onIdle = () => emit.fail(idle.onTimeout())
          res.on("data", (chunk: Buffer) => {
            emit.single(chunk)
            if (++waiting < HIGH_WATER) return wait()
            stop()
            res.pause()
          })
          res.once("end", () => {
            stop()
            emit.end()
          })
          res.once("error", (e) => {
            stop()
            emit.fail(fail(e))
          })
          wait()
        }),
        () => Effect.sync(stop)
      )
    )
    // The consumer took every chunk that was waiting: read on.
    return Stream.mapChunks(body, (chunk) => {
      waiting = 0
      if (res.isPaused() && !res.complete) {
        res.resume()
        wait()
      }
      return chunk
    })
  })

/** Reads a streamed body to text (for error answers of streaming requests). */
export const readText = (body: Stream.Stream<Uint8Array, Transport | Timeout>): Effect.Effect<string, Transport | Timeout> =>
  body.pipe(Stream.decodeText(), Stream.mkString)
