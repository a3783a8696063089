/**
 * `/metrics` on its own listener (`--metrics-bind-address`, default :8443). Secure by default,
 * as controller-runtime's `filters.WithAuthenticationAndAuthorization`: HTTPS with a self-signed
 * serving certificate, the bearer token checked with a TokenReview, and the caller's right to
 * `get` the non-resource URL `/metrics` checked with a SubjectAccessReview. Decisions are cached
 * briefly, so a scrape every few seconds costs the API server almost nothing.
 * `--metrics-secure=false` serves plain HTTP without authentication (behind a NetworkPolicy).
 */
import { createHash } from "node:crypto"
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from "node:http"
import { createServer as createHttpsServer } from "node:https"
import { hostname } from "node:os"
import { Clock, Data, Duration, Effect, Either, Option, Runtime, Schema, type Scope } from "effect"
import type { KubeError } from "../kube/errors.js"
import { KubeApi } from "../kube/KubeApi.js"
import type { ResourceType } from "../kube/object.js"
import { withKubeRetry } from "../kube/retry.js"
import type { BindAddress } from "../runtime/health.js"
import { createCertificateAuthority, issueServingCertificate, type KeyAndCertificate } from "../tls/certificates.js"
import { CertificateFilesUnreadable, keepServingPairCurrent, loadPairFromDirectory, type ServingPair, setServingPair, TlsFiles } from "../tls/servingPair.js"
import { Metrics } from "./metrics.js"

export interface MetricsServerOptions {
  readonly address: BindAddress
  /** HTTPS plus TokenReview/SubjectAccessReview (the default); false: plain HTTP, no authentication. */
  readonly secure: boolean
  /** Names the self-signed certificate is valid for, besides localhost, 127.0.0.1 and the host name. */
  readonly hosts?: ReadonlyArray<string>
  /**
   * Serve the pair mounted here (tls.crt, tls.key; e.g. from a cert-manager Certificate) instead
   * of a self-signed one, reloading it every `reloadInterval` (default 30 s). Secure only.
   */
  readonly certDir?: string
  readonly reloadInterval?: Duration.DurationInput
  /** How long an allow (deny) decision is reused for the same token. Default 60 s (10 s). */
  readonly allowedTtl?: Duration.DurationInput
  readonly deniedTtl?: Duration.DurationInput
}

export interface MetricsServer {
  readonly host: string
  readonly port: number
  readonly secure: boolean
  /** The CA of the serving certificate (secure only), for clients that verify it. */
  readonly caPem?: string
}

export class MetricsServerError extends Data.TaggedError("MetricsServerError")<{
  readonly message: string
  readonly cause?: unknown
}> {}

const TokenReview: ResourceType = {
  group: "authentication.k8s.io",
  version: "v1",
  kind: "TokenReview",
  plural: "tokenreviews",
  namespaced: false
}
const SubjectAccessReview: ResourceType = {
  group: "authorization.k8s.io",
  version: "v1",
  kind: "SubjectAccessReview",
  plural: "subjectaccessreviews",
  namespaced: false
}

const TokenReviewStatus = Schema.Struct({
  status: Schema.Struct({
    authenticated: Schema.optional(Schema.Boolean),
    user: Schema.optional(
      Schema.Struct({
        username: Schema.optional(Schema.String),
        uid: Schema.optional(Schema.String),
        groups: Schema.optional(Schema.Array(Schema.String)),
        extra: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.Array(Schema.String) }))
      })
    )
  })
})
const AccessReviewStatus = Schema.Struct({
  status: Schema.Struct({ allowed: Schema.optional(Schema.Boolean), reason: Schema.optional(Schema.String) })
})

/** The outcome for one bearer token. */
export type Decision = "allowed" | "unauthenticated" | "forbidden"

export class ReviewFailed extends Data.TaggedError("ReviewFailed")<{ readonly message: string }> {}

const reviewTimeout = Duration.seconds(10)

const review = <A, I>(type: ResourceType, spec: Record<string, unknown>, schema: Schema.Schema<A, I>) =>
  Effect.gen(function* () {
    const kube = yield* KubeApi
    // The API client has its own request timeout; this bounds the retries too, so a scrape never hangs.
    const created = yield* withKubeRetry(
      kube.create(type, { apiVersion: `${type.group}/${type.version}`, kind: type.kind, metadata: {}, spec }),
      { maxRetries: 2 }
    ).pipe(
      Effect.mapError((e: KubeError) => new ReviewFailed({ message: `${type.kind}: ${e.message}` })),
      Effect.timeoutFail({ duration: reviewTimeout, onTimeout: () => new ReviewFailed({ message: `${type.kind} timed out` }) })
    )
    return yield* Schema.decodeUnknown(schema)(created).pipe(
      Effect.mapError((e) => new ReviewFailed({ message: `${type.kind} answer: ${e.message}` }))
    )
  })

