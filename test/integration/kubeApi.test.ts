import { KubeConfig } from "@kubernetes/client-node"
import { describe, expect, layer } from "@effect/vitest"
import { Chunk, Duration, Effect, Either, Fiber, Schedule, Stream } from "effect"
import { KubeApi, type WatchEvent } from "../../src/kube/KubeApi.js"
import { KubeApiLive } from "../../src/kube/KubeApiLive.js"
import type { KubeObject, ResourceType } from "../../src/kube/object.js"
import { Resources } from "../../src/kube/resources.js"
import { withKubeRetry } from "../../src/kube/retry.js"
import { createTestNamespace, kubeconfigPath } from "../support/cluster.js"

const path = kubeconfigPath()
const Live = KubeApiLive.fromKubeconfigFile(path)

const configMap = (namespace: string, name: string, data: Record<string, string>, labels?: Record<string, string>): KubeObject => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { namespace, name, ...(labels === undefined ? {} : { labels }) },
  data
})

/** Retries `check` until it succeeds, for at most `within`; fails with its last error. */
const eventually = <A, E, R>(check: Effect.Effect<A, E, R>, within: Duration.DurationInput = Duration.seconds(20)) =>
  Effect.retry(check, Schedule.spaced(Duration.millis(100)).pipe(Schedule.upTo(within)))

/** A KubeConfig like the test one, changed by `edit` (another user, another server). */
const variantConfig = (edit: (raw: Record<string, unknown>) => Record<string, unknown>): KubeConfig => {
  const kc = new KubeConfig()
  kc.loadFromFile(path)
  const exported = JSON.parse(kc.exportConfig()) as Record<string, unknown>
  const changed = new KubeConfig()
  changed.loadFromString(JSON.stringify(edit(exported)))
  return changed
}

