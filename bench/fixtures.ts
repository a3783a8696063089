/**
 * What the benchmarks put into the cluster: gated namespaces and managed, helm-source
 * ApplicationInstances, created through the API with bounded concurrency, and the counts that
 * tell whether the operator has converged them.
 */
import { Duration, Effect, Scope } from "effect"
import { type ApiTarget, createNamespace, deleteNamespace, uniqueName } from "../src/devcluster/index.js"
import { Finalizers } from "../src/api/wellKnown.js"
import { type KubeApiService } from "../src/kube/KubeApi.js"
import type { KubeObject, ResourceType } from "../src/kube/object.js"
import { Resources } from "../src/kube/resources.js"
import { withKubeRetry } from "../src/kube/retry.js"
import { BenchError } from "./probe.js"

export const gateLabels = { "managed-by": "vworkspace" } as const

const kubeFailure = (what: string) => (e: { readonly _tag: string; readonly message: string }) =>
  new BenchError({ message: `${what}: ${e._tag}: ${e.message}` })

/**
 * A gated namespace for the lifetime of `scope` (the run's: benchmarks share converged namespaces),
 * deleted at the end; that matters on a shared cluster.
 */
export const gatedNamespace = (target: ApiTarget, scope: Scope.Scope, prefix: string): Effect.Effect<string, BenchError> =>
  Scope.extend(
    Effect.acquireRelease(
      Effect.sync(() => uniqueName(prefix)).pipe(
        Effect.tap((name) => createNamespace(target, name, gateLabels)),
        Effect.mapError((e) => new BenchError({ message: `create namespace: ${e.message}` }))
      ),
      (name) => Effect.ignore(deleteNamespace(target, name))
    ),
    scope
  )

export const aiName = (i: number): string => `app-${String(i).padStart(5, "0")}`

/** A managed instance with a helm chart source and inline values, like the control plane writes. */
export const managedHelmInstance = (namespace: string, name: string): KubeObject => ({
  apiVersion: "apps.vworkspace.io/v1alpha1",
  kind: "ApplicationInstance",
  metadata: { name, namespace, labels: { "app.vworkspace.io/managed-by": "control-plane" } },
  spec: {
    appRef: { catalogId: "nextcloud" },
    mode: "managed",
    chart: { sourceType: "helm", url: "https://charts.example.test/stable", name: "nextcloud", version: "6.6.0" },
    release: { name: `${name}-rel`, namespace },
    values: { source: "inline", inline: { replicaCount: 1, ingress: { className: "nginx", host: `${name}.example.test` } } }
  }
})

/**
 * Creates instances `from`..`to-1` in `namespace`, `concurrency` at a time; returns them as stored.
 * `withFinalizer` creates them carrying the operator's finalizer, as if it had added it already.
 */
export const createInstances = (
  api: KubeApiService,
  namespace: string,
  from: number,
  to: number,
  concurrency: number,
  options: { readonly withFinalizer?: boolean } = {}
): Effect.Effect<ReadonlyArray<KubeObject>, BenchError> =>
  Effect.forEach(
    Array.from({ length: Math.max(0, to - from) }, (_, i) => from + i),
    (i) => {
      const object = managedHelmInstance(namespace, aiName(i))
      const body = options.withFinalizer
        ? { ...object, metadata: { ...object.metadata, finalizers: [Finalizers.applicationInstance] } }
        : object
      return withKubeRetry(api.create(Resources.ApplicationInstance, body)).pipe(
        Effect.mapError(kubeFailure(`create ApplicationInstance ${namespace}/${aiName(i)}`))
      )
    },
    { concurrency }
  )

/** Every object of `type` in `namespace`, listed in pages. */
export const listAll = (
  api: KubeApiService,
  type: ResourceType,
  namespace: string
): Effect.Effect<ReadonlyArray<KubeObject>, BenchError> =>
  Effect.gen(function* () {
    const items: Array<KubeObject> = []
    let cont: string | undefined
    // Bounded: 1,000 pages of 500 is far beyond any size the benchmarks create.
    for (let page = 0; page < 1000; page++) {
      const result = yield* withKubeRetry(
        api.list(type, { namespace, limit: 500, ...(cont === undefined ? {} : { continue: cont }) })
      ).pipe(Effect.mapError(kubeFailure(`list ${type.kind} in ${namespace}`)))
      items.push(...result.items)
      cont = result.continue
      if (cont === undefined) return items
    }
    return yield* new BenchError({ message: `list ${type.kind} in ${namespace}: more than 1000 pages` })
  })

interface StatusShape {
  readonly helmReleaseRef?: { readonly name?: string }
  readonly conditions?: ReadonlyArray<{ readonly type?: string; readonly status?: string; readonly reason?: string }>
}

export interface Convergence {
  readonly instances: number
  /** Instances whose status names their HelmRelease and carries a Ready condition. */
  readonly withStatus: number
  /** Ready reasons seen, with counts (`Reconciling: 1000`). */
  readonly readyReasons: Readonly<Record<string, number>>
  readonly helmReleases: number
  readonly helmRepositories: number
}

/** What the operator has materialised in `namespace`, read from the API server. */
export const convergence = (api: KubeApiService, namespace: string): Effect.Effect<Convergence, BenchError> =>
  Effect.gen(function* () {
    const [instances, releases, repositories] = yield* Effect.all(
      [
        listAll(api, Resources.ApplicationInstance, namespace),
        listAll(api, Resources.HelmRelease, namespace),
        listAll(api, Resources.HelmRepository, namespace)
      ],
      { concurrency: 1 }
    )
    const readyReasons: Record<string, number> = {}
    let withStatus = 0
    for (const ai of instances) {
      const status = ai["status"] as StatusShape | undefined
      const ready = status?.conditions?.find((c) => c.type === "Ready")
      if (status?.helmReleaseRef?.name !== undefined && ready !== undefined) withStatus++
      const reason = ready === undefined ? "(none)" : `${ready.status ?? "?"}/${ready.reason ?? "?"}`
      readyReasons[reason] = (readyReasons[reason] ?? 0) + 1
    }
    return {
      instances: instances.length,
      withStatus,
      readyReasons,
      helmReleases: releases.length,
      helmRepositories: repositories.length
    }
  })

export const isConverged = (c: Convergence, count: number): boolean =>
  c.instances === count && c.withStatus === count && c.helmReleases === count && c.helmRepositories === count

export const describeConvergence = (c: Convergence): string =>
  `${c.withStatus}/${c.instances} instances with status (Ready ${Object.entries(c.readyReasons)
    .map(([r, n]) => `${r}: ${n}`)
    .join(", ")}), ${c.helmReleases} HelmReleases, ${c.helmRepositories} HelmRepositories`

/** Upper bound for any single wait on the operator, so a stuck run ends by itself. */
export const maxWait = Duration.minutes(10)
