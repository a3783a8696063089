/**
 * GitOps mode end to end with real source-controller and kustomize-controller (started by
 * fluxGlobalSetup.ts): the operator keeps a GitRepository + Kustomization for
 * `./clusters/<cluster-id>` of a loopback Git server; Flux clones and applies the committed
 * ApplicationInstance; the operator reconciles it and reports the applied revision in Cluster status.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Effect, Layer, Option, Schema } from "effect"
import { Cluster } from "../../src/api/cluster.js"
import { gitOpsObjectName } from "../../src/connectivity/modes/gitops.js"
import { KubeApi } from "../../src/kube/KubeApi.js"
import { KubeApiLive } from "../../src/kube/KubeApiLive.js"
import { Resources } from "../../src/kube/resources.js"
import { createNamespace, deleteNamespace, targetFromKubeconfig, uniqueName } from "../../src/devcluster/index.js"
import { kubeconfigPath } from "../support/cluster.js"
import { currentCondition, freePort, waitForFluxReady } from "../support/fluxControllers.js"
import { type GitServer, startGitServer } from "../support/gitServer.js"
import { type OperatorProcess, spawnOperator } from "../support/operatorProcess.js"
import { waitFor } from "../support/wait.js"

const run = <A, E>(effect: Effect.Effect<A, E, KubeApi>): Promise<A> =>
  Effect.runPromise(effect.pipe(Effect.provide(KubeApiLive.fromKubeconfigFile(kubeconfigPath()) as Layer.Layer<KubeApi>)))

const clusterId = uniqueName("e2e-gitops-cluster")
const apps = uniqueName("e2e-gitops-apps")
const fluxNamespace = uniqueName("e2e-gitops-flux")
let git: GitServer
let operator: OperatorProcess

/** The manifest the control plane commits (spec/connectivity.md §7): labelled for this cluster. */
const instanceManifest = (greeting: string) =>
  [
    "apiVersion: apps.vworkspace.io/v1alpha1",
    "kind: ApplicationInstance",
    "metadata:",
    "  name: app",
    `  namespace: ${apps}`,
    "  labels:",
    "    app.vworkspace.io/managed-by: control-plane",
    `    app.vworkspace.io/cluster-id: ${clusterId}`,
    "spec:",
    "  appRef:",
    "    catalogId: demo",
    "  chart:",
    "    sourceType: helm",
    "    url: http://127.0.0.1:1/charts",
    "    name: demo",
    "    version: 1.0.0",
    "  release:",
    "    name: app",
    `    namespace: ${apps}`,
    "  values:",
    "    source: inline",
    "    inline:",
    `      greeting: ${greeting}`,
    ""
  ].join("\n")
const manifestPath = `clusters/${clusterId}/namespaces/${apps}/applicationinstance-app.yaml`

beforeAll(async () => {
  const target = await Effect.runPromise(targetFromKubeconfig(kubeconfigPath()))
  await Effect.runPromise(createNamespace(target, apps, { "managed-by": "vworkspace" }))
  await Effect.runPromise(createNamespace(target, fluxNamespace))
  git = await startGitServer()
  await run(
    Effect.flatMap(KubeApi, (api) =>
      api.create(Resources.Cluster, { apiVersion: "ops.vworkspace.io/v1alpha1", kind: "Cluster", metadata: { name: clusterId }, spec: {} })
    )
  )
})

afterAll(async () => {
  await run(Effect.flatMap(KubeApi, (api) => Effect.ignore(api.delete(Resources.Cluster, clusterId))))
  await operator?.stop()
  await git?.stop()
  const target = await Effect.runPromise(targetFromKubeconfig(kubeconfigPath()))
  for (const ns of [apps, fluxNamespace]) await Effect.runPromise(Effect.ignore(deleteNamespace(target, ns)))
})

const clusterGitOps = (revision: string) =>
  Effect.flatMap(KubeApi, (api) =>
    waitFor(
      `Cluster ${clusterId} status.gitops.lastAppliedRevision=${revision}`,
      api.get(Resources.Cluster, clusterId).pipe(
        Effect.map((o) => {
          const decoded = Option.getOrUndefined(Schema.decodeUnknownOption(Cluster)(o))
          return decoded?.status?.gitops?.lastAppliedRevision === revision ? o : undefined
        })
      ),
      { timeout: "120 seconds", interval: "250 millis" }
    )
  )

const releaseGreeting = (greeting: string) =>
  Effect.flatMap(KubeApi, (api) =>
    waitFor(
      `HelmRelease app with greeting ${greeting}`,
      api.get(Resources.HelmRelease, "app", apps).pipe(
        Effect.map((o) => (JSON.stringify(o["spec"]).includes(`"greeting":"${greeting}"`) ? o : undefined)),
        Effect.catchTag("NotFound", () => Effect.succeed(undefined))
      ),
      { timeout: "120 seconds", interval: "250 millis" }
    )
  )

describe("GitOps mode with real source-controller and kustomize-controller", () => {
  it("Flux applies the committed instance, the operator reconciles it and reports the applied revision", async () => {
    const first = git.commit({ [manifestPath]: instanceManifest("first") }, "add app")
    operator = spawnOperator([
      "--kubeconfig",
      kubeconfigPath(),
      "--pod-namespace",
      apps,
      "--watch-namespace",
      apps,
      "--health-probe-bind-address",
      `127.0.0.1:${await freePort()}`,
      "--connectivity-mode",
      "gitops",
      "--cluster-id",
      clusterId,
      "--gitops-url",
      git.url,
      "--gitops-namespace",
      fluxNamespace,
      "--gitops-interval-seconds",
      "5"
    ])
    await run(
      Effect.gen(function* () {
        const revision = `main@sha1:${first}`
        const repository = yield* waitForFluxReady(Resources.GitRepository, gitOpsObjectName, fluxNamespace)
        expect(currentCondition(repository, "Ready")).toMatchObject({ reason: "Succeeded", message: `stored artifact for revision '${revision}'` })
        expect(repository["status"]).toMatchObject({ artifact: { revision } })

        const kustomization = yield* waitForFluxReady(Resources.Kustomization, gitOpsObjectName, fluxNamespace)
        expect(currentCondition(kustomization, "Ready")).toMatchObject({
          reason: "ReconciliationSucceeded",
          message: `Applied revision: ${revision}`
        })
        expect(kustomization["status"]).toMatchObject({ lastAppliedRevision: revision })

        yield* releaseGreeting("first")
        const cluster = yield* clusterGitOps(revision)
        expect(cluster["status"]).toMatchObject({
          phase: "Connected",
          connectivityMode: "gitops",
          gitops: { url: git.url, branch: "main", path: `./clusters/${clusterId}`, ready: "True", reason: "ReconciliationSucceeded" }
        })
      })
    )

    const second = git.commit({ [manifestPath]: instanceManifest("second") }, "change app greeting")
    await run(
      Effect.gen(function* () {
        yield* releaseGreeting("second")
        yield* clusterGitOps(`main@sha1:${second}`)
      })
    )
  })
})