layer(Live, { excludeTestServices: true })("KubeApi against a real API server", (it) => {
  it.effect("reports the server version", () =>
    Effect.gen(function* () {
      const api = yield* KubeApi
      const v = yield* api.version
      expect(v.gitVersion).toMatch(/^v\d+\.\d+\.\d+/)
    }))

  describe("server-side apply", () => {
    it.scoped("creates, updates, and an identical apply changes nothing", () =>
      Effect.gen(function* () {
        const api = yield* KubeApi
        const ns = yield* createTestNamespace("ssa")
        const created = yield* api.apply(Resources.ConfigMap, configMap(ns, "cm", { a: "1" }), { fieldManager: "test-a" })
        expect(created.metadata.uid).toBeDefined()
        expect(created["data"]).toEqual({ a: "1" })

        const updated = yield* api.apply(Resources.ConfigMap, configMap(ns, "cm", { a: "2" }), { fieldManager: "test-a" })
        expect(updated.metadata.uid).toBe(created.metadata.uid)
        expect(updated["data"]).toEqual({ a: "2" })
        expect(updated.metadata.resourceVersion).not.toBe(created.metadata.resourceVersion)

        const again = yield* api.apply(Resources.ConfigMap, configMap(ns, "cm", { a: "2" }), { fieldManager: "test-a" })
        expect(again.metadata.resourceVersion).toBe(updated.metadata.resourceVersion)
        const fetched = yield* api.get(Resources.ConfigMap, "cm", ns)
        expect(fetched.metadata.resourceVersion).toBe(updated.metadata.resourceVersion)
        expect(fetched.apiVersion).toBe("v1")
        expect(fetched.kind).toBe("ConfigMap")
      }))

    it.scoped("a field owned by another manager is a Conflict unless forced", () =>
      Effect.gen(function* () {
        const api = yield* KubeApi
        const ns = yield* createTestNamespace("ssa-conflict")
        yield* api.apply(Resources.ConfigMap, configMap(ns, "cm", { owned: "by-a" }), { fieldManager: "manager-a" })
        const err = yield* Effect.flip(
          api.apply(Resources.ConfigMap, configMap(ns, "cm", { owned: "by-b" }), { fieldManager: "manager-b", force: false })
        )
        expect(err._tag).toBe("Conflict")
        expect(err.message).toContain("manager-a")
        expect(err.message).toContain(".data.owned")

        const forced = yield* api.apply(Resources.ConfigMap, configMap(ns, "cm", { owned: "by-b" }), {
          fieldManager: "manager-b",
          force: true
        })
        expect(forced["data"]).toEqual({ owned: "by-b" })
      }))

    it.scoped("applyStatus writes the /status subresource only", () =>
      Effect.gen(function* () {
        const api = yield* KubeApi
        const ns = yield* createTestNamespace("status")
        const condition = {
          type: "VworkspaceTest",
          status: "True",
          reason: "Testing",
          message: "set through /status",
          lastTransitionTime: "2024-01-01T00:00:00Z"
        }
        const namespace = (extra: Record<string, unknown>): KubeObject => ({
          apiVersion: "v1",
          kind: "Namespace",
          metadata: { name: ns },
          ...extra
        })
        // The main resource ignores status...
        const viaMain = yield* api.apply(Resources.Namespace, namespace({ status: { conditions: [condition] } }), {
          fieldManager: "status-writer"
        })
        expect(JSON.stringify(viaMain["status"] ?? {})).not.toContain("VworkspaceTest")
        // ...and /status ignores spec.
        const viaStatus = yield* api.applyStatus(
          Resources.Namespace,
          namespace({ spec: { finalizers: ["kubernetes", "test.vworkspace.io/never"] }, status: { conditions: [condition] } }),
          { fieldManager: "status-writer", force: true }
        )
        expect(viaStatus["status"]).toMatchObject({ conditions: [condition] })
        expect(viaStatus["spec"]).toEqual({ finalizers: ["kubernetes"] })
      }))
  })

  describe("preconditions and typed errors", () => {
    it.scoped("a stale resourceVersion is a Conflict, for delete preconditions and for merge patches", () =>
      Effect.gen(function* () {
        const api = yield* KubeApi
        const ns = yield* createTestNamespace("stale")
        const v1 = yield* api.create(Resources.ConfigMap, configMap(ns, "cm", { a: "1" }))
        const v2 = yield* api.patch(Resources.ConfigMap, "cm", ns, "merge", { data: { a: "2" } })
        expect(v2["data"]).toEqual({ a: "2" })

        const staleDelete = yield* Effect.flip(
          api.delete(Resources.ConfigMap, "cm", ns, { preconditions: { resourceVersion: v1.metadata.resourceVersion ?? "" } })
        )
        expect(staleDelete._tag).toBe("Conflict")

        const stalePatch = yield* Effect.flip(
          api.patch(Resources.ConfigMap, "cm", ns, "merge", {
            metadata: { resourceVersion: v1.metadata.resourceVersion },
            data: { a: "3" }
          })
        )
        expect(stalePatch._tag).toBe("Conflict")
        expect((yield* api.get(Resources.ConfigMap, "cm", ns))["data"]).toEqual({ a: "2" })

        // With the current version both go through.
        yield* api.delete(Resources.ConfigMap, "cm", ns, {
          preconditions: { uid: v2.metadata.uid ?? "", resourceVersion: v2.metadata.resourceVersion ?? "" },
          propagationPolicy: "Background"
        })
        const gone = yield* Effect.flip(api.get(Resources.ConfigMap, "cm", ns))
        expect(gone._tag).toBe("NotFound")
      }))

    it.scoped("json and strategic patches", () =>
      Effect.gen(function* () {
        const api = yield* KubeApi
        const ns = yield* createTestNamespace("patch")
        yield* api.create(Resources.ConfigMap, configMap(ns, "cm", { a: "1" }))
        const jsonPatched = yield* api.patch(Resources.ConfigMap, "cm", ns, "json", [
          { op: "add", path: "/data/b", value: "2" }
        ])
        expect(jsonPatched["data"]).toEqual({ a: "1", b: "2" })
        const strategic = yield* api.patch(Resources.ConfigMap, "cm", ns, "strategic", { data: { c: "3" } }, {
          fieldManager: "patcher"
        })
        expect(strategic["data"]).toEqual({ a: "1", b: "2", c: "3" })
      }))

    it.scoped("creating twice is AlreadyExists; a missing object is NotFound", () =>
      Effect.gen(function* () {
        const api = yield* KubeApi
        const ns = yield* createTestNamespace("exists")
        yield* api.create(Resources.ConfigMap, configMap(ns, "cm", {}))
        const again = yield* Effect.flip(api.create(Resources.ConfigMap, configMap(ns, "cm", {})))
        expect(again._tag).toBe("AlreadyExists")
        expect(again.message).toContain("cm")
        const missing = yield* Effect.flip(api.get(Resources.ConfigMap, "nope", ns))
        expect(missing._tag).toBe("NotFound")
      }))

    it.effect("an unknown kind is NotFound", () =>
      Effect.gen(function* () {
        const api = yield* KubeApi
        const unknown: ResourceType = { group: "nothing.vworkspace.io", version: "v1", kind: "Nothing", plural: "nothings", namespaced: true }
        expect((yield* Effect.flip(api.list(unknown, { namespace: "default" })))._tag).toBe("NotFound")
        expect((yield* Effect.flip(api.get(unknown, "x", "default")))._tag).toBe("NotFound")
      }))

    it.scoped("Invalid carries the causes, naming the field", () =>
      Effect.gen(function* () {
        const api = yield* KubeApi
        const ns = yield* createTestNamespace("invalid")
        const badName = yield* Effect.flip(api.create(Resources.ConfigMap, configMap(ns, "Bad_Name", {})))
        expect(badName._tag).toBe("Invalid")
        if (badName._tag !== "Invalid") return
        expect(badName.causes.map((c) => c.field)).toContain("metadata.name")
        expect(badName.message).toContain("metadata.name")

        const badLabel = yield* Effect.flip(
          api.apply(Resources.ConfigMap, configMap(ns, "cm", {}, { tier: "x".repeat(64) }), { fieldManager: "t" })
        )
        expect(badLabel._tag).toBe("Invalid")
        if (badLabel._tag !== "Invalid") return
        expect(badLabel.causes.some((c) => c.field === "metadata.labels")).toBe(true)
        expect(badLabel.causes.some((c) => c.message.includes("63"))).toBe(true)
      }))

    it.effect("an invalid token is Unauthorized; a user without RBAC grants is Forbidden", () =>
      Effect.gen(function* () {
        const badToken = variantConfig((raw) => ({
          ...raw,
          users: [{ name: "bad", user: { token: "not-a-valid-token" } }],
          contexts: [{ name: "bad", context: { cluster: currentClusterName(raw), user: "bad" } }],
          "current-context": "bad"
        }))
        const unauthorized = yield* Effect.flip(
          Effect.flatMap(KubeApi, (api) => api.list(Resources.Namespace)).pipe(
            Effect.provide(KubeApiLive.layer(badToken))
          )
        )
        expect(unauthorized._tag).toBe("Unauthorized")

        // Impersonation by the admin user: a user nobody granted anything.
        const nobody = variantConfig((raw) => ({
          ...raw,
          users: (raw["users"] as ReadonlyArray<{ name: string; user: Record<string, unknown> }>).map((u) => ({
            ...u,
            user: { ...u.user, as: "vworkspace-test-nobody" }
          }))
        }))
        const forbidden = yield* Effect.flip(
          Effect.flatMap(KubeApi, (api) => api.list(Resources.Namespace)).pipe(Effect.provide(KubeApiLive.layer(nobody)))
        )
        expect(forbidden._tag).toBe("Forbidden")
        expect(forbidden.message).toContain("vworkspace-test-nobody")
      }))

    it.effect("a refused connection is Transport; a slow answer is Timeout", () =>
      Effect.gen(function* () {
        const refused = variantConfig((raw) => ({
          ...raw,
          clusters: (raw["clusters"] as ReadonlyArray<{ name: string; cluster: Record<string, unknown> }>).map((c) => ({
            ...c,
            cluster: { ...c.cluster, server: "https://127.0.0.1:1" }
          }))
        }))
        const transport = yield* Effect.flip(
          Effect.flatMap(KubeApi, (api) => api.version).pipe(Effect.provide(KubeApiLive.layer(refused)))
        )
        expect(transport._tag).toBe("Transport")

        // A list at a resourceVersion far in the future makes the server wait ~3 s for it.
        const slow = yield* Effect.flip(
          Effect.flatMap(KubeApi, (api) => api.list(Resources.ConfigMap, { namespace: "default", resourceVersion: "999999999" })).pipe(
            Effect.provide(KubeApiLive.fromKubeconfigFile(path, { requestTimeout: Duration.millis(300) }))
          )
        )
        expect(slow._tag).toBe("Timeout")
      }))
  })

  describe("list", () => {
    it.scoped("pages with limit and continue; items get apiVersion and kind", () =>
      Effect.gen(function* () {
        const api = yield* KubeApi
        const ns = yield* createTestNamespace("paging")
        yield* Effect.forEach([1, 2, 3, 4, 5], (i) => api.create(Resources.ConfigMap, configMap(ns, `cm-${i}`, {}, { page: "yes" })))
        const first = yield* api.list(Resources.ConfigMap, { namespace: ns, labelSelector: "page=yes", limit: 2 })
        expect(first.items).toHaveLength(2)
        expect(first.continue).toBeDefined()
        const names = [...first.items.map((o) => o.metadata.name)]
        let cont = first.continue
        while (cont !== undefined) {
          const page = yield* api.list(Resources.ConfigMap, { namespace: ns, labelSelector: "page=yes", limit: 2, continue: cont })
          expect(page.resourceVersion).toBe(first.resourceVersion)
          names.push(...page.items.map((o) => o.metadata.name))
          cont = page.continue
        }
        expect(names.sort()).toEqual(["cm-1", "cm-2", "cm-3", "cm-4", "cm-5"])
        expect(first.items.every((o) => o.apiVersion === "v1" && o.kind === "ConfigMap")).toBe(true)
      }))
  })

  describe("watch", () => {
    it.scoped("receives ADDED, MODIFIED and DELETED, starting from a list's resourceVersion", () =>
      Effect.gen(function* () {
        const api = yield* KubeApi
        const ns = yield* createTestNamespace("watch")
        const listed = yield* api.list(Resources.ConfigMap, { namespace: ns })
        const watcher = yield* api
          .watch(Resources.ConfigMap, { namespace: ns, resourceVersion: listed.resourceVersion, timeoutSeconds: 60 })
          .pipe(
            Stream.filter((e) => e.object.metadata.name === "watched"),
            Stream.takeUntil((e) => e.type === "DELETED"),
            Stream.runCollect,
            Effect.timeout(Duration.seconds(30)),
            Effect.fork
          )
        yield* api.create(Resources.ConfigMap, configMap(ns, "watched", { v: "1" }))
        yield* api.patch(Resources.ConfigMap, "watched", ns, "merge", { data: { v: "2" } })
        yield* api.delete(Resources.ConfigMap, "watched", ns)
        const events = Chunk.toReadonlyArray(yield* Fiber.join(watcher))
        expect(events.map((e: WatchEvent) => e.type)).toEqual(["ADDED", "MODIFIED", "DELETED"])
        expect(events[1]?.object["data"]).toEqual({ v: "2" })
        expect(events[0]?.object.kind).toBe("ConfigMap")
      }))

    it.scoped("delivers bookmarks when asked, and ends when the server's timeout passes", () =>
      Effect.gen(function* () {
        const api = yield* KubeApi
        const ns = yield* createTestNamespace("watch-end")
        const listed = yield* api.list(Resources.ConfigMap, { namespace: ns })
        // The server ends the watch after timeoutSeconds; the stream then completes without error.
        const events = yield* api
          .watch(Resources.ConfigMap, {
            namespace: ns,
            resourceVersion: listed.resourceVersion,
            allowWatchBookmarks: true,
            timeoutSeconds: 2
          })
          .pipe(Stream.runCollect, Effect.timeout(Duration.seconds(30)))
        expect(Chunk.toReadonlyArray(events).every((e) => e.type === "BOOKMARK")).toBe(true)
      }))

    it.scoped("a silent watch fails with Timeout after idleTimeout", () =>
      Effect.gen(function* () {
        const api = yield* KubeApi
        const ns = yield* createTestNamespace("watch-idle")
        const listed = yield* api.list(Resources.ConfigMap, { namespace: ns })
        const result = yield* api
          .watch(Resources.ConfigMap, {
            namespace: ns,
            resourceVersion: listed.resourceVersion,
            timeoutSeconds: 120,
            idleTimeout: Duration.millis(500)
          })
          .pipe(Stream.runDrain, Effect.either, Effect.timeout(Duration.seconds(30)))
        expect(Either.isLeft(result) && result.left._tag).toBe("Timeout")
      }))

    it.scoped("resuming from an expired resourceVersion fails with Gone", () =>
      Effect.gen(function* () {
        const api = yield* KubeApi
        // A new kind's watch cache starts at the current revision, so version "1" is long expired.
        const widgets = yield* temporaryKind("gone")
        const ns = yield* createTestNamespace("gone")
        const result = yield* withKubeRetry(
          api.watch(widgets, { namespace: ns, resourceVersion: "1", timeoutSeconds: 10 }).pipe(Stream.runDrain)
        ).pipe(Effect.either)
        expect(Either.isLeft(result) && result.left._tag).toBe("Gone")
        expect(Either.isLeft(result) && result.left.message).toContain("too old resource version")
      }))
  })
})

