/**
 * The local test cluster: kube-apiserver and etcd built from Go modules, started on loopback,
 * with the project's and third-party CRDs installed. Used by the test harness and `dev-cluster`.
 */
import { Effect, type Scope } from "effect"
import { type ClusterInfo, scopedCluster } from "./cluster.js"
import { allCrds, installAllCrds } from "./crds.js"
import type { DevClusterError } from "./errors.js"
import { connectExisting } from "./existing.js"
import { targetFromKubeconfig } from "./http.js"

export * from "./binaries.js"
export * from "./cluster.js"
export * from "./crds.js"
export * from "./errors.js"
export * from "./existing.js"
export * from "./faults.js"
export * from "./http.js"
export * from "./kubeconfig.js"
export * from "./namespaces.js"
export * from "./paths.js"
export * as Persistent from "./persistent.js"
export * from "./pki.js"
export * from "./versions.js"

/** Set to a kubeconfig path to run the tests against that cluster instead of starting one. */
export const TEST_KUBECONFIG_ENV = "VWORKSPACE_TEST_KUBECONFIG"

export interface TestCluster {
  readonly kubeconfigPath: string
  /** The cluster the harness started; undefined when VWORKSPACE_TEST_KUBECONFIG was used. */
  readonly started: ClusterInfo | undefined
  /** Names of the CRDs installed. */
  readonly crds: ReadonlyArray<string>
}

/**
 * The cluster for a test run, for the lifetime of the Scope: the one VWORKSPACE_TEST_KUBECONFIG
 * names, or a fresh local one. All CRDs are installed and Established either way.
 */
export const acquireTestCluster: Effect.Effect<TestCluster, DevClusterError, Scope.Scope> = Effect.gen(function* () {
  const external = process.env[TEST_KUBECONFIG_ENV]
  if (external !== undefined && external !== "") {
    const target = yield* connectExisting(external)
    const crds = yield* installAllCrds(target)
    return { kubeconfigPath: external, started: undefined, crds }
  }
  // Reading the CRDs from the module cache overlaps with the cluster's start.
  const [info, docs] = yield* Effect.all([scopedCluster(), allCrds()], { concurrency: 2 })
  const target = yield* targetFromKubeconfig(info.kubeconfigPath)
  const crds = yield* installAllCrds(target, docs)
  return { kubeconfigPath: info.kubeconfigPath, started: info, crds }
})
