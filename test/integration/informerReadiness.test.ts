/**
 * Readiness that means something: an informer that listed but may not watch (RBAC lets it list
 * only), or whose watch keeps failing for longer than its `blindAfter` window (the API server
 * unreachable), makes /readyz fail, naming its kind, and says so in the log.
 */
import { expect, layer } from "@effect/vitest"
import { Context, Duration, Effect, Layer, Logger } from "effect"
import { type Informer, makeInformer } from "../../src/kube/informer.js"
import { KubeApi } from "../../src/kube/KubeApi.js"
import { KubeApiLive } from "../../src/kube/KubeApiLive.js"
import { Resources } from "../../src/kube/resources.js"
import { Metrics } from "../../src/observability/metrics.js"
import { Manager } from "../../src/runtime/manager.js"
import { adminRequest, createTestNamespace, credentialsFor, kubeconfigPath } from "../support/cluster.js"
import { proxiedKubeConfig, proxyTo } from "../support/faultCluster.js"
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

/** Log lines, collected. */
const collectingLogger = () => {
  const logged: Array<string> = []
  const logger = Logger.make(({ message }) => {
    logged.push((Array.isArray(message) ? message : [message]).map(String).join(" "))
  })
  return { logged, layer: Logger.replace(Logger.defaultLogger, logger) }
}

const probeServer = (informer: Informer) =>
  Manager.start<never>({ controllers: [], caches: [informer], healthProbe: { host: "127.0.0.1", port: 0 } }).pipe(
    Effect.provide(Metrics.test)
  )

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
      const { logged, layer: logs } = collectingLogger()
      const informer = yield* makeInformer(Resources.ConfigMap, { namespace: ns }).pipe(
        Effect.provideService(KubeApi, api),
        Effect.provide(logs)
      )
      const manager = yield* probeServer(informer)

      yield* informer.synced
      const probe = yield* waitFor(
        "/readyz to fail",
        Effect.map(readyz(manager.health.port), (r) => (r.status === 503 ? r : undefined))
      )
      expect(probe.body).toMatch(/\[-\]cache-sync\/configmaps failed: watch failing for .*: Forbidden/)
      expect(logged.some((l) => l.includes("informer configmaps: cannot watch ConfigMap (Forbidden"))).toBe(true)
    }))

  it.scoped("an informer whose watch keeps failing for longer than blindAfter fails /readyz, naming its kind, and recovers", () =>
    Effect.gen(function* () {
      const ns = yield* createTestNamespace("unreachable")
      // The informer reaches the API server through a proxy that can refuse every connection.
      const proxy = yield* proxyTo(kubeconfigPath())
      const kc = yield* proxiedKubeConfig(kubeconfigPath(), proxy.port)
      const api = yield* Layer.build(KubeApiLive.layer(kc)).pipe(Effect.map(Context.get(KubeApi)))
      const { logged, layer: logs } = collectingLogger()
      const informer = yield* makeInformer(Resources.ConfigMap, {
        namespace: ns,
        blindAfter: Duration.seconds(2),
        backoff: { initial: Duration.millis(100), max: Duration.millis(500) }
      }).pipe(Effect.provideService(KubeApi, api), Effect.provide(logs))
      const manager = yield* probeServer(informer)
      yield* informer.synced
      yield* waitFor("/readyz to pass while the watch works", Effect.map(readyz(manager.health.port), (r) => (r.status === 200 ? r : undefined)))

      // The API server becomes unreachable: the open watch is cut and every reconnect refused.
      yield* proxy.setRefusing(true)
      yield* proxy.killAll
      const probe = yield* waitFor(
        "/readyz to fail",
        Effect.map(readyz(manager.health.port), (r) => (r.status === 503 ? r : undefined))
      )
      expect(probe.body).toMatch(/\[-\]cache-sync\/configmaps failed: watch failing for .*: Transport/)
      // Logged at the first failure after the window (the probe may ask in between).
      yield* waitFor(
        "the log line",
        Effect.sync(() => logged.find((l) => l.includes("informer configmaps: cannot watch ConfigMap (Transport")))
      )

      // Reachable again: the watch resumes, and once it delivers (here: a new ConfigMap; on a quiet
      // kind, the next bookmark) readiness comes back by itself.
      yield* proxy.setRefusing(false)
      yield* create(`/api/v1/namespaces/${ns}/configmaps`, { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "back" } })
      yield* waitFor("/readyz to pass again", Effect.map(readyz(manager.health.port), (r) => (r.status === 200 ? r : undefined)))
    }))
})