const currentClusterName = (raw: Record<string, unknown>): string => {
  const contexts = raw["contexts"] as ReadonlyArray<{ name: string; context: { cluster: string } }>
  return contexts.find((c) => c.name === raw["current-context"])?.context.cluster ?? ""
}

/** A namespaced CRD with a unique group, removed with the scope; waits until it is served. */
const temporaryKind = (prefix: string) =>
  Effect.gen(function* () {
    const api = yield* KubeApi
    const group = `${prefix}${Date.now().toString(36)}.test.vworkspace.io`
    const type: ResourceType = { group, version: "v1", kind: "Widget", plural: "widgets", namespaced: true }
    const crdName = `widgets.${group}`
    yield* Effect.acquireRelease(
      api.create(Resources.CustomResourceDefinition, {
        apiVersion: "apiextensions.k8s.io/v1",
        kind: "CustomResourceDefinition",
        metadata: { name: crdName },
        spec: {
          group,
          scope: "Namespaced",
          names: { plural: "widgets", singular: "widget", kind: "Widget" },
          versions: [
            {
              name: "v1",
              served: true,
              storage: true,
              schema: { openAPIV3Schema: { type: "object", "x-kubernetes-preserve-unknown-fields": true } }
            }
          ]
        }
      }),
      () => Effect.ignore(api.delete(Resources.CustomResourceDefinition, crdName))
    )
    yield* eventually(
      api.get(Resources.CustomResourceDefinition, crdName).pipe(
        Effect.flatMap((crd) => {
          const conditions = ((crd["status"] as { conditions?: ReadonlyArray<{ type: string; status: string }> } | undefined)
            ?.conditions ?? [])
          return conditions.some((c) => c.type === "Established" && c.status === "True")
            ? Effect.void
            : Effect.fail("not established yet")
        })
      )
    )
    return type
  })
