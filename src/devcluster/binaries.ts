import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { Effect } from "effect"
import { CommandFailed, errorMessage } from "./errors.js"
import { cacheRoot, repoRoot } from "./paths.js"
import { readLogTail } from "./process.js"
import { ETCD_VERSION, HELM_CONTROLLER_API_VERSION, K8S_VERSION } from "./versions.js"

export interface Binaries {
  readonly etcd: string
  readonly kubeApiserver: string
  readonly kubeControllerManager: string
}

/**
 * Runs scripts/build-k8s.sh in `mode` and returns the path it prints. The script's progress goes
 * to a log file in the cache; a failure carries the log's tail. A cold build of kube-apiserver
 * takes many minutes on two cores, so there is no short timeout here.
 */
const runBuildScript = (mode: "binaries" | "helm-controller-crds"): Effect.Effect<string, CommandFailed> =>
  Effect.async<string, CommandFailed>((resume, signal) => {
    const script = path.join(repoRoot(), "scripts", "build-k8s.sh")
    const logFile = path.join(cacheRoot(), `build-${mode}.log`)
    const command = `${script} ${mode}`
    let log: fs.WriteStream
    try {
      fs.mkdirSync(cacheRoot(), { recursive: true })
      log = fs.createWriteStream(logFile)
    } catch (e) {
      resume(Effect.fail(new CommandFailed({ command, reason: errorMessage(e), output: "" })))
      return
    }
    const child = spawn("bash", [script, mode], {
      stdio: ["ignore", "pipe", "pipe"],
      signal,
      env: {
        ...process.env,
        K8S_VERSION,
        ETCD_VERSION,
        HELM_CONTROLLER_API_VERSION,
        VWORKSPACE_CACHE: cacheRoot()
      }
    })
    let stdout = ""
    child.stdout?.on("data", (c: Buffer) => {
      stdout += c.toString("utf8")
    })
    // Everything goes to the log; the script's own progress lines ("build-k8s: building ...") are
    // also shown, so a first run that compiles for many minutes does not look hung.
    let pending = ""
    child.stderr?.on("data", (c: Buffer) => {
      log.write(c)
      const lines = (pending + c.toString("utf8")).split("\n")
      pending = lines.pop() ?? ""
      for (const line of lines) if (line.startsWith("build-k8s:")) process.stderr.write(`${line} (log: ${logFile})\n`)
    })
    child.on("error", (e) => {
      if (!signal.aborted) resume(Effect.fail(new CommandFailed({ command, reason: errorMessage(e), output: readLogTail(logFile) })))
    })
    child.on("close", (code) => {
      log.end(() => {
        const out = stdout.trim().split("\n").pop() ?? ""
        if (code === 0 && out !== "") resume(Effect.succeed(out))
        else
          resume(
            Effect.fail(
              new CommandFailed({ command, reason: `exited with ${code} (log: ${logFile})`, output: readLogTail(logFile) })
            )
          )
      })
    })
  })

/** etcd, kube-apiserver and kube-controller-manager, built on first use and cached. */
export const ensureBinaries: Effect.Effect<Binaries, CommandFailed> = Effect.map(runBuildScript("binaries"), (dir) => ({
  etcd: path.join(dir, "etcd"),
  kubeApiserver: path.join(dir, "kube-apiserver"),
  kubeControllerManager: path.join(dir, "kube-controller-manager")
}))

/** The folder with the HelmRelease CRD generated from helm-controller's API module. */
export const ensureHelmControllerCrds: Effect.Effect<string, CommandFailed> = runBuildScript("helm-controller-crds")
