/**
 * Real Flux controllers for the e2e tier: source-controller and kustomize-controller, built from
 * their Go modules by scripts/build-flux.sh and run as processes against the test cluster's
 * kubeconfig, with leader election off and every address on loopback. helm-controller cannot be
 * built here (the module proxy does not serve it), so tests still play it (test/support/flux.ts).
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { createServer } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"

export interface FluxControllers {
  /** Everything both controllers printed, for diagnosing a failed test. */
  readonly output: () => string
  readonly stop: () => Promise<void>
}

/** A free loopback port (the kernel picks it; it is released before the controller binds it). */
export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))))
    })
  })

/** Builds the controllers when missing (cached outside the repo) and returns their folder. */
export const fluxBinDir = (): string =>
  execFileSync("bash", ["scripts/build-flux.sh"], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }).trim()

const exited = (proc: ChildProcess): Promise<void> =>
  new Promise((resolve) => (proc.exitCode !== null || proc.signalCode !== null ? resolve() : proc.once("exit", () => resolve())))

/** Starts both controllers watching every namespace of the cluster behind `kubeconfig`. */
export const startFluxControllers = async (kubeconfig: string): Promise<FluxControllers> => {
  const bin = fluxBinDir()
  const storage = mkdtempSync(join(tmpdir(), "vws-flux-storage-"))
  const storagePort = await freePort()
  let output = ""
  const launch = async (name: string, extra: ReadonlyArray<string>) => {
    const args = [
      `--metrics-addr=127.0.0.1:${await freePort()}`,
      `--health-addr=127.0.0.1:${await freePort()}`,
      "--enable-leader-election=false",
      "--events-addr=",
      "--log-level=info",
      ...extra
    ]
    const proc = spawn(join(bin, name), args, {
      env: { ...process.env, KUBECONFIG: kubeconfig, RUNTIME_NAMESPACE: "flux-system" },
      stdio: ["ignore", "pipe", "pipe"]
    })
    const collect = (d: Buffer) => (output += `[${name}] ${d.toString()}`)
    proc.stdout!.on("data", collect)
    proc.stderr!.on("data", collect)
    return proc
  }
  const source = await launch("source-controller", [
    `--storage-path=${storage}`,
    `--storage-addr=127.0.0.1:${storagePort}`,
    `--storage-adv-addr=127.0.0.1:${storagePort}`
  ])
  const kustomize = await launch("kustomize-controller", [])
  return {
    output: () => output,
    stop: async () => {
      for (const proc of [source, kustomize]) if (proc.exitCode === null) proc.kill("SIGTERM")
      await Promise.all([exited(source), exited(kustomize)])
      rmSync(storage, { recursive: true, force: true })
    }
  }
}
