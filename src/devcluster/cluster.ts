import * as fs from "node:fs"
import * as http from "node:http"
import * as os from "node:os"
import * as path from "node:path"
import { Duration, Effect, Schedule, Schema, type Scope } from "effect"
import { ensureBinaries } from "./binaries.js"
import { type CommandFailed, FileError, StartFailed, errorMessage } from "./errors.js"
import { type ApiTarget, request, targetFromKubeconfig } from "./http.js"
import { writeKubeconfig } from "./kubeconfig.js"
import { createCa, createServiceAccountKeys, issueClientCert, issueServingCert } from "./pki.js"
import { type Daemon, freePort, isAlive, pidMatches, readLogTail, spawnDaemon, stopPid } from "./process.js"
import { ETCD_VERSION, K8S_VERSION } from "./versions.js"

/** What describes a running cluster; also its on-disk record (`cluster.json` in its dir). */
export const ClusterInfo = Schema.Struct({
  dir: Schema.String,
  kubeconfigPath: Schema.String,
  server: Schema.String,
  pkiDir: Schema.String,
  k8sVersion: Schema.String,
  etcdVersion: Schema.String,
  etcd: Schema.Struct({ pid: Schema.Number, clientPort: Schema.Number, peerPort: Schema.Number, logFile: Schema.String }),
  apiserver: Schema.Struct({ pid: Schema.Number, port: Schema.Number, logFile: Schema.String }),
  controllerManager: Schema.Struct({ pid: Schema.Number, logFile: Schema.String })
})
export type ClusterInfo = typeof ClusterInfo.Type

export interface LaunchOptions {
  /** Cluster folder; created fresh (emptied if it exists). Default: a new temp dir. */
  readonly dir?: string
  /** Daemons outlive this process (`dev-cluster up`); otherwise they die with it. */
  readonly detached?: boolean
  /** How long etcd and the API server each get to become ready. */
  readonly startTimeout?: Duration.DurationInput
}

const TEMP_PREFIX = "vworkspace-devcluster-"
const OWNER_FILE = "owner.json"

const fileError = (p: string) => (e: unknown) => new FileError({ path: p, message: errorMessage(e) })

/**
 * The etcd, kube-apiserver and kube-controller-manager processes of the cluster in `dir`, found through /proc: the program
 * is one of ours and an argument points into the folder. (Not, say, a `tail -f` of its log.)
 */
const clusterProcesses = (dir: string): ReadonlyArray<number> => {
  try {
    return fs
      .readdirSync("/proc")
      .filter((d) => /^\d+$/.test(d))
      .map(Number)
      .filter((pid) => {
        try {
          const argv = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0")
          return /\/(etcd|kube-apiserver|kube-controller-manager)$/.test(argv[0] ?? "") && argv.some((a) => a.includes(dir + path.sep))
        } catch {
          return false
        }
      })
  } catch {
    return []
  }
}

/**
 * Synchronous last-resort cleanup for an ephemeral cluster: on exit, SIGINT or SIGTERM of this
 * process its daemons are killed and its folder removed. Returns the function that unregisters it.
 */
const registerEmergencyCleanup = (dir: string): (() => void) => {
  const cleanup = () => {
    for (const pid of clusterProcesses(dir)) {
      try {
        process.kill(pid, "SIGKILL")
      } catch {
        // already gone
      }
    }
    try {
      fs.rmSync(dir, { recursive: true, force: true, maxRetries: 3 })
    } catch {
      // best effort on the way out
    }
  }
  const onSignal = (signal: NodeJS.Signals) => {
    cleanup()
    unregister()
    // Restore the default behaviour of the signal when nobody else handles it.
    if (process.listenerCount(signal) === 0) process.kill(process.pid, signal)
  }
  const unregister = () => {
    process.removeListener("exit", cleanup)
    process.removeListener("SIGINT", onSignal)
    process.removeListener("SIGTERM", onSignal)
  }
  // First in line: other handlers (vitest's) call process.exit() from their own 'exit' listener,
  // which ends the process before any later listener runs.
  process.prependOnceListener("exit", cleanup)
  process.prependOnceListener("SIGINT", onSignal)
  process.prependOnceListener("SIGTERM", onSignal)
  return unregister
}

/**
 * Removes temp clusters left behind by a harness process that died without cleaning up (kill -9):
 * their owner process is gone, so their daemons are killed and their folders removed.
 */
