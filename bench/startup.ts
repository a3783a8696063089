/**
 * Start-up: the operator process started against N instances it has already converged; time to
 * caches synced (/readyz answers 200) and to the first full pass (N reconciles, queue drained).
 */
import { Duration, Effect } from "effect"
import { type BenchContext, convergedNamespace, describeError } from "./context.js"
import { maxWait } from "./fixtures.js"
import { spawnOperator } from "./operatorProcess.js"
import { BenchError, passDone, pollUntil, probeGet } from "./probe.js"
import { loadAverage, printTable, progress, seconds, verdict } from "./report.js"

export const FIRST_PASS_TARGET_SECONDS = 30

export const startupBench = (ctx: BenchContext): Effect.Effect<void, BenchError> =>
  Effect.scoped(
    Effect.gen(function* () {
      const n = ctx.options.count
      const namespace = yield* convergedNamespace(ctx, n)
      yield* progress(`startup: operator process against ${n} converged instances in ${namespace}`)
      const op = yield* spawnOperator(ctx, { namespace })
      const fast = { interval: Duration.millis(20), timeout: Duration.minutes(3) }
      const listening = yield* pollUntil(
        "the probe server to answer",
        Effect.zipRight(op.alive, Effect.map(probeGet(op.port, "/healthz"), (r) => (r.status === 0 ? undefined : r))),
        fast
      )
      const ready = yield* pollUntil(
        "/readyz to answer 200",
        Effect.zipRight(op.alive, Effect.map(probeGet(op.port, "/readyz"), (r) => (r.status === 200 ? r : undefined))),
        fast
      )
      const pass = yield* pollUntil("the first pass to finish", Effect.zipRight(op.alive, passDone(op.metricsPort, n)), {
        interval: Duration.millis(100),
        timeout: maxWait
      })
      const load = loadAverage()
      if (pass.value.reconcileErrors > 0) yield* progress(`startup: operator log tail:\n${op.logTail()}`)
      const total = pass.at - op.spawnedAt
      yield* printTable({
        title: `4. Start-up over ${n} converged instances`,
        caption: [
          `Method: \`node dist/src/cli/main.js run --watch-namespace <ns>\` (the container's command; built with npm run build) started as a child process against a namespace with ${n} managed instances the operator has already converged (plus their ${n} HelmReleases and ${n} HelmRepositories, which its informers also list).`,
          "Polled from outside: /healthz every 20 ms until the probe server answers, /readyz every 20 ms until 200 (every informer synced), then /metrics every 100 ms until `controller_runtime_reconcile_total` ≥ N with `workqueue_depth` 0 and no active worker."
        ],
        columns: ["milestone", "since spawn", "since previous", "target", "load avg 1/5/15"],
        rows: [
          ["probe server answering (process and module start)", seconds(listening.at - op.spawnedAt), "", "", ""],
          ["caches synced (/readyz 200)", seconds(ready.at - op.spawnedAt), seconds(ready.at - listening.at), "", ""],
          [
            `first full pass done (${pass.value.reconciles} reconciles, ${pass.value.reconcileErrors} errors)`,
            seconds(total),
            seconds(pass.at - ready.at),
            `< ${FIRST_PASS_TARGET_SECONDS} s — ${verdict(total < FIRST_PASS_TARGET_SECONDS * 1000)}`,
            load
          ]
        ],
        notes:
          pass.value.reconcileErrors > 0
            ? [`${pass.value.reconcileErrors} reconciles failed: this is not a healthy run; the operator's log tail is on stderr.`]
            : []
      })
    })
  ).pipe(Effect.catchAllDefect((d) => Effect.fail(new BenchError({ message: `startup: ${describeError(d)}` }))))
