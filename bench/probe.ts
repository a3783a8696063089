/**
 * Reading an operator from outside, the way Prometheus and the kubelet do: its probe server's
 * `/readyz`, `/healthz` and `/metrics`. Works the same for an in-process and a child operator.
 */
import * as http from "node:http"
import { Data, Duration, Effect, Schedule } from "effect"
import { now } from "./report.js"

export class BenchError extends Data.TaggedError("BenchError")<{ readonly message: string }> {}

export interface ProbeResponse {
  readonly status: number
  readonly body: string
}

/** GET `http://127.0.0.1:<port><path>`; a refused connection is `status: 0`, not a failure. */
export const probeGet = (port: number, path: string): Effect.Effect<ProbeResponse> =>
  Effect.async<ProbeResponse>((resume, signal) => {
    const req = http.get({ host: "127.0.0.1", port, path, timeout: 5000, signal, agent: false }, (res) => {
      const chunks: Array<Buffer> = []
      res.on("data", (c: Buffer) => chunks.push(c))
      res.on("end", () => resume(Effect.succeed({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") })))
      res.on("error", () => resume(Effect.succeed({ status: 0, body: "" })))
    })
    req.on("timeout", () => req.destroy())
    req.on("error", () => {
      if (!signal.aborted) resume(Effect.succeed({ status: 0, body: "" }))
    })
  })

export interface Sample {
  readonly name: string
  readonly labels: Readonly<Record<string, string>>
  readonly value: number
}

const sampleLine = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/
const labelPair = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g

/** The samples of a Prometheus text exposition (comments skipped). */
export const parseMetrics = (text: string): ReadonlyArray<Sample> =>
  text.split("\n").flatMap((line) => {
    if (line.startsWith("#")) return []
    const m = sampleLine.exec(line)
    if (m === null) return []
    const labels: Record<string, string> = {}
    for (const l of (m[2] ?? "").matchAll(labelPair)) labels[l[1] ?? ""] = l[2] ?? ""
    return [{ name: m[1] ?? "", labels, value: Number(m[3]) }]
  })

/** Sum of the samples named `name` whose labels include `match`. */
export const sumOf = (samples: ReadonlyArray<Sample>, name: string, match: Readonly<Record<string, string>> = {}): number =>
  samples
    .filter((s) => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v))
    .reduce((n, s) => n + s.value, 0)

export const CONTROLLER = "applicationinstance"

/** What the benchmarks read off an operator's /metrics. */
export interface OperatorProgress {
  readonly reconciles: number
  readonly reconcileErrors: number
  readonly depth: number
  readonly activeWorkers: number
  /** Cached objects by informer resource (`applicationinstances.apps.vworkspace.io`, ...). */
  readonly cached: Readonly<Record<string, number>>
  /** Present when the operator exports Node.js process metrics (`Metrics.live`). */
  readonly heapUsedBytes: number | undefined
  /** V8's young generation as reserved now (`nodejs_heap_space_size_total_bytes{space="new"}`). */
  readonly newSpaceBytes: number | undefined
  readonly samples: ReadonlyArray<Sample>
}

export const readProgress = (port: number): Effect.Effect<OperatorProgress, BenchError> =>
  probeGet(port, "/metrics").pipe(
    Effect.flatMap((res) =>
      res.status === 200
        ? Effect.succeed(parseMetrics(res.body))
        : Effect.fail(new BenchError({ message: `GET /metrics on port ${port} answered ${res.status}` }))
    ),
    Effect.map((samples) => {
      const cached: Record<string, number> = {}
      for (const s of samples) {
        if (s.name === "vworkspace_operator_informer_cache_objects") cached[s.labels["kind"] ?? ""] = s.value
      }
      const heap = samples.find((s) => s.name === "nodejs_heap_size_used_bytes")
      const newSpace = samples.find((s) => s.name === "nodejs_heap_space_size_total_bytes" && s.labels["space"] === "new")
      return {
        reconciles: sumOf(samples, "controller_runtime_reconcile_total", { controller: CONTROLLER }),
        reconcileErrors: sumOf(samples, "controller_runtime_reconcile_total", { controller: CONTROLLER, result: "error" }),
        depth: sumOf(samples, "workqueue_depth", { name: CONTROLLER }),
        activeWorkers: sumOf(samples, "controller_runtime_active_workers", { controller: CONTROLLER }),
        cached,
        heapUsedBytes: heap?.value,
        newSpaceBytes: newSpace?.value,
        samples
      }
    })
  )

/** The progress, or undefined while the probe server does not answer (not listening yet). */
export const tryProgress = (port: number): Effect.Effect<OperatorProgress | undefined> =>
  readProgress(port).pipe(Effect.orElseSucceed(() => undefined))

/**
 * Polls `probe` every `interval` until it yields a value; fails with a BenchError naming `what`
 * after `timeout`. Returns the value and the `now()` at which it was seen.
 */
export const pollUntil = <A, E>(
  what: string,
  probe: Effect.Effect<A | undefined, E>,
  options: { readonly interval: Duration.DurationInput; readonly timeout: Duration.DurationInput }
): Effect.Effect<{ readonly value: A; readonly at: number }, E | BenchError> =>
  probe.pipe(
    Effect.flatMap((a) => (a === undefined ? Effect.fail("not yet" as const) : Effect.succeed({ value: a, at: now() }))),
    Effect.retry({ schedule: Schedule.spaced(options.interval), while: (e) => e === "not yet" }),
    Effect.timeoutFail({
      duration: options.timeout,
      onTimeout: () =>
        new BenchError({ message: `gave up waiting for ${what} after ${Duration.format(Duration.decode(options.timeout))}` })
    }),
    Effect.catchIf(
      (e): e is "not yet" => e === "not yet",
      () => Effect.fail(new BenchError({ message: `gave up waiting for ${what}` }))
    )
  )

/**
 * The first full pass: at least `reconciles` reconciles done, nothing queued and no worker busy.
 * (A pass over converged objects is all cache reads, so "drained" is reached quickly once the
 * last key has been handed out.)
 */
export const passDone = (port: number, reconciles: number): Effect.Effect<OperatorProgress | undefined> =>
    Effect.map(tryProgress(port), (p) =>
      p !== undefined && p.reconciles >= reconciles && p.depth === 0 && p.activeWorkers === 0 ? p : undefined
    )
