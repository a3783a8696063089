import * as https from "node:https"
import { KubeConfig } from "@kubernetes/client-node"
import { Duration, Effect } from "effect"
import { ApiRequestFailed, ApiStatusError, FileError, errorMessage } from "./errors.js"

/**
 * Where and how to reach an API server: the base URL plus the TLS and auth options that
 * `@kubernetes/client-node` derives from a kubeconfig. The harness talks to the server through
 * this small client so it does not depend on the operator's own KubeApi service.
 */
export interface ApiTarget {
  readonly server: string
  readonly options: https.RequestOptions
}

export interface ApiResponse {
  readonly status: number
  readonly body: string
}

export interface ApiRequest {
  readonly method: string
  readonly path: string
  readonly body?: string
  readonly contentType?: string
  readonly headers?: Readonly<Record<string, string>>
  readonly timeout?: Duration.DurationInput
}

/** Loads a kubeconfig file (current context) into an ApiTarget. */
export const targetFromKubeconfig = (kubeconfigPath: string): Effect.Effect<ApiTarget, FileError> =>
  Effect.tryPromise({
    try: async () => {
      const kc = new KubeConfig()
      kc.loadFromFile(kubeconfigPath)
      const cluster = kc.getCurrentCluster()
      if (cluster === null) throw new Error("the current context names no cluster")
      const options: https.RequestOptions = {}
      await kc.applyToHTTPSOptions(options)
      return { server: cluster.server.replace(/\/+$/, ""), options }
    },
    catch: (e) => new FileError({ path: kubeconfigPath, message: `cannot use kubeconfig: ${errorMessage(e)}` })
  })

/** One HTTPS request; any status is a success here, transport failures and timeouts are not. */
export const request = (target: ApiTarget, req: ApiRequest): Effect.Effect<ApiResponse, ApiRequestFailed> => {
  const timeout = Duration.toMillis(Duration.decode(req.timeout ?? Duration.seconds(30)))
  const fail = (message: string) => new ApiRequestFailed({ method: req.method, path: req.path, reason: message })
  return Effect.async<ApiResponse, ApiRequestFailed>((resume, signal) => {
    const url = new URL(target.server + req.path)
    const headers: Record<string, string | number> = {
      Accept: "application/json",
      ...(target.options.headers as Record<string, string> | undefined),
      ...req.headers
    }
    if (req.body !== undefined) {
      headers["Content-Type"] = req.contentType ?? "application/json"
      headers["Content-Length"] = Buffer.byteLength(req.body)
    }
    const r = https.request(
      url,
      { ...target.options, method: req.method, headers, signal, timeout },
      (res) => {
        const chunks: Array<Buffer> = []
        res.on("data", (c: Buffer) => chunks.push(c))
        res.on("error", (e) => resume(Effect.fail(fail(errorMessage(e)))))
        res.on("end", () =>
          resume(Effect.succeed({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }))
        )
      }
    )
    r.on("timeout", () => r.destroy(new Error(`no answer within ${timeout} ms`)))
    r.on("error", (e) => {
      if (!signal.aborted) resume(Effect.fail(fail(errorMessage(e))))
    })
    r.end(req.body)
  })
}

/** A request whose status must be one of `ok`; the body is parsed as JSON. */
export const requestJson = (
  target: ApiTarget,
  req: ApiRequest,
  ok: ReadonlyArray<number> = [200, 201]
): Effect.Effect<unknown, ApiRequestFailed | ApiStatusError> =>
  Effect.flatMap(request(target, req), (res): Effect.Effect<unknown, ApiRequestFailed | ApiStatusError> =>
    ok.includes(res.status)
      ? Effect.try({
          try: (): unknown => (res.body === "" ? null : JSON.parse(res.body)),
          catch: (e) => new ApiRequestFailed({ method: req.method, path: req.path, reason: `bad JSON: ${errorMessage(e)}` })
        })
      : Effect.fail(new ApiStatusError({ method: req.method, path: req.path, status: res.status, body: res.body }))
  )
