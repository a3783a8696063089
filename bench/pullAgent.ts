/**
 * `npm run bench -- --only pull`: the Pull agent through the mock control plane over loopback.
 * 1. 10,000 `apply` jobs of plain ConfigMaps: jobs/s of the agent, against a plain client
 *    applying the same objects with the same concurrency (ratio from one run; target ≥ 0.8×).
 * 2. Enqueue→result latency at a steady 50 jobs/s (targets p50 ≤ 50 ms, p99 ≤ 250 ms).
 * 3. The idempotency store after 100,000 recorded keys: bytes in the cluster (target ≤ 256 KiB)
 *    and API writes spent on it per 1,000 jobs.
 */
import { Context, Duration, Effect, Fiber, Layer, Option, SubscriptionRef } from "effect"
import { Names } from "../src/api/wellKnown.js"
import { agentClientLive } from "../src/connectivity/agentClientLive.js"
import { connectionStateLive } from "../src/connectivity/connectionState.js"
import { credentialRotationToRef, credentialsFromRef, type AgentCredentialsValue } from "../src/connectivity/credentials.js"
import { makeMockControlPlane } from "../src/connectivity/mock/server.js"
import { runPullAgent } from "../src/connectivity/pull/agent.js"
import { makeIdempotencyStore } from "../src/connectivity/pull/idempotencyStore.js"
import { KubeApi } from "../src/kube/KubeApi.js"
import { Resources } from "../src/kube/resources.js"
import { withKubeRetry } from "../src/kube/retry.js"
import { type BenchContext, describeError, liveKubeApi } from "./context.js"
import { gatedNamespace } from "./fixtures.js"
import { BenchError } from "./probe.js"
import { loadAverage, now, printTable, progress, ratio, seconds, verdict } from "./report.js"

const jobs = 10_000
const storeKeys = 100_000
const latencyRate = 50
const latencyJobs = 1000
const concurrency = 16
/** Concurrent `record` calls when filling the store (the agent's own rate would take minutes here). */
const storeConcurrency = 128
const clusterId = "cluster-bench"
const token = "vwksp-agent-bench"

const configMap = (namespace: string, i: number) => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name: `cm-${String(i).padStart(6, "0")}`, namespace },
  data: { index: String(i), payload: "x".repeat(64) }
})