export const sweepOrphans: Effect.Effect<void> = Effect.sync(() => {
  const tmp = os.tmpdir()
  for (const name of fs.readdirSync(tmp).filter((n) => n.startsWith(TEMP_PREFIX))) {
    const dir = path.join(tmp, name)
    try {
      const owner: unknown = JSON.parse(fs.readFileSync(path.join(dir, OWNER_FILE), "utf8"))
      const pid = typeof owner === "object" && owner !== null && "pid" in owner ? Number(owner.pid) : NaN
      if (!Number.isInteger(pid) || isAlive(pid)) continue
      for (const p of clusterProcesses(dir)) process.kill(p, "SIGKILL")
      fs.rmSync(dir, { recursive: true, force: true })
    } catch {
      // not ours or already being removed
    }
  }
})

/** Distinct free loopback ports. */
const freePorts = (n: number): Effect.Effect<ReadonlyArray<number>, FileError> =>
  Effect.gen(function* () {
    const ports = new Set<number>()
    while (ports.size < n) ports.add(yield* freePort)
    return [...ports]
  })

/** Polls `probe` until it succeeds; fails fast when the daemon dies, and after `timeout`. */
const waitReady = (
  component: string,
  daemon: Daemon,
  logFile: string,
  timeout: Duration.DurationInput,
  probe: Effect.Effect<boolean>
): Effect.Effect<void, StartFailed> => {
  const startFailed = (message: string) => new StartFailed({ component, reason: message, logFile, logTail: readLogTail(logFile) })
  const once = Effect.flatMap(probe, (ready) =>
    ready
      ? Effect.void
      : daemon.exited()
        ? Effect.fail(startFailed(`${component} exited during start`))
        : Effect.fail(null)
  )
  return once.pipe(
    Effect.retry({ schedule: Schedule.spaced(Duration.millis(100)), while: (e) => e === null }),
    Effect.timeoutFail({
      duration: timeout,
      onTimeout: () => startFailed(`${component} not ready within ${Duration.format(Duration.decode(timeout))}`)
    }),
    Effect.mapError((e) => (e === null ? startFailed(`${component} not ready`) : e))
  )
}

const etcdHealthy = (port: number): Effect.Effect<boolean> =>
  Effect.async<boolean>((resume) => {
    const req = http.get({ host: "127.0.0.1", port, path: "/health", timeout: 2000 }, (res) => {
      let body = ""
      res.on("data", (c: Buffer) => (body += c.toString("utf8")))
      res.on("end", () => resume(Effect.succeed(res.statusCode === 200 && body.includes('"health":"true"'))))
      res.on("error", () => resume(Effect.succeed(false)))
    })
    req.on("timeout", () => req.destroy())
    req.on("error", () => resume(Effect.succeed(false)))
  })

/**
 * The controllers of kube-controller-manager the cluster runs: garbage collection (ownerReference
 * cascades, Background propagation), namespace deletion, Jobs and their TTL, ServiceAccounts, and
 * the workload controllers. Nothing that needs nodes or a cloud (no pod GC of unbound pods, no
 * node lifecycle), and no root-CA publisher: its `kube-root-ca.crt` ConfigMap in every namespace is
 * read only by kubelets, and would show up in every test's ConfigMap list.
 */
export const controllerManagerControllers: ReadonlyArray<string> = [
  "garbage-collector-controller",
  "namespace-controller",
  "job-controller",
  "cronjob-controller",
  "ttl-after-finished-controller",
  "serviceaccount-controller",
  "serviceaccount-token-controller",
  "replicaset-controller",
  "deployment-controller",
  "statefulset-controller"
]

/** The serviceaccount controller has created `default/default`: the controller manager runs. */
const defaultServiceAccountExists = (target: ApiTarget): Effect.Effect<boolean> =>
  request(target, { method: "GET", path: "/api/v1/namespaces/default/serviceaccounts/default", timeout: Duration.seconds(5) }).pipe(
    Effect.map((res) => res.status === 200),
    Effect.orElseSucceed(() => false)
  )

const apiserverReady = (target: ApiTarget): Effect.Effect<boolean> =>
  request(target, { method: "GET", path: "/readyz", timeout: Duration.seconds(5) }).pipe(
    Effect.map((res) => res.status === 200),
    Effect.orElseSucceed(() => false)
  )

