/**
 * The operator as its own process, as the container image runs it (`node dist/src/cli/main.js
 * run`), so its memory is measured apart from the harness's. The sources are built once per bench
 * run, as the image builds them, into a private folder under .cache (never the repo's dist/).
 */
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { Duration, Effect, Schedule, type Scope } from "effect"
import { buildCli } from "../scripts/build.js"
import { repoRoot } from "../src/devcluster/index.js"
import { freePort, stopPid } from "../src/devcluster/process.js"
import type { BenchContext } from "./context.js"
import { type InClusterAuth, inClusterCommand, kubeconfigAuth, type OperatorAuth } from "./inClusterAuth.js"
import { BenchError } from "./probe.js"
import { now, progress } from "./report.js"

// In the checkout itself (git-ignored): node_modules may be shared by several checkouts.
const outDir = (): string => path.join(repoRoot(), ".cache", "vworkspace-bench", "dist")

let compiled: string | undefined

/** Builds the CLI with the image's build (`npm run build`, scripts/build.ts) into the private folder. */
export const compiledOperator: Effect.Effect<string, BenchError> = Effect.suspend(() => {
  if (compiled !== undefined) return Effect.succeed(compiled)
  const dir = outDir()
  return Effect.gen(function* () {
    yield* progress(`building the operator into ${path.relative(repoRoot(), dir)}`)
    yield* Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
    const main = yield* Effect.tryPromise({
      try: () => buildCli(dir),
      catch: (e) => new BenchError({ message: `building the operator failed: ${String(e)}` })
    })
    compiled = main
    return main
  })
})

export interface OperatorProcess {
  readonly pid: number
  /** Port of its probe server (/healthz, /readyz). */
  readonly port: number
  /** Port of its plain-HTTP /metrics. */
  readonly metricsPort: number
  /** `now()` right after spawn. */
  readonly spawnedAt: number
  /** Fails with the log tail once the process has exited. */
  readonly alive: Effect.Effect<void, BenchError>
  /** The last lines it wrote (warnings and errors only: it runs with --log-level warn). */
  readonly logTail: () => string
}

const LOG_TAIL = 16 * 1024

/** Node.js flags for every operator process, from `--node-options` (space-separated). */
const nodeFlags = (ctx: BenchContext): ReadonlyArray<string> => ctx.options.nodeOptions.split(" ").filter((f) => f !== "")

/**
 * `vworkspace-operator run --watch-namespace <namespace>` as a child process for the lifetime of
 * the scope; stopped by PID (SIGTERM, then SIGKILL) when the scope closes.
 */
export const spawnOperator = (
  ctx: BenchContext,
  options: {
    readonly namespace: string
    readonly resyncSeconds?: number
    readonly auth?: OperatorAuth
    readonly extraArgs?: ReadonlyArray<string>
  }
): Effect.Effect<OperatorProcess, BenchError, Scope.Scope> =>
  Effect.gen(function* () {
    const main = yield* compiledOperator
    const port = yield* freePort.pipe(Effect.mapError((e) => new BenchError({ message: `no free port: ${e.message}` })))
    const auth = options.auth ?? kubeconfigAuth
    const metricsPort = yield* freePort.pipe(Effect.mapError((e) => new BenchError({ message: `no free port: ${e.message}` })))
    const args = [
      ...nodeFlags(ctx),
      main,
      "run",
      ...(auth._tag === "kubeconfig" ? ["--kubeconfig", ctx.kubeconfigPath] : []),
      "--watch-namespace",
      options.namespace,
      "--health-probe-bind-address",
      `127.0.0.1:${port}`,
      "--metrics-bind-address",
      `127.0.0.1:${metricsPort}`,
      "--metrics-secure=false",
      "--max-concurrent-reconciles",
      String(ctx.options.workers),
      "--resync-period-seconds",
      String(options.resyncSeconds ?? 600),
      "--log-level",
      "warn",
      ...(options.extraArgs ?? [])
    ]
    let output = ""
    let exit: string | undefined
    const child = yield* Effect.acquireRelease(
      Effect.try({
        try: (): ChildProcess => {
          const { KUBECONFIG: _ignored, ...env } = process.env
          const c =
            auth._tag === "kubeconfig"
              ? spawn(process.execPath, args, { cwd: repoRoot(), stdio: ["ignore", "pipe", "pipe"], env: { ...env, NODE_ENV: "production" } })
              : spawnInCluster(auth.auth, args, env)
          const keep = (d: Buffer) => {
            output = (output + d.toString("utf8")).slice(-LOG_TAIL)
          }
          c.stdout?.on("data", keep)
          c.stderr?.on("data", keep)
          c.on("exit", (code, signal) => {
            exit = `exited with ${signal ?? code}`
          })
          c.on("error", (e) => {
            exit = `failed: ${e.message}`
          })
          if (c.pid === undefined) throw new Error("no pid")
          return c
        },
        catch: (e) => new BenchError({ message: `could not start the operator: ${String(e)}` })
      }),
      (c) => (exit === undefined && c.pid !== undefined ? stopPid(c.pid) : Effect.void)
    )
    const spawnedAt = now()
    const pid = child.pid ?? 0
    return {
      pid,
      port,
      metricsPort,
      spawnedAt,
      logTail: () => output.split("\n").slice(-20).join("\n"),
      alive: Effect.suspend(() =>
        exit === undefined
          ? Effect.void
          : Effect.fail(new BenchError({ message: `operator process ${pid} ${exit}; last output:\n${output}` }))
      )
    }
  })

