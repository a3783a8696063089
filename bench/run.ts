/**
 * `npm run bench [-- --only throughput --count 1000]`: benchmarks of the ApplicationInstance
 * reconciler and of Operations against a real kube-apiserver. Prints markdown tables on stdout and asserts nothing
 * about time; every figure is printed next to its target and the load average.
 */
import * as os from "node:os"
import { NodeRuntime } from "@effect/platform-node"
import { Context, Effect, Either, Layer, Logger, LogLevel } from "effect"
import { acquireTestCluster, targetFromKubeconfig, TEST_KUBECONFIG_ENV } from "../src/devcluster/index.js"
import { KubeApi } from "../src/kube/KubeApi.js"
import { type BenchContext, describeError, liveKubeApi } from "./context.js"
import { convergeBench } from "./converge.js"
import { clockTicks } from "./cpu.js"
import { Figures } from "./figures.js"
import { memoryBench } from "./memory.js"
import { nodeFlagsBench } from "./nodeFlags.js"
import { operationsBench } from "./operations.js"
import { type BenchName, type BenchOptions, parseOptions, usage } from "./options.js"
import { outboxBench } from "./outbox.js"
import { BenchError } from "./probe.js"
import { loadAverage, now, printTable, progress, seconds } from "./report.js"
import { pullAgentBench } from "./pullAgent.js"
import { resyncBench } from "./resync.js"
import { startupBench } from "./startup.js"
import { throughputBench } from "./throughput.js"

const benches: Record<BenchName, (ctx: BenchContext) => Effect.Effect<void, BenchError>> = {
  throughput: throughputBench,
  resync: resyncBench,
  startup: startupBench,
  memory: memoryBench,
  outbox: outboxBench,
  pull: pullAgentBench,
  operations: operationsBench,
  converge: convergeBench,
  flags: nodeFlagsBench
}

const run = (options: BenchOptions) =>
  Effect.scoped(
    Effect.gen(function* () {
      const started = now()
      yield* progress(
        process.env[TEST_KUBECONFIG_ENV] ? `using the cluster of ${TEST_KUBECONFIG_ENV}` : "starting a private kube-apiserver + etcd"
      )
      const cluster = yield* acquireTestCluster.pipe(
        Effect.mapError((e) => new BenchError({ message: `cluster: ${describeError(e)}` }))
      )
      const target = yield* targetFromKubeconfig(cluster.kubeconfigPath).pipe(
        Effect.mapError((e) => new BenchError({ message: e.message }))
      )
      const api = Context.get(yield* Layer.build(liveKubeApi(cluster.kubeconfigPath)), KubeApi)
      const version = yield* api.version.pipe(Effect.mapError((e) => new BenchError({ message: `GET /version: ${e.message}` })))
      yield* progress(`cluster ready after ${seconds(now() - started)}`)

      const ctx: BenchContext = {
        options,
        kubeconfigPath: cluster.kubeconfigPath,
        target,
        api,
        scope: yield* Effect.scope,
        clusterPids: cluster.started && { apiserver: cluster.started.apiserver.pid, etcd: cluster.started.etcd.pid },
        clockTicks: yield* clockTicks,
        deadline: started + options.maxMinutes * 60_000,
        converged: undefined,
        figures: new Figures()
      }
      yield* printTable({
        title: "vworkspace-operator benchmarks: ApplicationInstance reconciler",
        caption: [
          "Timings are from one run on a shared machine; compare ratios within the run, not across machines. Nothing here is asserted."
        ],
        columns: ["item", "value"],
        rows: [
          ["date", new Date().toISOString()],
          ["CPUs", `${os.cpus().length} × ${os.cpus()[0]?.model ?? "unknown"}`],
          ["memory", `${(os.totalmem() / 1024 ** 3).toFixed(1)} GiB`],
          ["Node.js", process.version],
          [
            "cluster",
            cluster.started
              ? `private kube-apiserver ${cluster.started.k8sVersion} + etcd ${cluster.started.etcdVersion} on loopback`
              : `${TEST_KUBECONFIG_ENV} (${version.gitVersion})`
          ],
          ["benchmarks", options.only.join(", ")],
          [
            "sizes",
            `count ${options.count}, memory sizes ${options.sizes.join(" → ")}, workers ${options.workers}, resync ${options.resyncSeconds} s × ${options.resyncPasses}`
          ],
          ["load avg 1/5/15 at start", loadAverage()]
        ]
      })

      const failures: Array<string> = []
      for (const name of options.only) {
        const benchStart = now()
        yield* benches[name](ctx).pipe(
          Effect.catchAll((e) =>
            Effect.sync(() => {
              failures.push(name)
              console.log(`### ${name}: FAILED\n\n${e.message}\n`)
            })
          )
        )
        yield* progress(`${name} took ${seconds(now() - benchStart)}`)
      }
      if (!ctx.figures.isEmpty) yield* ctx.figures.print(options.only)
      yield* progress(`done in ${seconds(now() - started)}; stopping the cluster`)
      if (failures.length > 0) {
        return yield* new BenchError({ message: `benchmarks failed: ${failures.join(", ")}` })
      }
    })
  )

const parsed = parseOptions(process.argv.slice(2))
if (Either.isLeft(parsed)) {
  console.error(`${parsed.left.message}\n\n${usage}`)
  process.exitCode = 2
} else if (parsed.right.help) {
  console.log(usage)
} else {
  NodeRuntime.runMain(
    run(parsed.right).pipe(
      Effect.tapError((e) => Effect.sync(() => console.error(e.message))),
      // The operator under measurement logs warnings and errors only, to stderr: stdout is for tables.
      Effect.provide(Logger.replace(Logger.defaultLogger, Logger.withLeveledConsole(Logger.logfmtLogger))),
      Logger.withMinimumLogLevel(LogLevel.Warning)
    ),
    { disablePrettyLogger: true }
  )
}
