/**
 * `npm run bench -- --only pull`: the Pull agent as the operator runs it (`vworkspace-operator
 * run`, its own process, Pull mode) through the mock control plane over loopback.
 * 1. 10,000 `apply` jobs of plain ConfigMaps: jobs/s of the agent, against a plain client
 *    applying the same objects with the same concurrency (ratio from one run; target ≥ 0.8×).
 * 2. Enqueue→result latency at a steady 50 jobs/s (targets p50 ≤ 50 ms, p99 ≤ 250 ms).
 * 3. RSS of the operator process idle (polling an empty queue) and during the 10k-job run.
 * 4. The idempotency store after 100,000 recorded keys (in-process, against the same API server):
 *    bytes in the cluster (target ≤ 256 KiB) and API writes spent on it per 1,000 jobs.
 */
import { Context, Duration, Effect, Fiber, Layer, Schedule } from "effect"
import { CredentialKeys, Names } from "../src/api/wellKnown.js"
import { makeMockControlPlane } from "../src/connectivity/mock/server.js"
import { defaultIdempotencyStoreConfig, makeIdempotencyStore } from "../src/connectivity/pull/idempotencyStore.js"
import { KubeApi } from "../src/kube/KubeApi.js"
import { Resources } from "../src/kube/resources.js"
import { withKubeRetry } from "../src/kube/retry.js"
import { request } from "../src/devcluster/index.js"
import { type BenchContext, describeError, liveKubeApi } from "./context.js"
import { gatedNamespace } from "./fixtures.js"
import { cpuSnapshot, describeCpu, procCpuMs } from "./cpu.js"
import { readMemory, spawnOperator } from "./operatorProcess.js"
import { BenchError } from "./probe.js"
import { loadAverage, mib, now, printTable, progress, ratio, seconds, verdict } from "./report.js"

export interface PullBenchSizes {
  readonly jobs: number
  readonly latencyJobs: number
  readonly storeKeys: number
}

const latencyRate = 50
/** The operator's default agent concurrency (runPullAgent), and so the plain client's. */
const concurrency = 8
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

/** `apiserver_request_total` summed by verb, resource and subresource (all clients). */
const apiServerRequests = (ctx: BenchContext): Effect.Effect<ReadonlyMap<string, number>, BenchError> =>
  request(ctx.target, { method: "GET", path: "/metrics" }).pipe(
    Effect.mapError(fail("API server /metrics")),
    Effect.map((res) => {
      const counts = new Map<string, number>()
      for (const line of res.body.split("\n")) {
        if (!line.startsWith("apiserver_request_total{")) continue
        const label = (name: string) => new RegExp(`[{,]${name}="([^"]*)"`).exec(line)?.[1] ?? ""
        const sub = label("subresource")
        const key = `${label("verb")} ${label("resource")}${sub === "" ? "" : `/${sub}`}`
        counts.set(key, (counts.get(key) ?? 0) + Number(line.slice(line.lastIndexOf(" ") + 1)))
      }
      return counts
    })
  )

