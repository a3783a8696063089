/**
 * GitOps mode against the real API server, the test playing source-controller and
 * kustomize-controller (test/support/flux.ts): the operator creates the GitRepository and the
 * Kustomization for `./clusters/<cluster-id>`, puts them back when they are changed or deleted,
 * reflects the Kustomization's in-between and final states in `Cluster.status.gitops`, and, with
 * no control-plane endpoint configured, never raises Disconnected (nor any control-plane condition).
 */
import { expect, layer } from "@effect/vitest"
import { Duration, Effect, Option, Schema } from "effect"
import { Cluster } from "../../src/api/cluster.js"
import { defaultConnectivityConfig } from "../../src/config.js"
import { gitOpsObjectName } from "../../src/connectivity/modes/gitops.js"
import { KubeApi } from "../../src/kube/KubeApi.js"
import type { KubeObject } from "../../src/kube/object.js"
import { Resources } from "../../src/kube/resources.js"
import { createTestNamespace } from "../support/cluster.js"
import { kustomizeControllerSteps, sourceControllerSteps, writeFluxObjectStatus } from "../support/flux.js"
import { kubeLayer, startTestOperator } from "../support/operator.js"
import { waitFor } from "../support/wait.js"

const decodeCluster = Schema.decodeUnknownSync(Cluster)
const within = { timeout: Duration.seconds(45), interval: Duration.millis(200) }

