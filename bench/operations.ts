/**
 * Operations: N runCommand.job Operations from creation to Succeeded, through the real Job
 * controller of kube-controller-manager, with the harness playing the kubelet (every pod the Job
 * controller creates is started and then exits 0). Reports operations/s end to end, the latency
 * from creation to Running (p50/p99), and CPU.
 */
import { Duration, Effect, Fiber, Layer, Option, Schedule, Schema, Stream } from "effect"
import { KubeApi, type KubeApiService } from "../src/kube/KubeApi.js"
import type { KubeObject, ResourceType } from "../src/kube/object.js"
import { Resources } from "../src/kube/resources.js"
import { finishPod, startPod } from "../test/support/kubelet.js"
import { type BenchContext, describeError, withInProcessOperator } from "./context.js"
import { describeWrites, sumWrites, WriteLog } from "./countingKubeApi.js"
import { cpuSnapshot, describeCpu } from "./cpu.js"
import { gatedNamespace, maxWait } from "./fixtures.js"
import { BenchError, pollUntil } from "./probe.js"
import { loadAverage, now, printTable, progress, seconds } from "./report.js"

const Phase = Schema.Struct({ status: Schema.optional(Schema.Struct({ phase: Schema.optional(Schema.String) })) })
const phaseOf = (o: KubeObject): string => Option.getOrUndefined(Schema.decodeUnknownOption(Phase)(o))?.status?.phase ?? ""

const percentile = (sorted: ReadonlyArray<number>, p: number): number =>
  sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!

/**
 * A watch that starts again when it ends or fails (each new one replays the current objects as
 * ADDED), so a connection lost under load loses nothing.
 */
const watchAgainAndAgain = (api: KubeApiService, type: ResourceType, options: { readonly namespace: string; readonly labelSelector?: string }) =>
  api.watch(type, { ...options, timeoutSeconds: 600, idleTimeout: Duration.seconds(660) }).pipe(
    Stream.catchAll((e) => Stream.fromEffect(progress(`watch of ${type.plural} failed (${e._tag}); watching again`)).pipe(Stream.drain)),
    Stream.repeat(Schedule.spaced(Duration.millis(200)))
  )

const operationName = (i: number): string => `cmd-${String(i).padStart(5, "0")}`

