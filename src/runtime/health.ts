import { createServer } from "node:http"
import { Data, Duration, Effect, Runtime, type Scope } from "effect"

/** A named probe check: succeeds with true when healthy. */
export interface HealthCheck {
  readonly name: string
  readonly check: Effect.Effect<boolean | HealthProblem>
}

export interface BindAddress {
  /** Undefined: every interface. */
  readonly host?: string
  readonly port: number
}

export class InvalidBindAddress extends Data.TaggedError("InvalidBindAddress")<{ readonly message: string }> {}

/** Parses `host:port`, `:port` or `[v6]:port` (the `--health-probe-bind-address` format). */
export const parseBindAddress = (address: string): Effect.Effect<BindAddress, InvalidBindAddress> => {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(address.trim())
  const port = match ? Number(match[3]) : NaN
  if (!match || port > 65535) {
    return Effect.fail(new InvalidBindAddress({ message: `expected host:port or :port, got "${address}"` }))
  }
  const host = match[1] ?? match[2]
  return Effect.succeed(host ? { host, port } : { port })
}

export interface HealthServerOptions {
  readonly address: BindAddress
  /** `/healthz`: the process is alive and not wedged. */
  readonly healthz: ReadonlyArray<HealthCheck>
  /** `/readyz`: caches synced, leader election healthy, ... */
  readonly readyz: ReadonlyArray<HealthCheck>
  /** A check that takes longer than this fails. Default 5 s. */
  readonly checkTimeout?: Duration.DurationInput
}

export interface HealthServer {
  /** The bound address (the real port when 0 was asked for). */
  readonly host: string
  readonly port: number
}

/** A check that failed says why, when it can (`[-]name failed: why`). */
export interface HealthProblem {
  readonly failed: string
}

const probe = (checks: ReadonlyArray<HealthCheck>, timeout: Duration.Duration) =>
  Effect.gen(function* () {
    const results = yield* Effect.forEach(
      checks,
      (c) =>
        c.check.pipe(
          Effect.timeoutTo({
            duration: timeout,
            onSuccess: (r): boolean | HealthProblem => r,
            onTimeout: () => ({ failed: `no answer within ${Duration.format(timeout)}` })
          }),
          Effect.map((r) => ({ name: c.name, ok: r === true, why: typeof r === "object" ? r.failed : undefined }))
        ),
      { concurrency: "unbounded" }
    )
    const ok = results.every((r) => r.ok)
    // Like Kubernetes' own probes: `ok`, or one line per check when something fails.
    const body = ok
      ? "ok\n"
      : results.map((r) => (r.ok ? `[+]${r.name} ok` : `[-]${r.name} failed${r.why ? `: ${r.why}` : ""}`)).join("\n") + "\n"
    return { status: ok ? 200 : 503, contentType: "text/plain; charset=utf-8", body }
  })

/** The probe server could not listen. */
export class HealthServerError extends Data.TaggedError("HealthServerError")<{
  readonly message: string
  readonly cause?: unknown
}> {}

interface Answer {
  readonly status: number
  readonly contentType: string
  readonly body: string
}

/**
 * The probe server: `/healthz` and `/readyz` (`/metrics` has its own listener, see
 * `src/observability/metricsServer.ts`). It listens until the scope closes. Plain node:http: an HTTP framework would cost more memory
 * than the two routes are worth.
 */
export const serve = (options: HealthServerOptions): Effect.Effect<HealthServer, HealthServerError, Scope.Scope> =>
  Effect.gen(function* () {
    const timeout = Duration.decode(options.checkTimeout ?? "5 seconds")
    const routes: Record<string, Effect.Effect<Answer>> = {
      "/healthz": probe(options.healthz, timeout),
      "/readyz": probe(options.readyz, timeout)
    }
    const runtime = yield* Effect.runtime<never>()
    const server = createServer((req, res) => {
      const path = (req.url ?? "/").split("?")[0] ?? "/"
      const route = req.method === "GET" || req.method === "HEAD" ? routes[path] : undefined
      const answer = route ?? Effect.succeed({ status: 404, contentType: "text/plain; charset=utf-8", body: "not found\n" })
      Runtime.runFork(runtime)(
        Effect.map(answer, (a) => {
          res.writeHead(a.status, { "Content-Type": a.contentType, "Content-Length": Buffer.byteLength(a.body) })
          res.end(req.method === "HEAD" ? undefined : a.body)
        })
      )
    })
    yield* Effect.acquireRelease(
      Effect.async<void, HealthServerError>((resume) => {
        server.once("error", (e) => resume(Effect.fail(new HealthServerError({ message: `cannot listen: ${e.message}`, cause: e }))))
        server.listen(options.address.port, options.address.host, () => resume(Effect.void))
      }),
      () =>
        Effect.async<void>((resume) => {
          server.close(() => resume(Effect.void))
          server.closeAllConnections()
        })
    )
    const address = server.address()
    return address !== null && typeof address === "object"
      ? { host: address.address, port: address.port }
      : { host: String(address), port: 0 }
  })
