/**
 * In-cluster authentication, the production path: the service account's token file (re-read
 * whenever it changes; bound tokens rotate hourly), its CA file, and the API server address from
 * `KUBERNETES_SERVICE_HOST`/`_PORT`. Built on node:fs alone, so the operator in a Pod never loads
 * `@kubernetes/client-node`.
 */
import * as fs from "node:fs"
import { Effect } from "effect"
import type { ClusterConnection } from "./connection.js"
import { Transport } from "./errors.js"
import { KubeConfigError } from "./kubeConfigError.js"

const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"

export interface InClusterPaths {
  readonly tokenFile: string
  readonly caFile: string
  /** Where `KUBERNETES_SERVICE_HOST`/`_PORT` are read; default `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>>
}

export const defaultInClusterPaths: InClusterPaths = {
  tokenFile: `${SERVICE_ACCOUNT_DIR}/token`,
  caFile: `${SERVICE_ACCOUNT_DIR}/ca.crt`
}

/** True when this process looks like it runs in a Pod with a service account. */
export const inClusterAvailable = (paths: InClusterPaths = defaultInClusterPaths): boolean =>
  Boolean((paths.env ?? process.env)["KUBERNETES_SERVICE_HOST"]) && fs.existsSync(paths.tokenFile)

const describe = (e: unknown): string => (e instanceof Error ? e.message : String(e))

/** The API server URL from the environment; an IPv6 host gets brackets. */
const serverFromEnv = (env: Readonly<Record<string, string | undefined>>): Effect.Effect<URL, KubeConfigError> =>
  Effect.suspend(() => {
    const host = env["KUBERNETES_SERVICE_HOST"] ?? ""
    const port = env["KUBERNETES_SERVICE_PORT"] ?? ""
    if (host === "" || port === "") {
      return Effect.fail(
        new KubeConfigError({ message: "in-cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be set" })
      )
    }
    return Effect.try({
      try: () => new URL(`https://${host.includes(":") ? `[${host}]` : host}:${port}`),
      catch: (e) => new KubeConfigError({ message: `in-cluster: invalid API server address ${host}:${port}`, cause: e })
    })
  })

/** How long a token read is trusted before the file is checked again. */
const RECHECK_MS = 1000

/**
 * The token, read again when the file's identity, size or mtime changed (a kubelet rotation
 * swaps a symlink, which changes all three). At most one `stat` per second, however many
 * requests; no timer. The kubelet rotates a bound token long before it expires, so a second of
 * lag is harmless.
 */
const rotatingToken = (file: string) => {
  let stamp = ""
  let token = ""
  let checkedAt = -Infinity
  return Effect.try({
    try: () => {
      const at = Date.now()
      if (at - checkedAt < RECHECK_MS) return token
      const s = fs.statSync(file)
      checkedAt = at
      const now = `${s.ino}:${s.size}:${s.mtimeMs}`
      if (now !== stamp) {
        token = fs.readFileSync(file, "utf8").trim()
        stamp = now
      }
      return token
    },
    catch: (e) => new Transport({ message: `cannot read the service-account token ${file}: ${describe(e)}`, cause: e })
  })
}

/** The connection of a Pod's service account; `paths` are for tests. */
export const inClusterConnection = (
  paths: InClusterPaths = defaultInClusterPaths
): Effect.Effect<ClusterConnection, KubeConfigError> =>
  Effect.gen(function* () {
    const server = yield* serverFromEnv(paths.env ?? process.env)
    const ca = yield* Effect.try({
      try: () => fs.readFileSync(paths.caFile),
      catch: (e) => new KubeConfigError({ message: `in-cluster: cannot read the CA ${paths.caFile}: ${describe(e)}`, cause: e })
    })
    const token = rotatingToken(paths.tokenFile)
    // Fail at start-up, not at the first request, when the token cannot be read.
    yield* Effect.mapError(token, (e) => new KubeConfigError({ message: `in-cluster: ${e.message}`, cause: e }))
    return {
      server,
      ownAgent: false,
      agentOptions: { ca },
      requestOptions: Effect.map(token, (t) => ({ headers: { Authorization: `Bearer ${t}` } }))
    }
  })