/** The operator as in a Pod: no kubeconfig anywhere, the service account mounted, the service env set. */
const spawnInCluster = (auth: InClusterAuth, nodeArgs: ReadonlyArray<string>, env: NodeJS.ProcessEnv): ChildProcess => {
  const { command, args } = inClusterCommand(auth, nodeArgs)
  return spawn(command, args, {
    cwd: repoRoot(),
    stdio: ["ignore", "pipe", "pipe"],
    env: {
      ...env,
      NODE_ENV: "production",
      // No ~/.kube/config to find: the in-cluster service account is the only credential.
      HOME: auth.dir,
      VWS_SA_DIR: auth.dir,
      KUBERNETES_SERVICE_HOST: auth.host,
      KUBERNETES_SERVICE_PORT: auth.port
    }
  })
}

export interface MemoryReading {
  /** VmRSS: resident set size now. */
  readonly rssBytes: number
  /** VmHWM: the largest RSS the process has had. */
  readonly peakRssBytes: number
}

/** RSS of `pid` from /proc/<pid>/status. */
export const readMemory = (pid: number): Effect.Effect<MemoryReading, BenchError> =>
  Effect.try({
    try: () => {
      const status = fs.readFileSync(`/proc/${pid}/status`, "utf8")
      const kib = (field: string): number => {
        const m = new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, "m").exec(status)
        if (m === null) throw new Error(`no ${field} in /proc/${pid}/status`)
        return Number(m[1]) * 1024
      }
      return { rssBytes: kib("VmRSS"), peakRssBytes: kib("VmHWM") }
    },
    catch: (e) => new BenchError({ message: `cannot read the memory of process ${pid}: ${String(e)}` })
  })

/**
 * A reference process for the memory table: Node.js with every runtime dependency of package.json
 * imported and nothing else running. Prints `ready <heapUsed>` once loaded, then idles (at most
 * two minutes) until the scope closes and stops it.
 */
/** The runtime dependencies of package.json. */
export const runtimeDependencies = (): ReadonlyArray<string> => {
  const pkg: unknown = JSON.parse(fs.readFileSync(path.join(repoRoot(), "package.json"), "utf8"))
  return typeof pkg === "object" && pkg !== null && "dependencies" in pkg && typeof pkg.dependencies === "object" && pkg.dependencies !== null
    ? Object.keys(pkg.dependencies)
    : []
}

/** Node.js with `deps` (default: every runtime dependency) imported, idle. */
export const spawnDependencyBaseline = (
  deps: ReadonlyArray<string> = runtimeDependencies()
): Effect.Effect<
  { readonly pid: number; readonly heapUsedBytes: number; readonly modules: ReadonlyArray<string> },
  BenchError,
  Scope.Scope
> => Effect.gen(function* () {
  const code = [
    `for (const m of ${JSON.stringify(deps)}) await import(m)`,
    "setTimeout(() => process.exit(0), 120000)",
    "setTimeout(() => console.log(`ready ${process.memoryUsage().heapUsed}`), 1000)"
  ].join("\n")
  let exit: string | undefined
  let heap: number | undefined
  let output = ""
  const child = yield* Effect.acquireRelease(
    Effect.try({
      try: () => {
        const c = spawn(process.execPath, ["--input-type=module", "-e", code], {
          cwd: repoRoot(),
          stdio: ["ignore", "pipe", "pipe"]
        })
        const keep = (d: Buffer) => {
          output = (output + d.toString("utf8")).slice(-LOG_TAIL)
          const m = /ready (\d+)/.exec(output)
          if (m !== null) heap = Number(m[1])
        }
        c.stdout?.on("data", keep)
        c.stderr?.on("data", keep)
        c.on("exit", (code, signal) => {
          exit = `exited with ${signal ?? code}`
        })
        if (c.pid === undefined) throw new Error("no pid")
        return c
      },
      catch: (e) => new BenchError({ message: `could not start the baseline process: ${String(e)}` })
    }),
    (c) => (exit === undefined && c.pid !== undefined ? stopPid(c.pid) : Effect.void)
  )
  const heapUsedBytes = yield* Effect.suspend((): Effect.Effect<number, BenchError | "not yet"> =>
    heap !== undefined
      ? Effect.succeed(heap)
      : exit !== undefined
        ? Effect.fail(new BenchError({ message: `baseline process ${exit}:\n${output}` }))
        : Effect.fail("not yet" as const)
  ).pipe(
    Effect.retry({ schedule: Schedule.spaced(Duration.millis(100)), while: (e) => e === "not yet" }),
    Effect.timeoutFail({ duration: Duration.minutes(1), onTimeout: () => new BenchError({ message: "baseline process did not load" }) }),
    Effect.catchIf(
      (e): e is "not yet" => e === "not yet",
      () => Effect.fail(new BenchError({ message: "baseline process did not load" }))
    )
  )
  return { pid: child.pid ?? 0, heapUsedBytes, modules: deps }
})
