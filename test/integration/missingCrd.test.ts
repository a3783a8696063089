/**
 * A cluster without Flux, as a new user tries it: on a private cluster (the shared one keeps its
 * CRDs for the other test files), the HelmRelease and source CRDs are absent, installed later,
 * removed and installed again. The operator never restarts.
 */
import { expect, layer } from "@effect/vitest"
import { Context, Duration, Effect, Layer } from "effect"
import { findCondition } from "../../src/api/conditions.js"
import type { Condition } from "../../src/api/meta.js"
import {
  type CrdDoc,
  allCrds,
  applyCrds,
  scopedCluster,
  targetFromKubeconfig,
  uniqueName
} from "../../src/devcluster/index.js"
import { KubeApi } from "../../src/kube/KubeApi.js"
import { KubeApiLive } from "../../src/kube/KubeApiLive.js"
import type { KubeObject } from "../../src/kube/object.js"
import { Resources } from "../../src/kube/resources.js"
import { Fleet, createNamespace, proxyTo, startProxiedOperator, waitConverged } from "../support/faultCluster.js"
import { waitFor } from "../support/wait.js"

class Bare extends Context.Tag("test/BareCluster")<
  Bare,
  { readonly kubeconfigPath: string; readonly flux: ReadonlyArray<CrdDoc> }
>() {}

const fluxGroups = ["source.toolkit.fluxcd.io", "helm.toolkit.fluxcd.io"]

/** A private cluster with the project's CRDs only; the Flux CRDs are handed to the test. */
const bareCluster = Layer.scoped(
  Bare,
  Effect.gen(function* () {
    const started = yield* scopedCluster()
    const target = yield* targetFromKubeconfig(started.kubeconfigPath)
    const crds = yield* allCrds()
    const own = crds.filter((c) => c.name.endsWith(".apps.vworkspace.io") || c.name.endsWith(".ops.vworkspace.io"))
    yield* applyCrds(target, own)
    const flux = crds.filter((c) => fluxGroups.some((g) => c.name.endsWith(`.${g}`)))
    return { kubeconfigPath: started.kubeconfigPath, flux }
  })
)

const testLayer = Layer.provideMerge(
  Layer.unwrapEffect(Effect.map(Bare, (c) => KubeApiLive.fromKubeconfigFile(c.kubeconfigPath))),
  bareCluster
)

const conditionsOf = (o: KubeObject): ReadonlyArray<Condition> =>
  (o["status"] as { conditions?: ReadonlyArray<Condition> } | undefined)?.conditions ?? []

const blockedBy = (namespace: string, name: string, reason: string) =>
  Effect.flatMap(KubeApi, (api) =>
    waitFor(
      `${name} Blocked=True/${reason}`,
      api.get(Resources.ApplicationInstance, name, namespace).pipe(
        Effect.map((o) => {
          const blocked = findCondition(conditionsOf(o), "Blocked")
          return blocked?.status === "True" && blocked.reason === reason ? blocked : undefined
        })
      )
    )
  )

const readyz = (port: number) =>
  Effect.tryPromise(async () => {
    const response = await fetch(`http://127.0.0.1:${port}/readyz`)
    return { status: response.status, body: await response.text() }
  })

const crdGone = (name: string) =>
  Effect.flatMap(KubeApi, (api) =>
    waitFor(
      `CRD ${name} to be gone`,
      api.get(Resources.CustomResourceDefinition, name).pipe(
        Effect.as(undefined),
        Effect.catchTag("NotFound", () => Effect.succeed(true))
      ),
      { timeout: Duration.seconds(60) }
    )
  )

layer(testLayer, { timeout: "240 seconds", excludeTestServices: true })("a cluster without Flux", (it) => {
  it.scoped(
    "instances are Blocked/MissingDependencies naming the CRDs, /readyz names them, and everything converges once Flux is installed (and again after it is removed and reinstalled)",
    () =>
      Effect.gen(function* () {
        const bare = yield* Bare
        const api = yield* KubeApi
        const ns = yield* createNamespace(uniqueName("no-flux"))
        const proxy = yield* proxyTo(bare.kubeconfigPath)
        const operator = yield* startProxiedOperator({
          kubeconfigPath: bare.kubeconfigPath,
          proxyPort: proxy.port,
          namespace: ns,
          informer: { backoff: { initial: Duration.millis(200), max: Duration.seconds(2) } }
        })
        const fleet = new Fleet(ns)
        yield* fleet.createMany("app", 2)

        const blocked = yield* blockedBy(ns, "app-0", "MissingDependencies")
        expect(blocked.message).toContain("CRD helmreleases.helm.toolkit.fluxcd.io")
        expect(blocked.message).toContain("Install Flux helm-controller and source-controller")
        const ready = findCondition(conditionsOf(yield* api.get(Resources.ApplicationInstance, "app-0", ns)), "Ready")
        expect(ready).toMatchObject({ status: "False", reason: "MissingDependencies" })

        const probe = yield* readyz(operator.manager.health.port)
        expect(probe.status).toBe(503)
        expect(probe.body).toContain(
          "[-]cache-sync/helmreleases.helm.toolkit.fluxcd.io failed: the API server does not serve HelmRelease (helm.toolkit.fluxcd.io/v2)"
        )
        expect(probe.body).toContain("[+]cache-sync/applicationinstances.apps.vworkspace.io ok")
        // The log says it in words; no HTTP status codes.
        expect(operator.warnings.some((w) => w.includes("does not serve HelmRelease"))).toBe(true)
        expect(operator.warnings.filter((w) => w.includes("404"))).toEqual([])

        // Flux is installed: the informers start and the blocked instances converge by themselves.
        const target = yield* targetFromKubeconfig(bare.kubeconfigPath)
        yield* applyCrds(target, bare.flux)
        yield* waitConverged(fleet, { operators: [operator], timeout: Duration.seconds(60) })
        // Readiness follows once every Flux informer has listed (each looks again on its own backoff,
        // so the instances may converge before the last of them has).
        yield* waitFor(
          "/readyz to pass",
          Effect.map(readyz(operator.manager.health.port), (r) => (r.status === 200 ? r : undefined)),
          { timeout: Duration.seconds(30) }
        )
        const unblocked = findCondition(conditionsOf(yield* api.get(Resources.ApplicationInstance, "app-1", ns)), "Blocked")
        expect(unblocked).toMatchObject({ status: "False", reason: "Unblocked" })

        // Removed (its HelmReleases go with it) and installed again: blocked, then converged again.
        yield* api.delete(Resources.CustomResourceDefinition, "helmreleases.helm.toolkit.fluxcd.io")
        yield* crdGone("helmreleases.helm.toolkit.fluxcd.io")
        yield* blockedBy(ns, "app-1", "MissingDependencies")
        const helmRelease = bare.flux.filter((c) => c.name === "helmreleases.helm.toolkit.fluxcd.io")
        expect(helmRelease).toHaveLength(1)
        yield* applyCrds(target, helmRelease)
        yield* waitConverged(fleet, { operators: [operator], timeout: Duration.seconds(60) })
      }),
    200_000
  )
})
