/**
 * Destructive operations on a cluster this process launched, for fault tests: stopping and
 * restarting kube-apiserver (same etcd, port and certificates) and compacting etcd. Never point
 * these at a cluster other tests share.
 */
import * as fs from "node:fs"
import * as http from "node:http"
import * as path from "node:path"
import { Data, Duration, Effect, Schedule, Schema } from "effect"
import type { ClusterInfo } from "./cluster.js"
import { FileError, StartFailed, errorMessage } from "./errors.js"
import { request, targetFromKubeconfig } from "./http.js"
import { pidMatches, readLogTail, spawnDaemon, stopPid } from "./process.js"

/** etcd's HTTP/JSON gateway answered with an error, or could not be reached. */
export class EtcdRequestFailed extends Data.TaggedError("EtcdRequestFailed")<{
  readonly path: string
  readonly reason: string
}> {
  override get message(): string {
    return `etcd ${this.path}: ${this.reason}`
  }
}

/** How the API server was started: its program and arguments, as read from /proc. */
export interface StoppedApiServer {
  readonly program: string
  readonly args: ReadonlyArray<string>
}

/**
 * Stops the cluster's kube-apiserver (SIGKILL: a crash; SIGTERM: a graceful shutdown, SIGKILL
 * after a grace period) and returns its command line, so it can be started again as it was.
 */
export const stopApiServer = (
  info: ClusterInfo,
  signal: "SIGTERM" | "SIGKILL" = "SIGKILL"
): Effect.Effect<StoppedApiServer, FileError> =>
  Effect.gen(function* () {
    const pid = info.apiserver.pid
    if (!pidMatches(pid, info.dir + path.sep)) {
      return yield* new FileError({ path: `/proc/${pid}`, message: "the cluster's kube-apiserver is not running" })
    }
    const argv = yield* Effect.try({
      try: () => fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter((a) => a !== ""),
      catch: (e) => new FileError({ path: `/proc/${pid}/cmdline`, message: errorMessage(e) })
    })
    const [program, ...args] = argv
    if (program === undefined) return yield* new FileError({ path: `/proc/${pid}/cmdline`, message: "empty command line" })
    if (signal === "SIGKILL") {
      yield* Effect.sync(() => {
        try {
          process.kill(pid, "SIGKILL")
        } catch {
          // already gone
        }
      })
    }
    // After SIGKILL this only waits for the exit; otherwise it is the graceful stop.
    yield* stopPid(pid, Duration.seconds(20))
    return { program, args }
  })

/** A flag's name: `--watch-cache=false` → `--watch-cache`. */
const flagName = (arg: string): string => arg.split("=")[0] ?? arg

/**
 * Starts kube-apiserver again with the command line `stopApiServer` returned (`extraArgs` replace
 * flags of the same name), logging to the same file, and waits for /readyz. Returns the cluster's
 * description with the new PID; `stopCluster` stops the new process either way, since it finds
 * the cluster's processes by their folder.
 */
export const startApiServer = (
  info: ClusterInfo,
  stopped: StoppedApiServer,
  options: { readonly extraArgs?: ReadonlyArray<string>; readonly readyTimeout?: Duration.DurationInput } = {}
): Effect.Effect<ClusterInfo, StartFailed | FileError> =>
  Effect.gen(function* () {
    const extra = options.extraArgs ?? []
    const replaced = new Set(extra.map(flagName))
    const args = [...stopped.args.filter((a) => !replaced.has(flagName(a))), ...extra]
    const daemon = yield* spawnDaemon(stopped.program, args, info.apiserver.logFile, false)
    const target = yield* targetFromKubeconfig(info.kubeconfigPath)
    const timeout = options.readyTimeout ?? Duration.seconds(60)
    const startFailed = (reason: string) =>
      new StartFailed({ component: "kube-apiserver", reason, logFile: info.apiserver.logFile, logTail: readLogTail(info.apiserver.logFile) })
    const probe = request(target, { method: "GET", path: "/readyz", timeout: Duration.seconds(5) }).pipe(
      Effect.map((res) => res.status === 200),
      Effect.orElseSucceed(() => false),
      Effect.flatMap((ready) =>
        ready
          ? Effect.void
          : daemon.exited()
            ? Effect.fail(startFailed("kube-apiserver exited during restart"))
            : Effect.fail(null)
      )
    )
    yield* probe.pipe(
      Effect.retry({ schedule: Schedule.spaced(Duration.millis(100)), while: (e) => e === null }),
      Effect.timeoutFail({
        duration: timeout,
        onTimeout: () => startFailed(`kube-apiserver not ready within ${Duration.format(Duration.decode(timeout))} after restart`)
      }),
      Effect.mapError((e) => (e === null ? startFailed("kube-apiserver not ready after restart") : e))
    )
    return { ...info, apiserver: { ...info.apiserver, pid: daemon.pid } }
  })

