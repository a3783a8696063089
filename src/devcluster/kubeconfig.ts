import * as fs from "node:fs"
import { Effect } from "effect"
import { stringify } from "yaml"
import { FileError, errorMessage } from "./errors.js"

export interface KubeconfigSpec {
  readonly server: string
  readonly caFile: string
  readonly certFile: string
  readonly keyFile: string
  readonly user: string
  readonly clusterName?: string
}

/**
 * Writes a kubeconfig with the certificates embedded, so it stays usable when copied and needs
 * no paths relative to anything. Written with mode 0600: it holds a private key.
 */
export const writeKubeconfig = (file: string, spec: KubeconfigSpec): Effect.Effect<void, FileError> =>
  Effect.try({
    try: () => {
      const b64 = (f: string) => fs.readFileSync(f).toString("base64")
      const cluster = spec.clusterName ?? "vworkspace-dev"
      const doc = {
        apiVersion: "v1",
        kind: "Config",
        clusters: [{ name: cluster, cluster: { server: spec.server, "certificate-authority-data": b64(spec.caFile) } }],
        users: [{ name: spec.user, user: { "client-certificate-data": b64(spec.certFile), "client-key-data": b64(spec.keyFile) } }],
        contexts: [{ name: cluster, context: { cluster, user: spec.user } }],
        "current-context": cluster,
        preferences: {}
      }
      fs.writeFileSync(file, stringify(doc), { mode: 0o600 })
    },
    catch: (e) => new FileError({ path: file, message: errorMessage(e) })
  })