/** TokenReview, then SubjectAccessReview for `get` on the non-resource URL `/metrics`. */
export const decide = (token: string): Effect.Effect<Decision, ReviewFailed, KubeApi> =>
  Effect.gen(function* () {
    const authn = yield* review(TokenReview, { token }, TokenReviewStatus)
    const user = authn.status.user
    if (authn.status.authenticated !== true || user === undefined) return "unauthenticated"
    const authz = yield* review(
      SubjectAccessReview,
      {
        user: user.username,
        uid: user.uid,
        groups: user.groups,
        extra: user.extra,
        nonResourceAttributes: { path: "/metrics", verb: "get" }
      },
      AccessReviewStatus
    )
    return authz.status.allowed === true ? "allowed" : "forbidden"
  })

/** Decisions by token digest, with an expiry; bounded, the oldest entry goes first. */
const makeDecisionCache = (allowedTtl: Duration.Duration, deniedTtl: Duration.Duration, capacity = 256) => {
  const entries = new Map<string, { readonly decision: Decision; readonly until: number }>()
  return {
    get: (key: string, now: number): Decision | undefined => {
      const hit = entries.get(key)
      if (hit === undefined) return undefined
      if (hit.until > now) return hit.decision
      entries.delete(key)
      return undefined
    },
    set: (key: string, decision: Decision, now: number) => {
      if (entries.size >= capacity) entries.delete(entries.keys().next().value ?? "")
      const ttl = decision === "allowed" ? allowedTtl : deniedTtl
      entries.set(key, { decision, until: now + Duration.toMillis(ttl) })
    }
  }
}

const bearerToken = (req: IncomingMessage): string | undefined => {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? "")
  return match?.[1]
}

interface Answer {
  readonly status: number
  readonly body: string
  readonly contentType: string
  readonly headers?: Readonly<Record<string, string>>
}

const text = (status: number, body: string, headers?: Record<string, string>): Answer => ({
  status,
  body,
  contentType: "text/plain; charset=utf-8",
  ...(headers ? { headers } : {})
})

const listen = (server: Server, address: BindAddress) =>
  Effect.acquireRelease(
    Effect.async<void, MetricsServerError>((resume) => {
      server.once("error", (e) => resume(Effect.fail(new MetricsServerError({ message: `cannot listen: ${e.message}`, cause: e }))))
      server.listen(address.port, address.host, () => resume(Effect.void))
    }),
    () =>
      Effect.async<void>((resume) => {
        server.close(() => resume(Effect.void))
        server.closeAllConnections()
      })
  )

const servingCertificate = (hosts: ReadonlyArray<string>, now: Date): { readonly ca: KeyAndCertificate; readonly serving: KeyAndCertificate } => {
  const year = 365 * 24 * 3600 * 1000
  const ca = createCertificateAuthority({ commonName: "vworkspace-operator-metrics-ca", now, validForMillis: year })
  const serving = issueServingCertificate(ca, {
    commonName: "vworkspace-operator-metrics",
    now,
    validForMillis: year,
    hosts: [...new Set(["localhost", "127.0.0.1", hostname(), ...hosts])]
  })
  return { ca, serving }
}

const certificateError = (e: { readonly message: string }) => new MetricsServerError({ message: `metrics serving certificate: ${e.message}` })

/** The pair to serve: the mounted one (which must be there at start), or a fresh self-signed one. */
const servingTls = (options: MetricsServerOptions): Effect.Effect<{ readonly pair: ServingPair; readonly caPem?: string }, MetricsServerError> => {
  const dir = options.certDir
  if (dir === undefined) {
    return Effect.map(Clock.currentTimeMillis, (now) => {
      const { ca, serving } = servingCertificate(options.hosts ?? [], new Date(now))
      return { pair: serving, caPem: ca.certificatePem }
    })
  }
  return loadPairFromDirectory(dir).pipe(
    Effect.flatMap(
      Option.match({
        onNone: () => Effect.fail(new CertificateFilesUnreadable({ message: `${dir} holds no ${TlsFiles.cert} and ${TlsFiles.key}` })),
        onSome: (pair) => Effect.succeed({ pair })
      })
    ),
    Effect.mapError(certificateError)
  )
}

