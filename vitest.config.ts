import { defineConfig } from "vitest/config"

// unit: in-memory Layers only. integration and e2e: one real kube-apiserver + etcd per run,
// started by the global setup (or VWORKSPACE_TEST_KUBECONFIG), with a namespace per test file.
export default defineConfig({
  test: {
    // The log scan (test/support/logScan.ts) collects every log line of the run and fails it on a leaked secret.
    reporters: ["default", "./test/support/logScanReporter.ts"],
    projects: [
      {
        test: {
          name: "unit",
          include: ["test/unit/**/*.test.ts"]
        }
      },
      {
        test: {
          name: "integration",
          include: ["test/integration/**/*.test.ts"],
          globalSetup: ["test/support/globalSetup.ts"],
          testTimeout: 60_000,
          hookTimeout: 120_000
        }
      },
      {
        test: {
          name: "e2e",
          include: ["test/e2e/**/*.test.ts"],
          // The run's cluster, then real source-controller and kustomize-controller against it.
          globalSetup: ["test/support/globalSetup.ts", "test/support/fluxGlobalSetup.ts"],
          // One file at a time: each starts an operator process, and Cluster objects are cluster-scoped.
          poolOptions: { forks: { singleFork: true } },
          testTimeout: 300_000,
          hookTimeout: 600_000
        }
      }
    ]
  }
})
