/**
 * The operator process with real source-controller (started by fluxGlobalSetup.ts): an instance
 * whose chart a loopback Helm repository serves. source-controller fetches the index for the
 * HelmRepository the operator writes and packages the HelmChart that helm-controller (played here;
 * it cannot run in this environment) builds from the HelmRelease's chart template.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Effect, Layer } from "effect"
import { KubeApi } from "../../src/kube/KubeApi.js"
import { KubeApiLive } from "../../src/kube/KubeApiLive.js"
import { Resources } from "../../src/kube/resources.js"
import { sourceName } from "../../src/helm/desiredRelease.js"
import { createNamespace, deleteNamespace, targetFromKubeconfig, uniqueName } from "../../src/devcluster/index.js"
import { type ChartRepository, startChartRepository } from "../support/chartRepository.js"
import { kubeconfigPath } from "../support/cluster.js"
import { helmChartFromTemplate, writeHelmReleaseInstalled } from "../support/flux.js"
import { currentCondition, freePort, waitForFluxReady } from "../support/fluxControllers.js"
import { type OperatorProcess, spawnOperator } from "../support/operatorProcess.js"
import { waitFor } from "../support/wait.js"

const run = <A, E>(effect: Effect.Effect<A, E, KubeApi>): Promise<A> =>
  Effect.runPromise(effect.pipe(Effect.provide(KubeApiLive.fromKubeconfigFile(kubeconfigPath()) as Layer.Layer<KubeApi>)))

const HelmChart = { group: "source.toolkit.fluxcd.io", version: "v1", kind: "HelmChart", plural: "helmcharts", namespaced: true }

const namespace = uniqueName("e2e-helmsrc")
let charts: ChartRepository
let operator: OperatorProcess

beforeAll(async () => {
  const target = await Effect.runPromise(targetFromKubeconfig(kubeconfigPath()))
  await Effect.runPromise(createNamespace(target, namespace, { "managed-by": "vworkspace" }))
  charts = await startChartRepository()
  operator = spawnOperator([
    "--kubeconfig",
    kubeconfigPath(),
    "--pod-namespace",
    namespace,
    "--watch-namespace",
    namespace,
    "--health-probe-bind-address",
    `127.0.0.1:${await freePort()}`
  ])
})

afterAll(async () => {
  await operator?.stop()
  await charts?.stop()
  const target = await Effect.runPromise(targetFromKubeconfig(kubeconfigPath()))
  await Effect.runPromise(Effect.ignore(deleteNamespace(target, namespace)))
})

const aiReady = (status: string) =>
  Effect.flatMap(KubeApi, (api) =>
    waitFor(
      `ApplicationInstance app Ready=${status}`,
      api.get(Resources.ApplicationInstance, "app", namespace).pipe(
        Effect.map((o) => {
          const ready = currentCondition(o, "Ready")
          return ready?.status === status ? ready : undefined
        }),
        Effect.catchTag("NotFound", () => Effect.succeed(undefined))
      ),
      { timeout: "120 seconds", interval: "250 millis" }
    )
  )

describe("HelmRepository source with real source-controller", () => {
  it("source-controller serves the operator's HelmRepository and the HelmChart; the instance becomes Ready", async () => {
    await run(
      Effect.gen(function* () {
        const api = yield* KubeApi
        yield* api.apply(
          Resources.ApplicationInstance,
          {
            apiVersion: "apps.vworkspace.io/v1alpha1",
            kind: "ApplicationInstance",
            metadata: { name: "app", namespace },
            spec: {
              appRef: { catalogId: "demo" },
              chart: { sourceType: "helm", url: charts.url, name: charts.chart.name, version: charts.chart.version },
              release: { name: "app", namespace },
              values: { source: "inline", inline: { greeting: "from-e2e" } }
            }
          },
          { fieldManager: "vworkspace-agent", force: true }
        )

        // The real source-controller accepts the HelmRepository the operator wrote and indexes it.
        const repository = yield* waitForFluxReady(Resources.HelmRepository, sourceName("app"), namespace)
        expect(currentCondition(repository, "Ready")).toMatchObject({ reason: "Succeeded" })
        expect(currentCondition(repository, "Ready")?.message).toMatch(/^stored artifact: revision 'sha256:[0-9a-f]{64}'$/)
        expect(repository["status"]).toMatchObject({ artifact: { revision: expect.stringMatching(/^sha256:/) } })
        expect(charts.requests()).toContain("/index.yaml")

        // Playing helm-controller: the HelmChart it builds from the operator's HelmRelease.
        const hr = yield* api.get(Resources.HelmRelease, "app", namespace)
        const chart = yield* helmChartFromTemplate(hr)
        yield* api.apply(HelmChart, chart, { fieldManager: "helm-controller", force: true })
        const packaged = yield* waitForFluxReady(HelmChart, `${namespace}-app`, namespace)
        expect(currentCondition(packaged, "Ready")).toMatchObject({
          reason: "ChartPullSucceeded",
          message: `pulled '${charts.chart.name}' chart with version '${charts.chart.version}'`
        })
        expect(packaged["status"]).toMatchObject({ artifact: { revision: charts.chart.version } })
        expect(charts.requests()).toContain(`/${charts.chart.name}-${charts.chart.version}.tgz`)

        // Before helm-controller reports, the instance waits on the release.
        const pending = yield* aiReady("Unknown")
        expect(pending.reason).toBe("Reconciling")
        yield* writeHelmReleaseInstalled(yield* api.get(Resources.HelmRelease, "app", namespace), charts.chart)
        const ready = yield* aiReady("True")
        expect(ready).toMatchObject({ reason: "HelmReleaseReady" })
        expect(ready.message).toContain(`with chart ${charts.chart.name}@${charts.chart.version}`)
      })
    )
  })
})
