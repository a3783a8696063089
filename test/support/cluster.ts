/**
 * What integration and e2e tests need from the run's cluster (started by globalSetup.ts): its
 * kubeconfig, throwaway namespaces, and credentials for other users. Deliberately built on the
 * harness's small HTTPS client, not on the code under test.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Effect, type Scope } from "effect"
import { inject } from "vitest"
import {
  type ApiRequest,
  type ApiRequestFailed,
  type ApiResponse,
  type ApiStatusError,
  type ApiTarget,
  type CommandFailed,
  FileError,
  type VersionInfo,
  createNamespace,
  deleteNamespace as deleteNamespaceWith,
  errorMessage,
  issueClientCert,
  request,
  serverVersion,
  targetFromKubeconfig,
  uniqueName,
  writeKubeconfig
} from "../../src/devcluster/index.js"

/** Admin kubeconfig of the run's cluster. */
export const kubeconfigPath = (): string => inject("kubeconfigPath")

/** The harness's own cluster, or null when the run uses VWORKSPACE_TEST_KUBECONFIG. */
export const devCluster = () => inject("devCluster")

let admin: ApiTarget | undefined

/** The admin ApiTarget, loaded once per worker. */
export const adminTarget: Effect.Effect<ApiTarget, FileError> = Effect.suspend(() =>
  admin !== undefined
    ? Effect.succeed(admin)
    : Effect.tap(targetFromKubeconfig(kubeconfigPath()), (t) =>
        Effect.sync(() => {
          admin = t
        })
      )
)

/** A raw request as the admin user; any status is returned, not failed. */
export const adminRequest = (req: ApiRequest): Effect.Effect<ApiResponse, FileError | ApiRequestFailed> =>
  Effect.flatMap(adminTarget, (t) => request(t, req))

/** A unique DNS-1123 name that starts with `prefix`. */
export const testNamespaceName = (prefix: string): string => uniqueName(prefix)

/** Deletes a namespace (absent is fine); kube-controller-manager empties and removes it. */
export const deleteNamespace = (name: string): Effect.Effect<void, FileError | ApiRequestFailed | ApiStatusError> =>
  Effect.flatMap(adminTarget, (t) => deleteNamespaceWith(t, name))

/** Creates a uniquely named namespace for the test's Scope, and deletes it when the Scope closes. */
export const createTestNamespace = (
  prefix: string,
  labels: Readonly<Record<string, string>> = {}
): Effect.Effect<string, FileError | ApiRequestFailed | ApiStatusError, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.gen(function* () {
      const name = testNamespaceName(prefix)
      yield* createNamespace(yield* adminTarget, name, labels)
      return name
    }),
    (name) => Effect.ignore(deleteNamespace(name))
  )

/** GET /version of the run's cluster. */
export const apiServerVersion: Effect.Effect<VersionInfo, FileError | ApiRequestFailed | ApiStatusError> = Effect.flatMap(
  adminTarget,
  serverVersion
)

export interface UserCredentials {
  /** A kubeconfig that authenticates as the user with a client certificate. */
  readonly kubeconfigPath: string
  readonly target: ApiTarget
}

/**
 * A client certificate for `user` in `groups`, signed by the harness's CA, for the test's Scope.
 * Only possible on the harness's own cluster: with VWORKSPACE_TEST_KUBECONFIG there is no CA
 * key, so use impersonation (`Impersonate-User`) there.
 */
export const credentialsFor = (
  user: string,
  groups: ReadonlyArray<string> = []
): Effect.Effect<UserCredentials, FileError | CommandFailed, Scope.Scope> =>
  Effect.gen(function* () {
    const cluster = devCluster()
    if (cluster === null) {
      return yield* new FileError({ path: "VWORKSPACE_TEST_KUBECONFIG", message: "an external cluster's CA key is not available" })
    }
    const dir = yield* Effect.acquireRelease(
      Effect.try({
        try: () => fs.mkdtempSync(path.join(os.tmpdir(), "vworkspace-user-")),
        catch: (e) => new FileError({ path: os.tmpdir(), message: errorMessage(e) })
      }),
      (d) => Effect.sync(() => fs.rmSync(d, { recursive: true, force: true }))
    )
    const pki = { dir, caCert: path.join(cluster.pkiDir, "ca.crt"), caKey: path.join(cluster.pkiDir, "ca.key") }
    const pair = yield* issueClientCert(pki, "user", user, groups)
    const adminT = yield* adminTarget
    const file = path.join(dir, "kubeconfig")
    yield* writeKubeconfig(file, { server: adminT.server, caFile: pki.caCert, certFile: pair.cert, keyFile: pair.key, user })
    return { kubeconfigPath: file, target: yield* targetFromKubeconfig(file) }
  })
