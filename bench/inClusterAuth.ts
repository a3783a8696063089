/**
 * The production auth path for an operator process the bench spawns: a ServiceAccount with a
 * bound token from the TokenRequest API, its token and the cluster CA written where a Pod has them
 * (`/var/run/secrets/kubernetes.io/serviceaccount`, inside a private mount namespace made with
 * `unshare`), and `KUBERNETES_SERVICE_HOST`/`_PORT` pointing at the run's API server. The process
 * then loads no kubeconfig and no `@kubernetes/client-node` (src/kube/inCluster.ts).
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Effect, Schema, Scope } from "effect"
import { requestJson } from "../src/devcluster/index.js"
import { runCommand } from "../src/devcluster/process.js"
import type { BenchContext } from "./context.js"
import { gatedNamespace } from "./fixtures.js"
import { BenchError } from "./probe.js"
import { progress } from "./report.js"

export interface InClusterAuth {
  /** Holds `token` and `ca.crt`; bind-mounted over the service-account folder of the child. */
  readonly dir: string
  readonly host: string
  readonly port: string
}

/** How an operator child authenticates: `--kubeconfig` (loads client-node), or as a Pod would. */
export type OperatorAuth = { readonly _tag: "kubeconfig" } | { readonly _tag: "inCluster"; readonly auth: InClusterAuth }

export const kubeconfigAuth: OperatorAuth = { _tag: "kubeconfig" }

const TokenRequestStatus = Schema.Struct({ status: Schema.Struct({ token: Schema.String }) })

const SERVICE_ACCOUNT = "vworkspace-operator"

/** Whether unprivileged user + mount namespaces work here (the child needs them for the mount). */
export const inClusterSupported: Effect.Effect<boolean> = runCommand("unshare", ["-rm", "true"]).pipe(
  Effect.as(true),
  Effect.orElseSucceed(() => false)
)

/**
 * A ServiceAccount bound to cluster-admin (what the operator may do is the RBAC tests' concern;
 * this measures memory), one bound token for it, and the folder with token and CA; all removed
 * when the scope closes.
 */
export const inClusterAuth = (ctx: BenchContext): Effect.Effect<InClusterAuth, BenchError, Scope.Scope> =>
  Effect.gen(function* () {
    const fail = (what: string) => (e: { readonly message: string }) => new BenchError({ message: `${what}: ${e.message}` })
    const namespace = yield* gatedNamespace(ctx.target, ctx.scope, "bench-sa")
    yield* requestJson(ctx.target, {
      method: "POST",
      path: `/api/v1/namespaces/${namespace}/serviceaccounts`,
      body: JSON.stringify({ apiVersion: "v1", kind: "ServiceAccount", metadata: { name: SERVICE_ACCOUNT } })
    }).pipe(Effect.mapError(fail("create the ServiceAccount")))
    const binding = namespace
    yield* Effect.acquireRelease(
      requestJson(ctx.target, {
        method: "POST",
        path: "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
        body: JSON.stringify({
          apiVersion: "rbac.authorization.k8s.io/v1",
          kind: "ClusterRoleBinding",
          metadata: { name: binding },
          roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "cluster-admin" },
          subjects: [{ kind: "ServiceAccount", name: SERVICE_ACCOUNT, namespace }]
        })
      }).pipe(Effect.mapError(fail("bind the ServiceAccount"))),
      () =>
        Effect.ignore(
          requestJson(ctx.target, { method: "DELETE", path: `/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/${binding}` })
        )
    )
    const answer = yield* requestJson(ctx.target, {
      method: "POST",
      path: `/api/v1/namespaces/${namespace}/serviceaccounts/${SERVICE_ACCOUNT}/token`,
      body: JSON.stringify({ apiVersion: "authentication.k8s.io/v1", kind: "TokenRequest", spec: { expirationSeconds: 3600 } })
    }).pipe(Effect.mapError(fail("request a token")))
    const { status } = yield* Schema.decodeUnknown(TokenRequestStatus)(answer).pipe(Effect.mapError(fail("token answer")))
    const ca = ctx.target.options.ca
    if (ca === undefined) return yield* new BenchError({ message: "the run's kubeconfig carries no CA" })
    const server = new URL(ctx.target.server)
    const dir = yield* Effect.acquireRelease(
      Effect.try({
        try: () => {
          const d = fs.mkdtempSync(path.join(os.tmpdir(), "vworkspace-bench-sa-"))
          fs.writeFileSync(path.join(d, "token"), status.token, { mode: 0o600 })
          fs.writeFileSync(path.join(d, "ca.crt"), Array.isArray(ca) ? ca.join("\n") : String(ca))
          return d
        },
        catch: (e) => new BenchError({ message: `cannot write the service-account files: ${String(e)}` })
      }),
      (d) => Effect.sync(() => fs.rmSync(d, { recursive: true, force: true }))
    )
    return { dir, host: server.hostname, port: server.port || "443" }
  })

/**
 * The command that runs `node <args>` as a Pod would see it: in a private user + mount namespace
 * whose /run is a fresh tmpfs holding the service-account folder. `exec` keeps one PID, so the
 * bench measures node itself.
 */
export const inClusterCommand = (auth: InClusterAuth, nodeArgs: ReadonlyArray<string>): { command: string; args: Array<string> } => {
  const target = "/run/secrets/kubernetes.io/serviceaccount"
  const script = [
    "mount -t tmpfs tmpfs /run",
    `mkdir -p ${target}`,
    `cp "$VWS_SA_DIR/token" "$VWS_SA_DIR/ca.crt" ${target}/`,
    'exec "$0" "$@"'
  ].join(" && ")
  return { command: "unshare", args: ["-rm", "sh", "-c", script, process.execPath, ...nodeArgs] }
}

let shared: Effect.Effect<InClusterAuth, BenchError> | undefined

/**
 * The auth of operator child processes by `--auth`: in-cluster (one ServiceAccount per run, in the
 * run's scope) where `unshare` works, else `--kubeconfig`; says which in a progress line.
 */
export const operatorAuth = (ctx: BenchContext): Effect.Effect<OperatorAuth, BenchError> =>
  Effect.gen(function* () {
    if (ctx.options.auth === "kubeconfig") return kubeconfigAuth
    if (!(yield* inClusterSupported)) {
      yield* progress("unshare -rm is not allowed here: operator processes use --kubeconfig instead of the in-cluster path")
      return kubeconfigAuth
    }
    shared ??= yield* Effect.cached(Scope.extend(inClusterAuth(ctx), ctx.scope))
    return { _tag: "inCluster", auth: yield* shared }
  })

export const describeAuth = (auth: OperatorAuth): string =>
  auth._tag === "kubeconfig"
    ? "--kubeconfig (loads @kubernetes/client-node)"
    : "in-cluster (ServiceAccount token + CA files, KUBERNETES_SERVICE_HOST/PORT; no client-node)"