export const operationsBench = (ctx: BenchContext): Effect.Effect<void, BenchError> =>
  Effect.gen(function* () {
    const count = ctx.options.operations
    const api = ctx.api
    const fail = (what: string) => (e: unknown) => new BenchError({ message: `${what}: ${describeError(e)}` })
    const namespace = yield* gatedNamespace(ctx.target, ctx.scope, "bench-ops")
    yield* api
      .create(Resources.ApplicationInstance, {
        apiVersion: "apps.vworkspace.io/v1alpha1",
        kind: "ApplicationInstance",
        metadata: { name: "ops", namespace, annotations: { "ops.vworkspace.io/runcommand": "job" } },
        spec: { appRef: { catalogId: "cluster-ops" }, mode: "placeholder" }
      })
      .pipe(Effect.mapError(fail("create target")))

    const createdAt = new Map<string, number>()
    const runningAt = new Map<string, number>()
    const succeededAt = new Map<string, number>()
    const log = new WriteLog()

    yield* withInProcessOperator(ctx, { namespace, config: {}, log }, () =>
      Effect.scoped(
        Effect.gen(function* () {
          // Phases as the control plane would see them, from a watch of the harness's own client.
          yield* Effect.forkScoped(
            watchAgainAndAgain(api, Resources.Operation, { namespace }).pipe(
              Stream.runForEach((e) =>
                Effect.sync(() => {
                  const name = e.object.metadata.name ?? ""
                  const phase = phaseOf(e.object)
                  if ((phase === "Running" || phase === "Succeeded") && !runningAt.has(name)) runningAt.set(name, now())
                  if (phase === "Succeeded" && !succeededAt.has(name)) succeededAt.set(name, now())
                })
              )
            )
          )
          // The kubelet: every new pod of an operation's Job starts and exits 0.
          const kubelet = yield* Effect.forkScoped(
            watchAgainAndAgain(api, Resources.Pod, { namespace, labelSelector: "ops.vworkspace.io/operation" }).pipe(
              // A new pod, or (after a re-watch) one not started yet.
              Stream.filter((e) => e.type === "ADDED" && (phaseOf(e.object) === "" || phaseOf(e.object) === "Pending")),
              Stream.mapEffect(
                (e) =>
                  startPod(e.object).pipe(
                    Effect.zipRight(finishPod(e.object, 0)),
                    Effect.catchAll((err) => progress(`kubelet: pod ${e.object.metadata.name ?? ""}: ${err._tag}`))
                  ),
                {
                  concurrency: ctx.options.createConcurrency
                }
              ),
              Stream.runDrain,
              Effect.provide(Layer.succeed(KubeApi, api))
            )
          )
          const before = cpuSnapshot(ctx.clusterPids, ctx.clockTicks)
          const start = now()
          yield* progress(`creating ${count} runCommand.job Operations in ${namespace}`)
          yield* Effect.forEach(
            Array.from({ length: count }, (_, i) => operationName(i)),
            (name) =>
              api
                .create(Resources.Operation, {
                  apiVersion: "ops.vworkspace.io/v1alpha1",
                  kind: "Operation",
                  metadata: { name, namespace },
                  spec: {
                    targetRef: { apiVersion: "apps.vworkspace.io/v1alpha1", kind: "ApplicationInstance", name: "ops" },
                    type: "RunCommand",
                    engine: "job",
                    parameters: { image: "busybox", command: ["true"], backoffLimit: 0 }
                  }
                })
                .pipe(
                  Effect.tap(() => Effect.sync(() => createdAt.set(name, now()))),
                  Effect.mapError(fail(`create ${name}`))
                ),
            { concurrency: ctx.options.createConcurrency, discard: true }
          )
          yield* progress(`created; waiting for ${count} Operations to succeed`)
          yield* pollUntil(
            `${count} Operations Succeeded`,
            Effect.sync(() => (succeededAt.size >= count ? true : undefined)),
            { interval: Duration.millis(200), timeout: maxWait }
          ).pipe(
            Effect.timeoutFail({
              duration: maxWait,
              onTimeout: () =>
                new BenchError({ message: `only ${runningAt.size} Running and ${succeededAt.size} Succeeded of ${count}` })
            })
          )
          const elapsed = now() - start
          const after = cpuSnapshot(ctx.clusterPids, ctx.clockTicks)
          yield* Fiber.interrupt(kubelet)
          const toRunning = [...createdAt].flatMap(([name, t]) => {
            const r = runningAt.get(name)
            return r === undefined ? [] : [r - t]
          })
          toRunning.sort((a, b) => a - b)
          const ms = (x: number) => `${x.toFixed(0)} ms`
          yield* printTable({
            title: `Operations: ${count} runCommand.job from creation to Succeeded`,
            caption: [
              "The in-process operator (all engines registered, maxConcurrentReconciles = --workers), the real Job controller of kube-controller-manager, and the harness as kubelet (each pod: Running, then exit 0).",
              "Creation→Running is measured from the create response to the first watch event showing phase Running; CPU of “this process” includes the harness's watches and the kubelet player."
            ],
            columns: ["figure", "value"],
            rows: [
              ["operations", String(count)],
              ["creation → all Succeeded", seconds(elapsed)],
              ["operations/s (end to end)", (count / (elapsed / 1000)).toFixed(1)],
              ["creation → Running p50", ms(percentile(toRunning, 50))],
              ["creation → Running p99", ms(percentile(toRunning, 99))],
              ["CPU", describeCpu(before, after)],
              ["operator writes", `${sumWrites(log.snapshot())} (${describeWrites(log.snapshot())})`],
              ["load avg 1/5/15 after", loadAverage()]
            ]
          })
        })
      )
    )
  })