/**
 * HTTPS (HTTP/1.1 only: node:https offers no h2, as controller-runtime's default) on `pair`, kept
 * current when mounted. A pair whose key does not match its certificate fails the start.
 */
const httpsServer = (options: MetricsServerOptions, pair: ServingPair, handler: (req: IncomingMessage, res: ServerResponse) => void) =>
  Effect.gen(function* () {
    const server = createHttpsServer({ minVersion: "TLSv1.2" }, handler)
    yield* Effect.mapError(setServingPair(server, pair), certificateError)
    if (options.certDir !== undefined) {
      yield* keepServingPairCurrent({
        what: "metrics",
        load: loadPairFromDirectory(options.certDir),
        apply: (next) => setServingPair(server, next),
        interval: options.reloadInterval ?? Duration.seconds(30),
        initial: pair
      })
    }
    return server
  })

/** Serves `/metrics` until the scope closes. */
export const serveMetrics = (
  options: MetricsServerOptions
): Effect.Effect<MetricsServer, MetricsServerError, Metrics | KubeApi | Scope.Scope> =>
  Effect.gen(function* () {
    const metrics = yield* Metrics
    const kube = yield* KubeApi
    const cache = makeDecisionCache(
      Duration.decode(options.allowedTtl ?? "60 seconds"),
      Duration.decode(options.deniedTtl ?? "10 seconds")
    )

    const authorize = (req: IncomingMessage): Effect.Effect<Option.Option<Answer>> =>
      Effect.gen(function* () {
        if (!options.secure) return Option.none()
        const token = bearerToken(req)
        if (token === undefined) return Option.some(text(401, "Unauthorized\n", { "WWW-Authenticate": 'Bearer realm="metrics"' }))
        const key = createHash("sha256").update(token).digest("hex")
        const now = yield* Clock.currentTimeMillis
        const decision =
          cache.get(key, now) ??
          (yield* Effect.either(decide(token).pipe(Effect.provideService(KubeApi, kube))).pipe(
            Effect.flatMap(
              Either.match({
                onLeft: (e) =>
                  Effect.as(Effect.logWarning("metrics authorization failed").pipe(Effect.annotateLogs("error", e.message)), undefined),
                onRight: (d) => Effect.as(Effect.sync(() => cache.set(key, d, now)), d)
              })
            )
          ))
        if (decision === undefined) return Option.some(text(500, "Authorization failed\n"))
        if (decision === "unauthenticated") return Option.some(text(401, "Unauthorized\n", { "WWW-Authenticate": 'Bearer realm="metrics"' }))
        if (decision === "forbidden") return Option.some(text(403, "Forbidden\n"))
        return Option.none()
      })

    const answer = (req: IncomingMessage): Effect.Effect<Answer> => {
      const path = (req.url ?? "/").split("?")[0]
      if (path !== "/metrics") return Effect.succeed(text(404, "not found\n"))
      if (req.method !== "GET" && req.method !== "HEAD") return Effect.succeed(text(405, "method not allowed\n"))
      return Effect.flatMap(authorize(req), (refused) =>
        Option.isSome(refused)
          ? Effect.succeed(refused.value)
          : Effect.map(metrics.render, (body) => ({ status: 200, body, contentType: metrics.contentType }))
      )
    }

    const runtime = yield* Effect.runtime<never>()
    const handler = (req: IncomingMessage, res: ServerResponse) => {
      Runtime.runFork(runtime)(
        Effect.map(answer(req), (a) => {
          res.writeHead(a.status, { ...a.headers, "Content-Type": a.contentType, "Content-Length": Buffer.byteLength(a.body) })
          res.end(req.method === "HEAD" ? undefined : a.body)
        })
      )
    }
    const tls = options.secure ? yield* servingTls(options) : undefined
    const server: Server = tls === undefined ? createHttpServer(handler) : yield* httpsServer(options, tls.pair, handler)
    yield* listen(server, options.address)
    const address = server.address()
    const bound = address !== null && typeof address === "object" ? address : { address: String(address), port: 0 }
    return {
      host: bound.address,
      port: bound.port,
      secure: options.secure,
      ...(tls?.caPem === undefined ? {} : { caPem: tls.caPem })
    }
  })
