import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Layer, Queue, Schedule, Scope, Stream } from "effect"
import { KubeApi } from "../../src/kube/KubeApi.js"
import { Resources } from "../../src/kube/resources.js"
import { Metrics } from "../../src/observability/metrics.js"
import { Controller, ReconcileResult } from "../../src/runtime/controller.js"
import { parseBindAddress } from "../../src/runtime/health.js"
import { Manager, type SyncedCache } from "../../src/runtime/manager.js"

// These tests need no API server: without leader election the manager never calls KubeApi, so
// the Layer only has to exist. Every call fails loudly if that ever changes.
const noKubeApi = Layer.succeed(
  KubeApi,
  new Proxy({} as KubeApi["Type"], {
    get: (_target, property) => {
      throw new Error(`KubeApi.${String(property)} must not be used by this test`)
    }
  })
)

const http = (port: number, path: string) =>
  Effect.tryPromise(async () => {
    const response = await fetch(`http://127.0.0.1:${port}${path}`)
    return { status: response.status, type: response.headers.get("content-type"), body: await response.text() }
  })

/** A cache whose sync the test controls. */
const controlledCache = Effect.gen(function* () {
  const synced = yield* Deferred.make<void>()
  const cache: SyncedCache = {
    resource: Resources.ApplicationInstance,
    synced: Deferred.await(synced),
    hasSynced: Deferred.isDone(synced)
  }
  return { cache, markSynced: Deferred.succeed(synced, undefined) }
})

describe("health probes", () => {
  it.effect("parses bind addresses", () =>
    Effect.gen(function* () {
      expect(yield* parseBindAddress(":8081")).toEqual({ port: 8081 })
      expect(yield* parseBindAddress("127.0.0.1:0")).toEqual({ host: "127.0.0.1", port: 0 })
      expect(yield* parseBindAddress("[::1]:9000")).toEqual({ host: "::1", port: 9000 })
      const bad = yield* Effect.either(parseBindAddress("8081"))
      expect(bad._tag).toBe("Left")
    })
  )

  it.scopedLive("readyz flips once the caches sync; controllers start only then", () =>
    Effect.gen(function* () {
      const { cache, markSynced } = yield* controlledCache
      const keys = yield* Queue.unbounded<string>()
      const reconciled = yield* Queue.unbounded<{ key: string; cacheSynced: boolean }>()
      const controller = Controller.make({
        name: "probe-test",
        sources: [Stream.fromQueue(keys)],
        reconcile: (key) =>
          cache.hasSynced.pipe(
            Effect.flatMap((cacheSynced) => Queue.offer(reconciled, { key, cacheSynced })),
            Effect.as(ReconcileResult.done)
          )
      })
      const manager = yield* Manager.start({
        controllers: [controller],
        caches: [cache],
        healthProbe: { host: "127.0.0.1", port: 0 }
      })
      const port = manager.health.port
      expect(port).toBeGreaterThan(0)
      yield* Queue.offer(keys, "team-a/web")

      const before = yield* http(port, "/readyz")
      expect(before.status).toBe(503)
      expect(before.body).toContain("[-]cache-sync/applicationinstances.apps.vworkspace.io failed")
      expect(before.body).toContain("[+]leader-election ok")
      expect((yield* http(port, "/healthz")).status).toBe(200)

      yield* markSynced
      const after = yield* http(port, "/readyz")
      expect(after).toMatchObject({ status: 200, body: "ok\n" })
      // The key fed before the sync is reconciled, and only after it.
      expect(yield* Queue.take(reconciled)).toEqual({ key: "team-a/web", cacheSynced: true })

      // The controller's series are in the Metrics registry; /metrics itself has its own listener.
      const registry = yield* Metrics
      const rendered = yield* registry.render.pipe(
        Effect.filterOrFail((body) => body.includes('controller_runtime_reconcile_total{controller="probe-test",result="success"} 1')),
        Effect.retry(Schedule.spaced("50 millis")),
        Effect.timeout("10 seconds")
      )
      expect(rendered).toContain('workqueue_adds_total{name="probe-test"} 1')
      expect((yield* http(port, "/metrics")).status).toBe(404)
      expect((yield* http(port, "/nope")).status).toBe(404)
    }).pipe(Effect.provide(Layer.merge(Metrics.test, noKubeApi)))
  )

  it.live("closing the manager's scope stops the probe server", () =>
    Effect.gen(function* () {
      const { cache } = yield* controlledCache
      const scope = yield* Scope.make()
      const manager = yield* Manager.start<never>({
        controllers: [],
        caches: [cache],
        healthProbe: { host: "127.0.0.1", port: 0 }
      }).pipe(Scope.extend(scope))
      expect((yield* http(manager.health.port, "/healthz")).status).toBe(200)
      yield* Scope.close(scope, Exit.void)
      const afterClose = yield* Effect.either(http(manager.health.port, "/healthz"))
      expect(afterClose._tag).toBe("Left")
    }).pipe(Effect.provide(Layer.merge(Metrics.test, noKubeApi)))
  )
})
