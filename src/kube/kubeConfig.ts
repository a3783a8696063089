/**
 * Kubeconfig files, through `@kubernetes/client-node`'s `KubeConfig` (contexts, client
 * certificates, exec and auth-provider plugins). That package costs 40–80 MiB of memory, so it is
 * imported here only, and only when a kubeconfig is actually loaded: the in-cluster path
 * (`inCluster.ts`) never loads it.
 */
import { existsSync } from "node:fs"
import type * as https from "node:https"
import { homedir } from "node:os"
import { join } from "node:path"
import type { KubeConfig } from "@kubernetes/client-node"
import { Effect } from "effect"
import type { ClusterConnection } from "./connection.js"
import { Transport } from "./errors.js"
import { defaultInClusterPaths, inClusterAvailable, inClusterConnection } from "./inCluster.js"
import { KubeConfigError } from "./kubeConfigError.js"

export { KubeConfigError } from "./kubeConfigError.js"

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

/** A fresh, empty `KubeConfig`: the one place that loads the package. */
const newKubeConfig = (source: string): Effect.Effect<KubeConfig, KubeConfigError> =>
  Effect.tryPromise({
    try: async () => new (await import("@kubernetes/client-node")).KubeConfig(),
    catch: (e) => new KubeConfigError({ message: `cannot load ${source}: ${describe(e)}`, cause: e })
  })

const loadWith = (source: string, load: (kc: KubeConfig) => void): Effect.Effect<KubeConfig, KubeConfigError> =>
  Effect.flatMap(newKubeConfig(source), (kc) =>
    Effect.try({
      try: () => {
        load(kc)
        return kc
      },
      catch: (e) => new KubeConfigError({ message: `cannot load ${source}: ${describe(e)}`, cause: e })
    })
  ).pipe(Effect.tap((kc) => clusterServer(kc, source)))

/** Loads a kubeconfig file (its current context). */
export const loadKubeConfigFile = (path: string): Effect.Effect<KubeConfig, KubeConfigError> =>
  loadWith(`kubeconfig ${path}`, (kc) => kc.loadFromFile(path))

/**
 * A connection through a loaded kubeconfig. Its auth (tokens, client certificates, exec and
 * auth-provider plugins) is applied per request, because plugin credentials expire.
 */
export const kubeConfigConnection = (kubeConfig: KubeConfig): Effect.Effect<ClusterConnection, KubeConfigError> =>
  Effect.map(clusterServer(kubeConfig), (server) => ({
    server,
    // A proxy from the kubeconfig needs the kubeconfig's own (proxy) agent.
    ownAgent: Boolean(kubeConfig.getCurrentCluster()?.proxyUrl),
    requestOptions: Effect.tryPromise({
      try: async () => {
        const opts: https.RequestOptions = {}
        await kubeConfig.applyToHTTPSOptions(opts)
        return opts
      },
      catch: (e) => new Transport({ message: `cannot obtain credentials from the kubeconfig: ${describe(e)}`, cause: e })
    })
  }))

/**
 * The usual lookup: `$KUBECONFIG`, then `~/.kube/config`, then the in-cluster service account
 * (without client-node). Unlike `KubeConfig.loadFromDefault`, finding nothing is an error instead
 * of a silent `http://localhost:8080`.
 */
export const defaultConnection: Effect.Effect<ClusterConnection, KubeConfigError> = Effect.suspend(() => {
  const envPath = process.env["KUBECONFIG"]
  if (envPath !== undefined && envPath !== "") {
    // client-node merges a path list the way kubectl does.
    return Effect.flatMap(
      loadWith("$KUBECONFIG", (kc) => kc.loadFromDefault()),
      kubeConfigConnection
    )
  }
  const homeConfig = join(homedir(), ".kube", "config")
  if (existsSync(homeConfig)) return Effect.flatMap(loadKubeConfigFile(homeConfig), kubeConfigConnection)
  if (inClusterAvailable(defaultInClusterPaths)) return inClusterConnection(defaultInClusterPaths)
  return Effect.fail(
    new KubeConfigError({
      message: "no Kubernetes credentials found: set KUBECONFIG, create ~/.kube/config, or run in a pod"
    })
  )
})