const percentile = (sorted: ReadonlyArray<number>, p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN

const fail = (what: string) => (e: unknown) => new BenchError({ message: `${what}: ${describeError(e)}` })

export const pullAgentBench = (ctx: BenchContext): Effect.Effect<void, BenchError> =>
  Effect.scoped(
    Effect.gen(function* () {
      const kube = yield* Layer.build(liveKubeApi(ctx.kubeconfigPath))
      const api = Context.get(kube, KubeApi)
      const storeNs = yield* gatedNamespace(ctx.target, ctx.scope, "bench-pull-store")
      const agentNs = yield* gatedNamespace(ctx.target, ctx.scope, "bench-pull-agent")
      const plainNs = yield* gatedNamespace(ctx.target, ctx.scope, "bench-pull-plain")
      const latencyNs = yield* gatedNamespace(ctx.target, ctx.scope, "bench-pull-latency")

      // --- plain client: the same objects, the same concurrency --------------------------------
      yield* progress(`pull: plain client applies ${jobs} ConfigMaps (concurrency ${concurrency})`)
      const plainStart = now()
      yield* Effect.forEach(
        Array.from({ length: jobs }, (_, i) => i),
        (i) => withKubeRetry(api.apply(Resources.ConfigMap, configMap(plainNs, i), { fieldManager: "bench-plain", force: false })),
        { concurrency, discard: true }
      ).pipe(Effect.mapError(fail("plain apply")))
      const plainMs = now() - plainStart

      // --- the agent through the mock ---------------------------------------------------------
      const mock = yield* makeMockControlPlane({ adminToken: "bench-admin", agentTokens: [{ token, clusterId }], maxJobsPerPoll: 200 }).pipe(
        Effect.mapError(fail("mock"))
      )
      const ref = yield* SubscriptionRef.make(Option.some<AgentCredentialsValue>({ baseUrl: mock.url, clusterId, token }))
      const services = yield* Layer.build(
        Layer.mergeAll(
          Layer.provideMerge(agentClientLive(), credentialsFromRef(ref)),
          connectionStateLive,
          credentialRotationToRef(ref),
          Layer.succeedContext(kube)
        )
      )
      const enqueueAt = new Map<string, number>()
      const enqueue = (id: string, payload: unknown) =>
        Effect.sync(() => {
          enqueueAt.set(id, Date.now())
          mock.state.enqueue(clusterId, { id, kind: "apply", payload, idempotencyKey: `bench/${id}`, createdAt: new Date().toISOString() }, Date.now())
        })
      const resultsDone = (ids: ReadonlyArray<string>) =>
        Effect.gen(function* () {
          for (;;) {
            if (ids.every((id) => mock.state.job(id)?.result !== undefined)) return
            yield* Effect.sleep(Duration.millis(50))
          }
        })
      for (let i = 0; i < jobs; i++) yield* enqueue(`t-${i}`, configMap(agentNs, i))
      yield* progress(`pull: agent applies ${jobs} jobs (concurrency ${concurrency})`)
      const agentStart = now()
      const agent = yield* Effect.forkScoped(
        runPullAgent({ namespace: storeNs, waitSeconds: 5, concurrency }).pipe(Effect.provide(services))
      )
      const throughputIds = Array.from({ length: jobs }, (_, i) => `t-${i}`)
      yield* resultsDone(throughputIds)
      const agentMs = now() - agentStart
      const notSucceeded = throughputIds.filter((id) => mock.state.job(id)?.result?.outcome !== "succeeded").length

      // --- latency at a steady 50 jobs/s ------------------------------------------------------
      yield* progress(`pull: ${latencyJobs} jobs at ${latencyRate} jobs/s`)
      const latencyIds: Array<string> = []
      for (let i = 0; i < latencyJobs; i++) {
        const id = `l-${i}`
        latencyIds.push(id)
        yield* enqueue(id, configMap(latencyNs, i))
        yield* Effect.sleep(Duration.millis(1000 / latencyRate))
      }
      yield* resultsDone(latencyIds)
      const latencies = latencyIds
        .map((id) => Date.parse(mock.state.job(id)?.resultAt ?? "") - (enqueueAt.get(id) ?? 0))
        .sort((a, b) => a - b)
      yield* Fiber.interrupt(agent)
      const agentStore = yield* api.get(Resources.ConfigMap, Names.appliedJobsConfigMap, storeNs).pipe(Effect.mapError(fail("store")))

      // --- the idempotency store after 100,000 keys -------------------------------------------
      yield* progress(`pull: ${storeKeys} keys into a fresh idempotency store (concurrency ${storeConcurrency})`)
      const storeOnlyNs = yield* gatedNamespace(ctx.target, ctx.scope, "bench-pull-store100k")
      const store = yield* makeIdempotencyStore({ namespace: storeOnlyNs, ttl: Duration.days(7), maxEntries: 5000, linger: Duration.millis(20) }).pipe(
        Effect.provide(kube),
        Effect.mapError(fail("store"))
      )
      yield* Effect.forEach(Array.from({ length: storeKeys }, (_, i) => i), (i) => store.record(`configmap/ns/cm-${i}@1`), {
        concurrency: storeConcurrency,
        discard: true
      })
      const writes = yield* store.writes
      const stored = yield* api.get(Resources.ConfigMap, Names.appliedJobsConfigMap, storeOnlyNs).pipe(Effect.mapError(fail("store")))
      const storedBytes = Buffer.byteLength(JSON.stringify(stored["data"] ?? {}))

      const agentRate = (jobs / agentMs) * 1000
      const plainRate = (jobs / plainMs) * 1000
      const p50 = percentile(latencies, 50)
      const p99 = percentile(latencies, 99)
      yield* printTable({
        title: "Pull agent through the mock control plane (loopback)",
        caption: [
          `One run; load average at the end ${loadAverage()}. The agent also acks, records the idempotency key and posts a result per job.`
        ],
        columns: ["measure", "value", "target", "verdict"],
        rows: [
          ["plain client: 10,000 SSA of ConfigMaps", `${seconds(plainMs)} (${plainRate.toFixed(0)}/s)`, "", ""],
          [`agent: ${jobs} apply jobs → results`, `${seconds(agentMs)} (${agentRate.toFixed(0)} jobs/s), ${notSucceeded} not succeeded`, "", ""],
          ["agent ÷ plain client", ratio(agentRate / plainRate), "≥ 0.80×", verdict(agentRate / plainRate >= 0.8)],
          [`enqueue→result p50 at ${latencyRate} jobs/s`, `${p50} ms`, "≤ 50 ms", verdict(p50 <= 50)],
          [`enqueue→result p99 at ${latencyRate} jobs/s`, `${p99} ms`, "≤ 250 ms", verdict(p99 <= 250)],
          [`idempotency store after ${storeKeys} keys`, `${(storedBytes / 1024).toFixed(1)} KiB`, "≤ 256 KiB", verdict(storedBytes <= 256 * 1024)],
          [`store API writes per 1,000 keys (${storeConcurrency} concurrent records)`, (writes / (storeKeys / 1000)).toFixed(1), "", ""],
          [
            `store after the agent's ${jobs + latencyJobs} jobs`,
            `${(Buffer.byteLength(JSON.stringify(agentStore["data"] ?? {})) / 1024).toFixed(1)} KiB`,
            "",
            ""
          ]
        ]
      })
    })
  )
