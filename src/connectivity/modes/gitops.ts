/**
 * GitOps: the control plane commits manifests under `clusters/<cluster-id>/`; Flux applies them.
 * The operator keeps a `GitRepository` and a `Kustomization` for that path in place (server-side
 * apply, restored when someone changes or deletes them), and reports the applied revision and the
 * Kustomization's health in `Cluster.status.gitops` (and, with an events endpoint, as a
 * `ConditionTransition` of the Kustomization).
 */
import { Data, DateTime, Duration, Effect, Option, Schema, Stream, SubscriptionRef } from "effect"
import { Kustomization } from "../../api/thirdParty/flux.js"
import type { ConditionStatus } from "../../api/meta.js"
import { Labels, ManagedBy } from "../../api/wellKnown.js"
import type { GitOpsSettings } from "../../config.js"
import { type Informer, makeInformer, namedOnly } from "../../kube/informer.js"
import { KubeApi } from "../../kube/KubeApi.js"
import type { KubeObject, ResourceType } from "../../kube/object.js"
import { Resources } from "../../kube/resources.js"
import { applyIfChanged } from "../../reconcilers/writes.js"
import { eventsOf } from "../../runtime/sources.js"
import type { StatusSinkService } from "../statusSink.js"
import type { IntentReport, IntentSourceService } from "./intentSource.js"

/** Both Flux objects have this name, in `GitOpsSettings.namespace`. */
export const gitOpsObjectName = "vworkspace-cluster"

export class GitOpsNeedsClusterId extends Data.TaggedError("GitOpsNeedsClusterId")<{ readonly message: string }> {}

/** A Go duration (`1m0s`), as Flux writes and expects it. */
const goDuration = (d: Duration.Duration): string => {
  const total = Math.max(1, Math.round(Duration.toSeconds(d)))
  const h = Math.floor(total / 3600)
  const m = Math.floor((total % 3600) / 60)
  const s = total % 60
  return h > 0 ? `${h}h${m}m${s}s` : `${m}m${s}s`
}

export const clusterPath = (clusterId: string) => `./clusters/${clusterId}`

export const desiredGitOpsObjects = (settings: GitOpsSettings, clusterId: string) => {
  const metadata = {
    name: gitOpsObjectName,
    namespace: settings.namespace,
    labels: { [Labels.managedBy]: ManagedBy.operator, [Labels.clusterId]: clusterId }
  }
  const gitRepository: KubeObject = {
    apiVersion: "source.toolkit.fluxcd.io/v1",
    kind: "GitRepository",
    metadata,
    spec: {
      url: settings.url,
      interval: goDuration(settings.interval),
      ref: { branch: settings.branch },
      ...Option.match(settings.secretRef, { onNone: () => ({}), onSome: (name) => ({ secretRef: { name } }) })
    }
  }
  const kustomization: KubeObject = {
    apiVersion: "kustomize.toolkit.fluxcd.io/v1",
    kind: "Kustomization",
    metadata,
    spec: {
      interval: goDuration(settings.interval),
      path: clusterPath(clusterId),
      prune: true,
      sourceRef: { kind: "GitRepository", name: gitOpsObjectName }
    }
  }
  return { gitRepository, kustomization }
}

const decodeKustomization = Schema.decodeUnknownOption(Kustomization)

const asStatus = (s: string): ConditionStatus => (s === "True" || s === "False" ? s : "Unknown")

/** What `Cluster.status.gitops` says about the Kustomization as it stands. */
export const gitOpsReport = (settings: GitOpsSettings, clusterId: string, observed: Option.Option<KubeObject>): IntentReport => {
  const k = Option.flatMap(observed, decodeKustomization)
  const status = Option.getOrUndefined(k)?.status
  const ready = status?.conditions?.find((c) => c.type === "Ready")
  const current = ready !== undefined && status?.observedGeneration === Option.getOrUndefined(k)?.metadata.generation
  return {
    healthy: current && ready?.status === "True",
    fields: {
      gitops: {
        url: settings.url,
        branch: settings.branch,
        path: clusterPath(clusterId),
        ...(status?.lastAppliedRevision ? { lastAppliedRevision: status.lastAppliedRevision } : {}),
        ...(status?.lastAttemptedRevision ? { lastAttemptedRevision: status.lastAttemptedRevision } : {}),
        ready: current ? asStatus(ready.status) : "Unknown",
        reason: current ? (ready.reason ?? "") : "Progressing",
        message: current ? (ready.message ?? "") : "waiting for kustomize-controller to reconcile the Kustomization"
      }
    }
  }
}