/**
 * Starts etcd and kube-apiserver on free loopback ports, with a fresh CA, serving and admin
 * certificates and service-account keys, writes an admin kubeconfig and waits for /readyz; then
 * kube-controller-manager with that kubeconfig and the service-account key.
 * On failure everything started so far is stopped and the folder removed; the error carries the
 * failing component's log tail.
 */
export const launchCluster = (
  options: LaunchOptions = {}
): Effect.Effect<ClusterInfo, CommandFailed | StartFailed | FileError> =>
  Effect.gen(function* () {
    const detached = options.detached ?? false
    const timeout = options.startTimeout ?? Duration.seconds(90)
    const bins = yield* ensureBinaries
    if (!detached) yield* sweepOrphans
    const dir = yield* Effect.try({
      try: () => {
        if (options.dir === undefined) return fs.mkdtempSync(path.join(os.tmpdir(), TEMP_PREFIX))
        fs.rmSync(options.dir, { recursive: true, force: true })
        fs.mkdirSync(options.dir, { recursive: true, mode: 0o700 })
        return options.dir
      },
      catch: fileError(options.dir ?? os.tmpdir())
    })
    const unregister = registerEmergencyCleanup(dir)

    const start = Effect.gen(function* () {
      yield* Effect.try({
        try: () => fs.writeFileSync(path.join(dir, OWNER_FILE), JSON.stringify({ pid: process.pid, detached })),
        catch: fileError(dir)
      })
      const pkiDir = path.join(dir, "pki")
      yield* Effect.try({ try: () => fs.mkdirSync(pkiDir, { mode: 0o700 }), catch: fileError(pkiDir) })
      const pki = yield* createCa(pkiDir)
      const [serving, admin, sa] = yield* Effect.all(
        [issueServingCert(pki), issueClientCert(pki, "admin", "admin", ["system:masters"]), createServiceAccountKeys(pkiDir)],
        { concurrency: 3 }
      )
      const [clientPort = 0, peerPort = 0, apiPort = 0] = yield* freePorts(3)

      const etcdLog = path.join(dir, "etcd.log")
      const etcdPeer = `http://127.0.0.1:${peerPort}`
      const etcdClient = `http://127.0.0.1:${clientPort}`
      const etcd = yield* spawnDaemon(
        bins.etcd,
        [
          "--name=vworkspace-dev",
          `--data-dir=${path.join(dir, "etcd-data")}`,
          `--listen-client-urls=${etcdClient}`,
          `--advertise-client-urls=${etcdClient}`,
          `--listen-peer-urls=${etcdPeer}`,
          `--initial-advertise-peer-urls=${etcdPeer}`,
          `--initial-cluster=vworkspace-dev=${etcdPeer}`,
          "--initial-cluster-state=new",
          // Throwaway data: durability buys nothing and fsync dominates on shared disks.
          "--unsafe-no-fsync=true",
          "--log-level=warn"
        ],
        etcdLog,
        detached
      )
      yield* waitReady("etcd", etcd, etcdLog, timeout, etcdHealthy(clientPort))

      const apiLog = path.join(dir, "kube-apiserver.log")
      const server = `https://127.0.0.1:${apiPort}`
      const apiserver = yield* spawnDaemon(
        bins.kubeApiserver,
        [
          "--bind-address=127.0.0.1",
          "--advertise-address=127.0.0.1",
          `--secure-port=${apiPort}`,
          `--tls-cert-file=${serving.cert}`,
          `--tls-private-key-file=${serving.key}`,
          `--client-ca-file=${pki.caCert}`,
          `--etcd-servers=${etcdClient}`,
          "--authorization-mode=RBAC",
          // Configuration only: nothing routes to it.
          "--service-cluster-ip-range=10.0.0.0/24",
          "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
          `--service-account-key-file=${sa.publicKey}`,
          `--service-account-signing-key-file=${sa.privateKey}`,
          // Pods the tests create name ServiceAccounts that may not exist; envtest disables the
          // plugin for the same reason (the controller manager still creates `default`).
          "--disable-admission-plugins=ServiceAccount",
          // As hardened clusters do: setting blockOwnerDeletion needs update on the owner's finalizers.
          "--enable-admission-plugins=OwnerReferencesPermissionEnforcement",
          // The default reconciler publishes the advertise address as the `kubernetes` Endpoints,
          // and a loopback address is not a valid endpoint.
          "--endpoint-reconciler-type=none",
          "--allow-privileged=true",
          `--cert-dir=${path.join(dir, "apiserver-certs")}`
        ],
        apiLog,
        detached
      )
      const kubeconfigPath = path.join(dir, "kubeconfig")
      yield* writeKubeconfig(kubeconfigPath, { server, caFile: pki.caCert, certFile: admin.cert, keyFile: admin.key, user: "admin" })
      const target = yield* targetFromKubeconfig(kubeconfigPath)
      yield* waitReady("kube-apiserver", apiserver, apiLog, timeout, apiserverReady(target))

      const kcmLog = path.join(dir, "kube-controller-manager.log")
      const controllerManager = yield* spawnDaemon(
        bins.kubeControllerManager,
        [
          `--kubeconfig=${kubeconfigPath}`,
          // No serving endpoint: readiness is the default ServiceAccount its controller creates.
          "--secure-port=0",
          "--leader-elect=false",
          `--controllers=${controllerManagerControllers.join(",")}`,
          `--service-account-private-key-file=${sa.privateKey}`,
          `--root-ca-file=${pki.caCert}`,
          "--use-service-account-credentials=false",
          "--v=1"
        ],
        kcmLog,
        detached
      )
      yield* waitReady("kube-controller-manager", controllerManager, kcmLog, timeout, defaultServiceAccountExists(target))

      const info: ClusterInfo = {
        dir,
        kubeconfigPath,
        server,
        pkiDir,
        k8sVersion: K8S_VERSION,
        etcdVersion: ETCD_VERSION,
        etcd: { pid: etcd.pid, clientPort, peerPort, logFile: etcdLog },
        apiserver: { pid: apiserver.pid, port: apiPort, logFile: apiLog },
        controllerManager: { pid: controllerManager.pid, logFile: kcmLog }
      }
      yield* Effect.try({
        try: () => fs.writeFileSync(path.join(dir, "cluster.json"), JSON.stringify(info, null, 2)),
        catch: fileError(dir)
      })
      return info
    })

    return yield* start.pipe(
      Effect.tapErrorCause(() => removeCluster(dir)),
      // A detached cluster must survive this process; an ephemeral one keeps the guard until stopped.
      Effect.ensuring(Effect.sync(() => (detached ? unregister() : undefined))),
      Effect.tap(() => Effect.sync(() => (detached ? undefined : emergencyGuards.set(dir, unregister))))
    )
  })

