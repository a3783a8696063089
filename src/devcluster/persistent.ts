import * as fs from "node:fs"
import * as path from "node:path"
import { Effect, Schema } from "effect"
import { type ClusterInfo as ClusterInfoType, ClusterInfo, clusterAlive, launchCluster, stopCluster } from "./cluster.js"
import { allCrds, installAllCrds } from "./crds.js"
import { type CommandFailed, type CrdInstallFailed, DevClusterStateError, FileError, type StartFailed, errorMessage } from "./errors.js"
import { targetFromKubeconfig } from "./http.js"
import { cacheRoot } from "./paths.js"

/** `dev-cluster up` keeps one cluster across processes; its record lives here. */
export const devClusterHome = (): string => path.join(cacheRoot(), "dev-cluster")
const stateFile = () => path.join(devClusterHome(), "state.json")

const decodeState = Schema.decodeUnknown(Schema.parseJson(ClusterInfo))

/** The recorded persistent cluster, if any (running or not). */
export const readState: Effect.Effect<ClusterInfoType | undefined, FileError> = Effect.suspend(() => {
  const file = stateFile()
  if (!fs.existsSync(file)) return Effect.succeed(undefined)
  return Effect.try({ try: () => fs.readFileSync(file, "utf8"), catch: (e) => new FileError({ path: file, message: errorMessage(e) }) }).pipe(
    Effect.flatMap(decodeState),
    Effect.mapError((e) => (e._tag === "FileError" ? e : new FileError({ path: file, message: e.message })))
  )
})

export interface UpResult {
  readonly info: ClusterInfoType
  readonly alreadyRunning: boolean
  readonly crds: ReadonlyArray<string>
}

/**
 * Starts the persistent cluster (detached daemons, state in the cache) and installs all CRDs.
 * When it already runs, the CRDs are re-applied and the same cluster is returned. A recorded
 * cluster whose daemons died is cleaned up and replaced.
 */
export const up: Effect.Effect<UpResult, CommandFailed | StartFailed | FileError | CrdInstallFailed> = Effect.gen(function* () {
  const existing = yield* readState
  const alreadyRunning = existing !== undefined && clusterAlive(existing)
  const start: Effect.Effect<ClusterInfoType, CommandFailed | StartFailed | FileError> =
    alreadyRunning && existing !== undefined
      ? Effect.succeed(existing)
      : Effect.gen(function* () {
          if (existing !== undefined) yield* stopCluster(existing)
          const info = yield* launchCluster({ dir: path.join(devClusterHome(), "cluster"), detached: true })
          yield* Effect.try({
            try: () => fs.writeFileSync(stateFile(), JSON.stringify(info, null, 2)),
            catch: (e) => new FileError({ path: stateFile(), message: errorMessage(e) })
          }).pipe(Effect.tapError(() => stopCluster(info)))
          return info
        })
  // Reading the CRDs from the module cache overlaps with the cluster's start.
  const [info, docs] = yield* Effect.all([start, allCrds()], { concurrency: 2 })
  const target = yield* targetFromKubeconfig(info.kubeconfigPath)
  const crds = yield* installAllCrds(target, docs)
  return { info, alreadyRunning, crds }
})

/** Stops the persistent cluster and forgets it. */
export const down: Effect.Effect<ClusterInfoType, DevClusterStateError | FileError> = Effect.gen(function* () {
  const info = yield* readState
  if (info === undefined) return yield* new DevClusterStateError({ message: "no dev cluster is recorded; start one with `dev-cluster up`" })
  yield* stopCluster(info)
  yield* Effect.sync(() => fs.rmSync(stateFile(), { force: true }))
  return info
})

/** The running persistent cluster, or a typed error telling how to start one. */
export const running: Effect.Effect<ClusterInfoType, DevClusterStateError | FileError> = Effect.flatMap(readState, (info) =>
  info !== undefined && clusterAlive(info)
    ? Effect.succeed(info)
    : Effect.fail(
        new DevClusterStateError({
          message:
            info === undefined
              ? "no dev cluster is running; start one with `dev-cluster up`"
              : "the recorded dev cluster is not running any more; run `dev-cluster down` then `dev-cluster up`"
        })
      )
)
