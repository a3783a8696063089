import * as fs from "node:fs"
import * as path from "node:path"
import { Cause, Effect, Exit, Scope } from "effect"
import type { TestProject } from "vitest/node"
import { buildCli } from "../../scripts/build.js"
import { acquireTestCluster, repoRoot } from "../../src/devcluster/index.js"

const cacheDir = path.join(repoRoot(), ".cache", "vworkspace-test")

declare module "vitest" {
  export interface ProvidedContext {
    /** Admin kubeconfig of the run's cluster. */
    kubeconfigPath: string
    /** The harness's own cluster (for PKI or version checks); null with VWORKSPACE_TEST_KUBECONFIG. */
    devCluster: {
      readonly dir: string
      readonly pkiDir: string
      readonly k8sVersion: string
      readonly etcdVersion: string
      /** etcd's client URL, for checking which etcd runs; tests never write to it. */
      readonly etcdUrl: string
    } | null
    /** The CLI as the image ships it (`npm run build`), which operator processes run. */
    operatorCli: string
  }
}

/**
 * One cluster per test run: a local kube-apiserver + etcd (or the cluster VWORKSPACE_TEST_KUBECONFIG
 * names), with every CRD installed; and the CLI built once, in a folder of this run's own. The
 * returned teardown stops what was started.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // Inside the checkout, so the bundle finds node_modules (client-node) and package.json above it.
  fs.mkdirSync(cacheDir, { recursive: true })
  const buildDir = fs.mkdtempSync(path.join(cacheDir, "cli-"))
  project.provide("operatorCli", await buildCli(buildDir))
  const scope = Effect.runSync(Scope.make())
  const exit = await Effect.runPromiseExit(Scope.extend(acquireTestCluster, scope))
  if (Exit.isFailure(exit)) {
    await Effect.runPromise(Scope.close(scope, exit))
    fs.rmSync(buildDir, { recursive: true, force: true })
    throw new Error(`test cluster did not start:\n${Cause.pretty(exit.cause)}`)
  }
  const cluster = exit.value
  project.provide("kubeconfigPath", cluster.kubeconfigPath)
  project.provide(
    "devCluster",
    cluster.started === undefined
      ? null
      : {
          dir: cluster.started.dir,
          pkiDir: cluster.started.pkiDir,
          k8sVersion: cluster.started.k8sVersion,
          etcdVersion: cluster.started.etcdVersion,
          etcdUrl: `http://127.0.0.1:${cluster.started.etcd.clientPort}`
        }
  )
  process.env["VWORKSPACE_KUBECONFIG_PATH"] = cluster.kubeconfigPath
  return async () => {
    await Effect.runPromise(Scope.close(scope, Exit.void))
    fs.rmSync(buildDir, { recursive: true, force: true })
  }
}