/** What grew between two counts, per key, divided by `per`, largest first. */
const perJob = (before: ReadonlyMap<string, number>, after: ReadonlyMap<string, number>, per: number): string =>
  [...after]
    .map(([k, v]) => [k, (v - (before.get(k) ?? 0)) / per] as const)
    .filter(([, v]) => v >= 0.005)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} ${v.toFixed(2)}`)
    .join(", ")

const routeCounts = (entries: ReadonlyArray<{ readonly route: string }>): ReadonlyMap<string, number> => {
  const counts = new Map<string, number>()
  for (const e of entries) counts.set(e.route, (counts.get(e.route) ?? 0) + 1)
  return counts
}

export const pullAgentBench = (ctx: BenchContext): Effect.Effect<void, BenchError> =>
  pullAgentBenchOf({ jobs: ctx.options.pullJobs, latencyJobs: ctx.options.pullLatencyJobs, storeKeys: ctx.options.pullStoreKeys })(ctx)

export const pullAgentBenchOf = ({ jobs, latencyJobs, storeKeys }: PullBenchSizes) => (ctx: BenchContext): Effect.Effect<void, BenchError> =>
  Effect.scoped(
    Effect.gen(function* () {
      const kube = yield* Layer.build(liveKubeApi(ctx.kubeconfigPath))
      const api = Context.get(kube, KubeApi)
      const podNs = yield* gatedNamespace(ctx.target, ctx.scope, "bench-pull-op")
      const agentNs = yield* gatedNamespace(ctx.target, ctx.scope, "bench-pull-agent")
      const plainNs = yield* gatedNamespace(ctx.target, ctx.scope, "bench-pull-plain")
      const latencyNs = yield* gatedNamespace(ctx.target, ctx.scope, "bench-pull-latency")

      // --- plain client: the same objects, the same concurrency --------------------------------
      yield* progress(`pull: plain client applies ${jobs} ConfigMaps (concurrency ${concurrency})`)
      const plainCpu = cpuSnapshot(ctx.clusterPids, ctx.clockTicks)
      const plainStart = now()
      yield* Effect.forEach(
        Array.from({ length: jobs }, (_, i) => i),
        (i) => withKubeRetry(api.apply(Resources.ConfigMap, configMap(plainNs, i), { fieldManager: "bench-plain", force: false })),
        { concurrency, discard: true }
      ).pipe(Effect.mapError(fail("plain apply")))
      const plainMs = now() - plainStart
      const plainCpuUsed = describeCpu(plainCpu, cpuSnapshot(ctx.clusterPids, ctx.clockTicks), { count: jobs, unit: "job" })
      const plainLoad = loadAverage()

      // --- the operator process, registered with the mock --------------------------------------
      const mock = yield* makeMockControlPlane({ adminToken: "bench-admin", agentTokens: [{ token, clusterId }], maxJobsPerPoll: 200, requestLogLimit: 10 * (jobs + latencyJobs) }).pipe(
        Effect.mapError(fail("mock"))
      )
      // The credentials Secret as the Cluster reconciler writes it after registration.
      yield* api
        .create(Resources.Secret, {
          apiVersion: "v1",
          kind: "Secret",
          metadata: { name: Names.agentCredentialsSecret, namespace: podNs },
          stringData: { [CredentialKeys.controlPlaneBaseUrl]: mock.url, [CredentialKeys.clusterId]: clusterId, [CredentialKeys.token]: token }
        })
        .pipe(Effect.mapError(fail("credentials Secret")))
      const operator = yield* spawnOperator(ctx, {
        namespace: agentNs,
        extraArgs: ["--pod-namespace", podNs, "--cluster-name", `none-${podNs}`, "--agent-poll-interval-seconds", "5", "--webhook-port", "0"]
      })
      const polled = (n: number) =>
        Effect.gen(function* () {
          for (;;) {
            yield* operator.alive
            if (mock.state.requests().filter((r) => r.route === "jobs").length >= n) return
            yield* Effect.sleep(Duration.millis(200))
          }
        })
      yield* progress("pull: waiting for the operator's first polls")
      // The cluster's CPU while the operator idles: every run's CPU figures include it for their length.
      const idleCpu = cpuSnapshot(ctx.clusterPids, ctx.clockTicks)
      const idleStart = now()
      yield* polled(3)
      const idleCpuUsed = describeCpu(idleCpu, cpuSnapshot(ctx.clusterPids, ctx.clockTicks), { count: (now() - idleStart) / 1000, unit: "s" })
      const idle = yield* readMemory(operator.pid)
      const idleLoad = loadAverage()

      const enqueueAt = new Map<string, number>()
      const enqueue = (id: string, payload: unknown) =>
        Effect.sync(() => {
          enqueueAt.set(id, Date.now())
          mock.state.enqueue(clusterId, { id, kind: "apply", payload, idempotencyKey: `bench/${id}`, createdAt: new Date().toISOString() }, Date.now())
        })
      const resultsDone = (ids: ReadonlyArray<string>) =>
        Effect.gen(function* () {
          let from = 0
          for (;;) {
            yield* operator.alive
            while (from < ids.length && mock.state.job(ids[from] ?? "")?.result !== undefined) from++
            if (from === ids.length) return
            yield* Effect.sleep(Duration.millis(50))
          }
        })

      let peakRss = idle.rssBytes
      const sampler = yield* Effect.forkScoped(
        readMemory(operator.pid).pipe(
          Effect.tap((m) => Effect.sync(() => (peakRss = Math.max(peakRss, m.rssBytes)))),
          Effect.ignore,
          Effect.repeat(Schedule.spaced(Duration.millis(500)))
        )
      )
      yield* progress(`pull: the operator's agent applies ${jobs} jobs`)
      const apiBefore = yield* apiServerRequests(ctx)
      const mockBefore = routeCounts(mock.state.requests())
      const agentCpu = cpuSnapshot(ctx.clusterPids, ctx.clockTicks)
      const operatorCpu = ctx.clockTicks === undefined ? undefined : procCpuMs(operator.pid, ctx.clockTicks)
      const agentStart = now()
      const throughputIds = Array.from({ length: jobs }, (_, i) => `t-${i}`)
      for (let i = 0; i < jobs; i++) yield* enqueue(`t-${i}`, configMap(agentNs, i))
      yield* resultsDone(throughputIds)
      const agentMs = now() - agentStart
      const agentLoad = loadAverage()
      const agentCpuUsed = describeCpu(agentCpu, cpuSnapshot(ctx.clusterPids, ctx.clockTicks), { count: jobs, unit: "job" })
      const operatorCpuAfter = ctx.clockTicks === undefined ? undefined : procCpuMs(operator.pid, ctx.clockTicks)
      const operatorCpuPerJob =
        operatorCpu === undefined || operatorCpuAfter === undefined ? "n/a" : `${((operatorCpuAfter - operatorCpu) / jobs).toFixed(2)} ms`
      const apiAfter = yield* apiServerRequests(ctx)
      const mockAfter = routeCounts(mock.state.requests())
      yield* Fiber.interrupt(sampler)
      const notSucceeded = throughputIds.filter((id) => mock.state.job(id)?.result?.outcome !== "succeeded").length

      // --- latency at a steady 50 jobs/s ------------------------------------------------------
      yield* progress(`pull: ${latencyJobs} jobs at ${latencyRate} jobs/s`)
      const latencyIds: Array<string> = []
      const latencyApiBefore = yield* apiServerRequests(ctx)
      const latencyStart = Date.now()
      for (let i = 0; i < latencyJobs; i++) {
        const id = `l-${i}`
        latencyIds.push(id)
        yield* enqueue(id, configMap(latencyNs, i))
        // Paced against the start, so a slow tick does not lower the offered rate.
        yield* Effect.sleep(Duration.millis(Math.max(0, latencyStart + ((i + 1) * 1000) / latencyRate - Date.now())))
      }
      yield* resultsDone(latencyIds)
      const latencyLoad = loadAverage()
      const latencyApiAfter = yield* apiServerRequests(ctx)
      const latencies = latencyIds
        .map((id) => Date.parse(mock.state.job(id)?.resultAt ?? "") - (enqueueAt.get(id) ?? 0))
        .sort((a, b) => a - b)
      const storeBytes = yield* Effect.forEach([Names.appliedJobsConfigMap, `${Names.appliedJobsConfigMap}-recent`], (name) =>
        api.get(Resources.ConfigMap, name, podNs).pipe(
          Effect.map((cm) => Buffer.byteLength(JSON.stringify(cm["data"] ?? {}))),
          Effect.catchTag("NotFound", () => Effect.succeed(0)),
          Effect.mapError(fail("store"))
        )
      )

      // --- the idempotency store after 100,000 keys -------------------------------------------
      yield* progress(`pull: ${storeKeys} keys into a fresh idempotency store (concurrency ${storeConcurrency})`)
      const storeOnlyNs = yield* gatedNamespace(ctx.target, ctx.scope, "bench-pull-store100k")
      const store = yield* makeIdempotencyStore({ namespace: storeOnlyNs, ...defaultIdempotencyStoreConfig }).pipe(
        Effect.provide(kube),
        Effect.mapError(fail("store"))
      )
      yield* Effect.forEach(Array.from({ length: storeKeys }, (_, i) => i), (i) => store.record(`configmap/ns/cm-${i}@1`), {
        concurrency: storeConcurrency,
        discard: true
      })
      const writes = yield* store.writes
      const stored = yield* Effect.forEach([Names.appliedJobsConfigMap, `${Names.appliedJobsConfigMap}-recent`], (name) =>
        api.get(Resources.ConfigMap, name, storeOnlyNs).pipe(
          Effect.map((cm) => Buffer.byteLength(JSON.stringify(cm["data"] ?? {}))),
          Effect.catchTag("NotFound", () => Effect.succeed(0)),
          Effect.mapError(fail("store"))
        )
      )
      const storedBytes = stored.reduce((a, b) => a + b, 0)
      const storeLoad = loadAverage()

      const agentRate = (jobs / agentMs) * 1000
      const plainRate = (jobs / plainMs) * 1000
      const p50 = percentile(latencies, 50)
      const p99 = percentile(latencies, 99)
      yield* printTable({
        title: "Pull agent (the operator process) through the mock control plane (loopback)",
        caption: [
          "One run. Per job the agent also acks, records the idempotency key and posts a result. Load average (1/5/15) when each figure was taken is in its row."
        ],
        columns: ["measure", "value", "target", "verdict", "load average"],
        rows: [
          [`plain client: ${jobs} SSA of ConfigMaps (concurrency ${concurrency})`, `${seconds(plainMs)} (${plainRate.toFixed(0)}/s)`, "", "", plainLoad],
          [`agent: ${jobs} apply jobs → results (concurrency ${concurrency})`, `${seconds(agentMs)} (${agentRate.toFixed(0)} jobs/s), ${notSucceeded} not succeeded`, "", "", agentLoad],
          ["CPU of the plain client's run", plainCpuUsed, "", "", plainLoad],
          ["CPU of the agent's run (this process hosts the mock)", agentCpuUsed, "", "", agentLoad],
          ["CPU while the operator idles (background in both runs, per second of run)", idleCpuUsed, "", "", idleLoad],
          ["operator process CPU per job", operatorCpuPerJob, "", "", agentLoad],
          ["agent ÷ plain client", ratio(agentRate / plainRate), "≥ 0.80×", verdict(agentRate / plainRate >= 0.8), agentLoad],
          [`API server requests per job (all clients, during the ${jobs}-job run)`, perJob(apiBefore, apiAfter, jobs), "", "", agentLoad],
          [`mock control plane requests per job`, perJob(mockBefore, mockAfter, jobs), "", "", agentLoad],
          [`API server requests per job (all clients, during the ${latencyRate} jobs/s run)`, perJob(latencyApiBefore, latencyApiAfter, latencyJobs), "", "", latencyLoad],
          [`enqueue→result p50 at ${latencyRate} jobs/s`, `${p50} ms`, "≤ 50 ms", verdict(p50 <= 50), latencyLoad],
          [`enqueue→result p99 at ${latencyRate} jobs/s`, `${p99} ms`, "≤ 250 ms", verdict(p99 <= 250), latencyLoad],
          ["operator RSS, Pull mode, idle (polling an empty queue)", mib(idle.rssBytes), "", "", idleLoad],
          [`operator RSS, peak during the ${jobs}-job run`, mib(peakRss), "", "", agentLoad],
          [`idempotency store after ${storeKeys} keys (main + recent)`, `${(storedBytes / 1024).toFixed(1)} KiB`, "≤ 256 KiB", verdict(storedBytes <= 256 * 1024), storeLoad],
          [`store API writes per 1,000 keys (${storeConcurrency} concurrent records)`, (writes / (storeKeys / 1000)).toFixed(1), "", "", storeLoad],
          [
            `store after the agent's ${jobs + latencyJobs} jobs (main + recent)`,
            `${(storeBytes.reduce((a, b) => a + b, 0) / 1024).toFixed(1)} KiB`,
            "",
            "",
            latencyLoad
          ]
        ]
      })
    })
  )
