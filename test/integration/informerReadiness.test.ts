/**
 * Readiness that means something: an informer that listed but may not watch (RBAC lets it list
 * only) makes /readyz fail, naming its kind, and says so in the log.
 */
import { expect, layer } from "@effect/vitest"
import { Context, Effect, Layer, Logger } from "effect"
import { makeInformer } from "../../src/kube/informer.js"
import { KubeApi } from "../../src/kube/KubeApi.js"
import { KubeApiLive } from "../../src/kube/KubeApiLive.js"
import { Resources } from "../../src/kube/resources.js"
import { Metrics } from "../../src/observability/metrics.js"
import { Manager } from "../../src/runtime/manager.js"
import { adminRequest, createTestNamespace, credentialsFor } from "../support/cluster.js"
import { kubeLayer } from "../support/operator.js"
import { waitFor } from "../support/wait.js"

const create = (path: string, body: unknown) =>
  adminRequest({ method: "POST", path, body: JSON.stringify(body) }).pipe(
    Effect.tap((r) => Effect.sync(() => expect(r.status).toBe(201)))
  )

/** A user who may list ConfigMaps in `namespace`, but not watch them. */
const listOnlyUser = (namespace: string) =>
  Effect.gen(function* () {
    const user = `list-only-${namespace}`
    yield* create(`/apis/rbac.authorization.k8s.io/v1/namespaces/${namespace}/roles`, {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "Role",
      metadata: { name: "list-only" },
      rules: [{ apiGroups: [""], resources: ["configmaps"], verbs: ["list"] }]
    })
    yield* create(`/apis/rbac.authorization.k8s.io/v1/namespaces/${namespace}/rolebindings`, {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "RoleBinding",
      metadata: { name: "list-only" },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "list-only" },
      subjects: [{ apiGroup: "rbac.authorization.k8s.io", kind: "User", name: user }]
    })
    return yield* credentialsFor(user)
  })

const readyz = (port: number) =>
  Effect.tryPromise(async () => {
    const response = await fetch(`http://127.0.0.1:${port}/readyz`)
    return { status: response.status, body: await response.text() }
  })

layer(kubeLayer(), { timeout: "60 seconds", excludeTestServices: true })("informer readiness", (it) => {
  it.scoped("an informer that listed but is forbidden to watch fails /readyz, naming its kind, with a log line", () =>
    Effect.gen(function* () {
      const ns = yield* createTestNamespace("blind")
      const credentials = yield* listOnlyUser(ns)
      const api = yield* Layer.build(KubeApiLive.fromKubeconfigFile(credentials.kubeconfigPath)).pipe(
        Effect.map(Context.get(KubeApi))
      )
      const logged: Array<string> = []
      const collect = Logger.make(({ message }) => {
        logged.push((Array.isArray(message) ? message : [message]).map(String).join(" "))
      })
      const informer = yield* makeInformer(Resources.ConfigMap, { namespace: ns }).pipe(
        Effect.provideService(KubeApi, api),
        Effect.provide(Logger.replace(Logger.defaultLogger, collect))
      )
      const manager = yield* Manager.start<never>({
        controllers: [],
        caches: [informer],
        healthProbe: { host: "127.0.0.1", port: 0 }
      }).pipe(Effect.provide(Metrics.test))

      yield* informer.synced
      const probe = yield* waitFor(
        "/readyz to fail",
        Effect.map(readyz(manager.health.port), (r) => (r.status === 503 ? r : undefined))
      )
      expect(probe.body).toMatch(/\[-\]cache-sync\/configmaps failed: watch failing for .*: Forbidden/)
      expect(logged.some((l) => l.includes("informer configmaps: cannot watch ConfigMap (Forbidden"))).toBe(true)
    }))
})
