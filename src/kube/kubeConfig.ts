import { existsSync } from "node:fs"
import { homedir } from "node:os"
import { join } from "node:path"
import { KubeConfig } from "@kubernetes/client-node"
import { Data, Effect } from "effect"

/** The kubeconfig could not be found, read or used. */
export class KubeConfigError extends Data.TaggedError("KubeConfigError")<{
  readonly message: string
  readonly cause?: unknown
}> {}

const SERVICE_ACCOUNT_TOKEN = "/var/run/secrets/kubernetes.io/serviceaccount/token"

const describe = (e: unknown): string => (e instanceof Error ? e.message : String(e))

/** The server URL of the current cluster. */
export const clusterServer = (kc: KubeConfig, source = "kubeconfig"): Effect.Effect<URL, KubeConfigError> => {
  const cluster = kc.getCurrentCluster()
  if (cluster === null || cluster.server === "") {
    return Effect.fail(new KubeConfigError({ message: `${source}: the current context names no cluster` }))
  }
  let url: URL
  try {
    url = new URL(cluster.server)
  } catch (e) {
    return Effect.fail(new KubeConfigError({ message: `${source}: invalid server URL`, cause: e }))
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    return Effect.fail(new KubeConfigError({ message: `${source}: unsupported server URL scheme ${url.protocol}` }))
  }
  return Effect.succeed(url)
}

const validated = (kc: KubeConfig, source: string): Effect.Effect<KubeConfig, KubeConfigError> =>
  Effect.as(clusterServer(kc, source), kc)

/** Loads a kubeconfig file (its current context). */
export const loadKubeConfigFile = (path: string): Effect.Effect<KubeConfig, KubeConfigError> =>
  Effect.try({
    try: () => {
      const kc = new KubeConfig()
      kc.loadFromFile(path)
      return kc
    },
    catch: (e) => new KubeConfigError({ message: `cannot load kubeconfig ${path}: ${describe(e)}`, cause: e })
  }).pipe(Effect.flatMap((kc) => validated(kc, path)))

/**
 * The usual lookup: `$KUBECONFIG`, then `~/.kube/config`, then the in-cluster service account.
 * Unlike `KubeConfig.loadFromDefault`, finding nothing is an error instead of a silent
 * `http://localhost:8080`.
 */
export const loadDefaultKubeConfig: Effect.Effect<KubeConfig, KubeConfigError> = Effect.suspend(() => {
  const envPath = process.env["KUBECONFIG"]
  const homeConfig = join(homedir(), ".kube", "config")
  const source =
    envPath !== undefined && envPath !== ""
      ? "$KUBECONFIG"
      : existsSync(homeConfig)
        ? homeConfig
        : existsSync(SERVICE_ACCOUNT_TOKEN)
          ? "in-cluster service account"
          : undefined
  if (source === undefined) {
    return Effect.fail(
      new KubeConfigError({
        message: "no Kubernetes credentials found: set KUBECONFIG, create ~/.kube/config, or run in a pod"
      })
    )
  }
  return Effect.try({
    try: () => {
      const kc = new KubeConfig()
      kc.loadFromDefault()
      return kc
    },
    catch: (e) => new KubeConfigError({ message: `cannot load ${source}: ${describe(e)}`, cause: e })
  }).pipe(Effect.flatMap((kc) => validated(kc, source)))
})