/** Stops kube-apiserver and starts it again: same etcd, port, certificates and flags. */
export const restartApiServer = (
  info: ClusterInfo,
  options: {
    readonly signal?: "SIGTERM" | "SIGKILL"
    readonly extraArgs?: ReadonlyArray<string>
    readonly readyTimeout?: Duration.DurationInput
  } = {}
): Effect.Effect<ClusterInfo, StartFailed | FileError> =>
  Effect.flatMap(stopApiServer(info, options.signal), (stopped) => startApiServer(info, stopped, options))

const EtcdHeader = Schema.Struct({ header: Schema.Struct({ revision: Schema.String }) })

/** POST of a JSON body to etcd's gRPC gateway on its loopback client URL. */
const etcdPost = (info: ClusterInfo, gatewayPath: string, body: unknown): Effect.Effect<unknown, EtcdRequestFailed> =>
  Effect.async<unknown, EtcdRequestFailed>((resume, signal) => {
    const fail = (reason: string) => resume(Effect.fail(new EtcdRequestFailed({ path: gatewayPath, reason })))
    const payload = JSON.stringify(body)
    const r = http.request(
      {
        host: "127.0.0.1",
        port: info.etcd.clientPort,
        path: gatewayPath,
        method: "POST",
        headers: { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(payload) },
        timeout: 10_000,
        signal
      },
      (res) => {
        const chunks: Array<Buffer> = []
        res.on("data", (c: Buffer) => chunks.push(c))
        res.on("error", (e) => fail(errorMessage(e)))
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8")
          if (res.statusCode !== 200) return fail(`HTTP ${res.statusCode}: ${text.slice(0, 500)}`)
          try {
            resume(Effect.succeed(JSON.parse(text) as unknown))
          } catch (e) {
            fail(`bad JSON: ${errorMessage(e)}`)
          }
        })
      }
    )
    r.on("timeout", () => r.destroy(new Error("no answer within 10 s")))
    r.on("error", (e) => {
      if (!signal.aborted) fail(errorMessage(e))
    })
    r.end(payload)
  })

const revisionOf = (gatewayPath: string) => (answer: unknown) =>
  Schema.decodeUnknown(EtcdHeader)(answer).pipe(
    Effect.flatMap((a) => {
      const revision = Number(a.header.revision)
      return Number.isSafeInteger(revision) && revision > 0
        ? Effect.succeed(revision)
        : Effect.fail(new EtcdRequestFailed({ path: gatewayPath, reason: `bad revision ${a.header.revision}` }))
    }),
    Effect.catchTag("ParseError", (e) => Effect.fail(new EtcdRequestFailed({ path: gatewayPath, reason: e.message })))
  )

/** etcd's current revision (the header of a range request on any key). */
export const etcdRevision = (info: ClusterInfo): Effect.Effect<number, EtcdRequestFailed> =>
  etcdPost(info, "/v3/kv/range", { key: Buffer.from("/registry").toString("base64") }).pipe(
    Effect.flatMap(revisionOf("/v3/kv/range"))
  )

/**
 * Compacts etcd's history up to its current revision, physically: a watch that starts from any
 * older resourceVersion and is served by etcd (not by the API server's watch cache) gets 410 Gone.
 * Returns the revision compacted to.
 */
export const compactEtcd = (info: ClusterInfo): Effect.Effect<number, EtcdRequestFailed> =>
  Effect.gen(function* () {
    const revision = yield* etcdRevision(info)
    yield* etcdPost(info, "/v3/kv/compaction", { revision: String(revision), physical: true })
    return revision
  })