layer(kubeLayer(), { excludeTestServices: true })("GitOps mode", (it) => {
  it.scoped(
    "keeps GitRepository and Kustomization for ./clusters/<id>, reflects Flux status in Cluster status, no Disconnected without an endpoint",
    () =>
      Effect.gen(function* () {
        const api = yield* KubeApi
        const namespace = yield* createTestNamespace("gitops")
        const clusterId = `${namespace}-id`
        const settings = {
          url: "http://127.0.0.1:9/fleet.git",
          branch: "main",
          interval: Duration.minutes(1),
          secretRef: Option.some("git-read"),
          namespace
        }
        yield* startTestOperator({
          namespace,
          config: {
            clusterId,
            podNamespace: namespace,
            connectivity: { ...defaultConnectivityConfig, mode: "gitops", gitops: Option.some(settings), heartbeatInterval: Duration.seconds(1), disconnectWindow: Duration.seconds(2) }
          }
        })
        yield* Effect.acquireRelease(
          api.apply(Resources.Cluster, { apiVersion: "ops.vworkspace.io/v1alpha1", kind: "Cluster", metadata: { name: namespace }, spec: {} }, { fieldManager: "test-admin", force: true }),
          () =>
            Effect.gen(function* () {
              yield* Effect.ignore(api.patch(Resources.Cluster, namespace, undefined, "merge", { metadata: { finalizers: null } }))
              yield* Effect.ignore(api.delete(Resources.Cluster, namespace))
            })
        )
        const getOption = (type: typeof Resources.GitRepository) =>
          api.get(type, gitOpsObjectName, namespace).pipe(Effect.map(Option.some), Effect.catchTag("NotFound", () => Effect.succeed(Option.none<KubeObject>())))
        const path = `./clusters/${clusterId}`
        const kept = (type: typeof Resources.GitRepository, check: (o: KubeObject) => boolean) =>
          waitFor(`${type.kind} ${gitOpsObjectName} in place`, Effect.map(getOption(type), (o) => Option.getOrUndefined(Option.filter(o, check))), within)
        const specOf = (o: KubeObject) => o["spec"] as Record<string, unknown>

        // --- created ---------------------------------------------------------------------------
        const repository = yield* kept(Resources.GitRepository, () => true)
        expect(specOf(repository)).toMatchObject({ url: settings.url, interval: "1m0s", ref: { branch: "main" }, secretRef: { name: "git-read" } })
        expect(repository.metadata.labels).toMatchObject({ "app.vworkspace.io/cluster-id": clusterId })
        const kustomization = yield* kept(Resources.Kustomization, () => true)
        expect(specOf(kustomization)).toMatchObject({ path, prune: true, interval: "1m0s", sourceRef: { kind: "GitRepository", name: gitOpsObjectName } })

        // --- kept in place ---------------------------------------------------------------------
        yield* api.patch(Resources.Kustomization, gitOpsObjectName, namespace, "merge", { spec: { path: "./clusters/someone-else" } })
        yield* kept(Resources.Kustomization, (o) => specOf(o)["path"] === path)
        yield* api.delete(Resources.GitRepository, gitOpsObjectName, namespace)
        yield* kept(Resources.GitRepository, (o) => o.metadata.uid !== repository.metadata.uid)

        const clusterStatus = (what: string, check: (s: NonNullable<Cluster["status"]>) => boolean) =>
          waitFor(
            `Cluster status: ${what}`,
            Effect.map(api.get(Resources.Cluster, namespace), (o) => {
              const s = decodeCluster(o).status
              return s !== undefined && check(s) ? s : undefined
            }),
            within
          )
        const noControlPlaneConditions = (s: NonNullable<Cluster["status"]>) =>
          expect((s.conditions ?? []).filter((c) => ["Disconnected", "Connected", "Authenticated"].includes(c.type))).toEqual([])

        // Nothing reconciled by Flux yet: Pending, gitops Unknown.
        const waiting = yield* clusterStatus("waiting for Flux", (s) => s.connectivityMode === "gitops" && s.gitops?.ready === "Unknown")
        expect(waiting.phase).toBe("Pending")
        expect(waiting.gitops).toMatchObject({ url: settings.url, branch: "main", path, reason: "Progressing" })
        noControlPlaneConditions(waiting)

        // --- source-controller fetches revision 1 ------------------------------------------------
        const rev1 = "main@sha1:1f0c8d2a4b6e8f0a1c3e5a7b9d1f3a5c7e9b1d3f"
        const rev2 = "main@sha1:2a4c6e8a0b2d4f6a8c0e2a4c6e8a0b2d4f6a8c0e"
        const repo = yield* kept(Resources.GitRepository, () => true)
        const source = sourceControllerSteps(repo, rev1)
        yield* writeFluxObjectStatus(Resources.GitRepository, repo, "source-controller", source.reconciling)
        yield* writeFluxObjectStatus(Resources.GitRepository, repo, "source-controller", source.building)
        yield* writeFluxObjectStatus(Resources.GitRepository, repo, "source-controller", source.stored)

        // --- kustomize-controller applies revision 1: progressing, then succeeded ----------------
        const k = yield* kept(Resources.Kustomization, () => true)
        const first = kustomizeControllerSteps(k, undefined, rev1, "2026-11-26T10:00:10Z")
        yield* writeFluxObjectStatus(Resources.Kustomization, k, "kustomize-controller", first.progressing)
        const progressing = yield* clusterStatus("Kustomization progressing", (s) => s.gitops?.message === "waiting for kustomize-controller to reconcile the Kustomization" || s.gitops?.reason === "Progressing")
        expect(progressing.gitops?.ready).toBe("Unknown")
        expect(progressing.phase).toBe("Pending")
        yield* writeFluxObjectStatus(Resources.Kustomization, k, "kustomize-controller", first.succeeded)
        const applied = yield* clusterStatus("revision 1 applied", (s) => s.gitops?.lastAppliedRevision === rev1 && s.gitops.ready === "True")
        expect(applied.phase).toBe("Connected")
        expect(applied.gitops).toMatchObject({ reason: "ReconciliationSucceeded", message: `Applied revision: ${rev1}`, lastAttemptedRevision: rev1 })
        noControlPlaneConditions(applied)

        // --- revision 2 fails to build: the last applied revision stays ------------------------
        const second = kustomizeControllerSteps(k, rev1, rev2, "2026-11-26T10:01:10Z")
        yield* writeFluxObjectStatus(Resources.Kustomization, k, "kustomize-controller", second.progressing)
        yield* writeFluxObjectStatus(Resources.Kustomization, k, "kustomize-controller", second.failed(path))
        const failed = yield* clusterStatus("revision 2 failed", (s) => s.gitops?.ready === "False")
        expect(failed.gitops).toMatchObject({ lastAppliedRevision: rev1, lastAttemptedRevision: rev2, reason: "BuildFailed" })
        expect(failed.gitops?.message).toContain("kustomization path not found")
        expect(failed.phase).toBe("Pending")

        // Past the disconnect window (2 s; the reconciler looks every heartbeat, 1 s): still none.
        const windowEnds = Date.now() + 3000
        yield* waitFor("the disconnect window to pass", Effect.sync(() => (Date.now() > windowEnds ? true : undefined)), within)
        const later = yield* clusterStatus("still reported", (s) => s.gitops?.ready === "False")
        noControlPlaneConditions(later)
        expect(later.phase).not.toBe("Disconnected")
      }),
    180_000
  )
})