/** A change of the Kustomization's Ready condition as an outbound event. */
const readyTransition = (o: KubeObject, at: Date) =>
  Option.flatMap(decodeKustomization(o), (k) => {
    const ready = k.status?.conditions?.find((c) => c.type === "Ready")
    if (ready === undefined) return Option.none()
    const key = `${ready.status}/${ready.reason}/${k.status?.lastAppliedRevision ?? ""}`
    return Option.some({
      key,
      event: {
        eventKey: `Kustomization/${k.metadata.namespace ?? ""}/${k.metadata.name ?? ""}/Ready/${key}/${ready.lastTransitionTime ?? ""}`,
        kind: "ConditionTransition",
        resourceRef: {
          apiVersion: k.apiVersion,
          kind: k.kind,
          namespace: k.metadata.namespace ?? "",
          name: k.metadata.name ?? "",
          ...(k.metadata.uid ? { uid: k.metadata.uid } : {}),
          ...(k.metadata.generation !== undefined ? { generation: k.metadata.generation } : {})
        },
        conditions: [
          {
            type: "Ready",
            status: asStatus(ready.status),
            lastTransitionTime: ready.lastTransitionTime ?? null,
            reason: ready.reason ?? "",
            message: ready.message ?? ""
          }
        ],
        timestamp: at.toISOString()
      }
    })
  })

const named = (type: ResourceType, settings: GitOpsSettings) =>
  makeInformer(type, { namespace: settings.namespace, ...namedOnly(gitOpsObjectName) })

export const gitOpsIntentSource = (
  settings: GitOpsSettings,
  clusterId: string | undefined,
  reportsEvents: boolean,
  sink: StatusSinkService
) =>
  Effect.gen(function* () {
    if (clusterId === undefined || clusterId === "") {
      return yield* new GitOpsNeedsClusterId({
        message: "gitops mode needs the cluster id (--cluster-id / VWORKSPACE_CLUSTER_ID): Flux applies ./clusters/<cluster-id>"
      })
    }
    const api = yield* KubeApi
    const desired = desiredGitOpsObjects(settings, clusterId)
    const observed = yield* SubscriptionRef.make(Option.none<KubeObject>())

    const ensure = (informer: Informer, object: KubeObject) =>
      Effect.flatMap(informer.cache.get(`${settings.namespace}/${gitOpsObjectName}`), (current) =>
        applyIfChanged(informer.resource, object, current)
      ).pipe(
        Effect.provideService(KubeApi, api),
        Effect.catchAll((e) =>
          Effect.logWarning(`could not keep ${informer.resource.kind} ${settings.namespace}/${gitOpsObjectName} in place`).pipe(
            Effect.annotateLogs("error", `${e._tag}: ${e.message}`)
          )
        )
      )

    const run = Effect.gen(function* () {
      const repositories = yield* named(Resources.GitRepository, settings)
      const kustomizations = yield* named(Resources.Kustomization, settings)
      yield* Effect.all([repositories.synced, kustomizations.synced])
      yield* ensure(repositories, desired.gitRepository)
      yield* ensure(kustomizations, desired.kustomization)
      let lastTransition = ""
      const onKustomization = Stream.runForEach(eventsOf(kustomizations), (e) =>
        Effect.gen(function* () {
          const current = e.type === "deleted" ? Option.none<KubeObject>() : Option.some(e.object)
          yield* SubscriptionRef.set(observed, current)
          if (Option.isSome(current)) {
            const now = new Date(DateTime.toEpochMillis(yield* DateTime.now))
            const transition = readyTransition(current.value, now)
            if (Option.isSome(transition) && transition.value.key !== lastTransition) {
              lastTransition = transition.value.key
              yield* sink.publish([transition.value.event])
            }
          }
          yield* ensure(kustomizations, desired.kustomization)
        })
      )
      const onRepository = Stream.runForEach(eventsOf(repositories), () => ensure(repositories, desired.gitRepository))
      yield* Effect.all([onKustomization, onRepository], { concurrency: "unbounded", discard: true })
    }).pipe(Effect.provideService(KubeApi, api), Effect.scoped, Effect.annotateLogs({ component: "gitops" }))

    return {
      mode: "gitops",
      usesControlPlane: reportsEvents,
      run,
      report: Effect.map(SubscriptionRef.get(observed), (o) => gitOpsReport(settings, clusterId, o)),
      changes: Stream.map(Stream.drop(observed.changes, 1), () => undefined)
    } satisfies IntentSourceService
  })
