/**
 * How to reach and authenticate to one API server: all the transport needs. In a Pod it comes from
 * the service account (`inCluster.ts`, no dependencies); elsewhere from a kubeconfig file through
 * `@kubernetes/client-node`, which is imported only then (`kubeConfig.ts`).
 */
import type * as https from "node:https"
import type { Effect } from "effect"
import type { Transport } from "./errors.js"

export interface ClusterConnection {
  readonly server: URL
  /**
   * TLS material and auth headers for one request. Evaluated per request, because projected
   * service-account tokens and exec-plugin credentials rotate.
   */
  readonly requestOptions: Effect.Effect<https.RequestOptions, Transport>
  /** The options carry their own agent (a proxy); the transport must not replace it. */
  readonly ownAgent: boolean
  /**
   * TLS material fixed for the connection's lifetime (the in-cluster CA): given to the
   * connection pool once instead of with every request, where the pool would hash it each time.
   */
  readonly agentOptions?: https.AgentOptions
}
