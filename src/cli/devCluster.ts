/**
 * `vworkspace-operator dev-cluster up|down|env`: a local kube-apiserver + etcd (built from Go
 * modules on first use) that keeps running between commands, with the project's and the
 * third-party CRDs installed. State lives in ~/.cache/vworkspace-operator/dev-cluster/.
 */
import { Command } from "@effect/cli"
import { Console, Effect } from "effect"

// The dev cluster (and the kubeconfig library it uses) is loaded only when this command runs.
const persistent = Effect.promise(() => import("../devcluster/index.js")).pipe(Effect.map((m) => m.Persistent))

const exportLine = (kubeconfigPath: string) => `export KUBECONFIG=${kubeconfigPath}`

const up = Command.make("up", {}, () =>
  Effect.gen(function* () {
    const { info, alreadyRunning, crds } = yield* (yield* persistent).up
    yield* Console.log(
      [
        alreadyRunning ? "dev cluster already running" : `dev cluster started: Kubernetes ${info.k8sVersion}, etcd ${info.etcdVersion}`,
        `  API server: ${info.server}`,
        `  CRDs established: ${crds.length}`,
        `  logs: ${info.apiserver.logFile}, ${info.etcd.logFile}`,
        `  kubeconfig: ${info.kubeconfigPath}`,
        exportLine(info.kubeconfigPath)
      ].join("\n")
    )
  })
).pipe(Command.withDescription("Start the local dev cluster (or report the running one) and install all CRDs."))

const down = Command.make("down", {}, () =>
  Effect.gen(function* () {
    const info = yield* (yield* persistent).down
    yield* Console.log(`dev cluster at ${info.server} stopped`)
  })
).pipe(Command.withDescription("Stop the local dev cluster and remove its data."))

const env = Command.make("env", {}, () =>
  Effect.flatMap(Effect.flatMap(persistent, (p) => p.running), (info) => Console.log(exportLine(info.kubeconfigPath)))
).pipe(Command.withDescription("Print `export KUBECONFIG=...` for the running dev cluster (use with eval)."))

export const devClusterCommand = Command.make("dev-cluster").pipe(
  Command.withDescription("A local kube-apiserver + etcd for development and tests."),
  Command.withSubcommands([up, down, env])
)
