/**
 * The validating webhook server: HTTPS (node:https) on `--webhook-port`, one path per webhook.
 * The serving certificate is swapped in place (`setCertificate`) when it rotates; connections
 * already open keep theirs. A body that is not an AdmissionReview v1 gets a 400 with the reason,
 * and the server stays up. Every denial is audited (a dry run is only logged: `sideEffects: None`
 * promises the API server no Event for it).
 */
import { createServer, type Server } from "node:https"
import type { IncomingMessage, ServerResponse } from "node:http"
import { Data, Effect, ParseResult, Runtime, Schema, type Scope } from "effect"
import { Webhooks } from "../api/wellKnown.js"
import type { OperatorConfig } from "../config.js"
import { Audit } from "../observability/audit.js"
import { type ServingPair, type ServingPairRejected, setServingPair } from "../tls/servingPair.js"
import { type AdmissionLookup, judge, type WebhookKind, WebhookKinds } from "./judge.js"
import { type AdmissionRequest, AdmissionReviewRequest, reviewResponse } from "./review.js"

export interface WebhookServer {
  readonly host: string
  readonly port: number
  /** Serve `pair` to every new connection from now on. */
  readonly setCertificate: (pair: ServingPair) => Effect.Effect<void, ServingPairRejected>
}

export class WebhookServerError extends Data.TaggedError("WebhookServerError")<{ readonly message: string; readonly cause?: unknown }> {}

/** The API server sends at most 3 MiB of object; anything larger is not a review. */
const maxBody = 4 * 1024 * 1024

const routes: Readonly<Record<string, WebhookKind>> = {
  [Webhooks.applicationInstance.path]: "applicationInstance",
  [Webhooks.operation.path]: "operation"
}

const decodeReview = Schema.decodeUnknownEither(Schema.parseJson(AdmissionReviewRequest))

interface Answer {
  readonly status: number
  readonly body: string
  readonly contentType: string
}

const text = (status: number, body: string): Answer => ({ status, body: `${body}\n`, contentType: "text/plain; charset=utf-8" })

const readBody = (req: IncomingMessage): Effect.Effect<string, Answer> =>
  Effect.async<string, Answer>((resume) => {
    const chunks: Array<Buffer> = []
    let size = 0
    req.on("data", (chunk: Buffer) => {
      size += chunk.length
      if (size > maxBody) {
        resume(Effect.fail(text(413, `request body larger than ${maxBody} bytes`)))
        req.destroy()
      } else chunks.push(chunk)
    })
    req.on("end", () => resume(Effect.succeed(Buffer.concat(chunks).toString("utf8"))))
    req.on("error", (e) => resume(Effect.fail(text(400, `cannot read request body: ${e.message}`))))
  })

const subjectOf = (request: AdmissionRequest) => ({
  apiVersion: `${request.kind.group}/${request.kind.version}`,
  kind: request.kind.kind,
  metadata: { name: request.name ?? "", namespace: request.namespace ?? "" }
})

const review = (kind: WebhookKind, body: string) =>
  Effect.gen(function* () {
    const decoded = decodeReview(body)
    if (decoded._tag === "Left") {
      return text(400, `invalid AdmissionReview v1: ${ParseResult.TreeFormatter.formatErrorSync(decoded.left)}`)
    }
    const request = decoded.right.request
    const verdict = yield* judge(kind, request)
    if (!verdict.allowed) {
      const fields = { webhook: WebhookKinds[kind].kind, operation: request.operation, namespace: request.namespace ?? "", name: request.name ?? "" }
      if (request.dryRun === true) {
        yield* Effect.logInfo("admission denied (dry run)").pipe(Effect.annotateLogs({ ...fields, message: verdict.message }))
      } else {
        const audit = yield* Audit
        yield* audit.record({
          action: "AdmissionDenied",
          object: subjectOf(request),
          message: verdict.message,
          ...(request.userInfo?.username === undefined ? {} : { actor: request.userInfo.username })
        })
      }
    }
    return { status: 200, body: JSON.stringify(reviewResponse(request.uid, verdict)), contentType: "application/json" }
  })

const answer = (req: IncomingMessage) => {
  const kind = routes[(req.url ?? "/").split("?")[0] ?? "/"]
  if (kind === undefined) return Effect.succeed(text(404, "not found"))
  if (req.method !== "POST") return Effect.succeed(text(405, "only POST is served"))
  return readBody(req).pipe(
    Effect.flatMap((body) => review(kind, body)),
    Effect.merge
  )
}

const write = (res: ServerResponse, a: Answer) => {
  res.writeHead(a.status, { "Content-Type": a.contentType, "Content-Length": Buffer.byteLength(a.body) })
  res.end(a.body)
}

const listen = (server: Server, host: string | undefined, port: number) =>
  Effect.acquireRelease(
    Effect.async<void, WebhookServerError>((resume) => {
      server.once("error", (e) => resume(Effect.fail(new WebhookServerError({ message: `cannot listen on ${host ?? ""}:${port}: ${e.message}`, cause: e }))))
      server.listen(port, host, () => resume(Effect.void))
    }),
    () =>
      Effect.async<void>((resume) => {
        server.close(() => resume(Effect.void))
        server.closeAllConnections()
      })
  )

/**
 * Listens on `host:port` (port 0: any free port) until the scope closes. Until the first
 * `setCertificate` no TLS handshake succeeds, which the API server treats as the webhook failing.
 */
export const serveWebhooks = (options: {
  readonly host?: string
  readonly port: number
}): Effect.Effect<WebhookServer, WebhookServerError, Scope.Scope | AdmissionLookup | OperatorConfig | Audit> =>
  Effect.gen(function* () {
    const runtime = yield* Effect.runtime<AdmissionLookup | OperatorConfig | Audit>()
    const server = createServer({}, (req, res) => {
      Runtime.runFork(runtime)(
        answer(req).pipe(
          Effect.catchAllDefect((d) => Effect.succeed(text(500, `webhook failed: ${String(d)}`))),
          Effect.map((a) => write(res, a))
        )
      )
    })
    // A client that cannot complete the handshake (no certificate yet, a scanner) is not an error of ours.
    server.on("tlsClientError", () => undefined)
    yield* listen(server, options.host, options.port)
    const address = server.address()
    const bound = address !== null && typeof address === "object" ? address : { address: options.host ?? "", port: options.port }
    return {
      host: bound.address,
      port: bound.port,
      setCertificate: (pair) => setServingPair(server, pair)
    }
  })