const emergencyGuards = new Map<string, () => void>()

/** Kills every process started for the cluster in `dir` and removes the folder. */
const removeCluster = (dir: string): Effect.Effect<void> =>
  Effect.gen(function* () {
    yield* Effect.forEach(clusterProcesses(dir), (pid) => stopPid(pid, Duration.seconds(5)), { discard: true })
    yield* Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true, maxRetries: 3 }))
  }).pipe(Effect.ignore)

/**
 * Stops a cluster: the controller manager, then the API server (so neither logs errors on the way
 * down), then etcd, each by PID and only if the PID still belongs to this cluster; then removes
 * its folder.
 */
export const stopCluster = (info: ClusterInfo): Effect.Effect<void> =>
  Effect.gen(function* () {
    for (const pid of [info.controllerManager.pid, info.apiserver.pid, info.etcd.pid]) {
      if (pidMatches(pid, info.dir + path.sep)) yield* stopPid(pid)
    }
    yield* removeCluster(info.dir)
    const unregister = emergencyGuards.get(info.dir)
    emergencyGuards.delete(info.dir)
    unregister?.()
  })

/** Whether all daemons of the cluster are still running. */
export const clusterAlive = (info: ClusterInfo): boolean =>
  [info.controllerManager.pid, info.apiserver.pid, info.etcd.pid].every((pid) => pidMatches(pid, info.dir + path.sep))

/** A cluster for the lifetime of the enclosing Scope. */
export const scopedCluster = (
  options: Omit<LaunchOptions, "detached"> = {}
): Effect.Effect<ClusterInfo, CommandFailed | StartFailed | FileError, Scope.Scope> =>
  Effect.acquireRelease(launchCluster({ ...options, detached: false }), stopCluster)
