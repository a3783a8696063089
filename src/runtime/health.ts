import { createServer } from "node:http"
import { HttpRouter, HttpServerResponse } from "@effect/platform"
import type { ServeError } from "@effect/platform/HttpServerError"
import { NodeHttpServer } from "@effect/platform-node"
import { Data, Duration, Effect, type Scope } from "effect"
import { Metrics } from "../observability/metrics.js"

/** A named probe check: succeeds with true when healthy. */
export interface HealthCheck {
  readonly name: string
  readonly check: Effect.Effect<boolean>
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

const probe = (checks: ReadonlyArray<HealthCheck>, timeout: Duration.Duration) =>
  Effect.gen(function* () {
    const results = yield* Effect.forEach(
      checks,
      (c) =>
        c.check.pipe(
          Effect.timeoutTo({ duration: timeout, onSuccess: (ok) => ok, onTimeout: () => false }),
          Effect.map((ok) => ({ name: c.name, ok }))
        ),
      { concurrency: "unbounded" }
    )
    const ok = results.every((r) => r.ok)
    // Like Kubernetes' own probes: `ok`, or one line per check when something fails.
    const body = ok ? "ok\n" : results.map((r) => (r.ok ? `[+]${r.name} ok` : `[-]${r.name} failed`)).join("\n") + "\n"
    return HttpServerResponse.text(body, { status: ok ? 200 : 503 })
  })

/**
 * The probe server: `/healthz`, `/readyz` and `/metrics` (the Metrics registry) on one port.
 * It listens until the scope closes.
 */
export const serve = (options: HealthServerOptions): Effect.Effect<HealthServer, ServeError, Metrics | Scope.Scope> =>
  Effect.gen(function* () {
    const metrics = yield* Metrics
    const timeout = Duration.decode(options.checkTimeout ?? "5 seconds")
    const router = HttpRouter.empty.pipe(
      HttpRouter.get("/healthz", probe(options.healthz, timeout)),
      HttpRouter.get("/readyz", probe(options.readyz, timeout)),
      HttpRouter.get(
        "/metrics",
        Effect.map(metrics.render, (body) => HttpServerResponse.text(body, { contentType: metrics.contentType }))
      )
    )
    const server = yield* NodeHttpServer.make(() => createServer(), {
      port: options.address.port,
      ...(options.address.host === undefined ? {} : { host: options.address.host })
    })
    yield* server.serve(router)
    const address = server.address
    return address._tag === "TcpAddress"
      ? { host: address.hostname, port: address.port }
      : { host: address.path, port: 0 }
  })
