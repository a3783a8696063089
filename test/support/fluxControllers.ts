/**
 * Real Flux controllers for the e2e tier: source-controller and kustomize-controller, built from
 * their Go modules by scripts/build-flux.sh and run as processes against the test cluster's
 * kubeconfig, with leader election off and every address on loopback. helm-controller cannot be
 * built here (the module proxy does not serve it), so tests still play it (test/support/flux.ts).
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { setTimeout as delay } from "node:timers/promises"
import { createServer } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { type Duration, Effect, Option, Schema } from "effect"
import { KubeApi } from "../../src/kube/KubeApi.js"
import type { KubeObject, ResourceType } from "../../src/kube/object.js"
import { logSources, openLogFile } from "./logScan.js"
import { WaitTimedOut, waitFor } from "./wait.js"

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

/** Polls a controller's /readyz until it answers 200; fails when the process exits or after 90 s. */
const untilReady = async (name: string, proc: ChildProcess, healthPort: number, output: () => string): Promise<void> => {
  const deadline = Date.now() + 90_000
  while (Date.now() < deadline) {
    if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`${name} exited at start-up:\n${output()}`)
    const ok = await fetch(`http://127.0.0.1:${healthPort}/readyz`, { signal: AbortSignal.timeout(2_000) }).then(
      (r) => r.status === 200,
      () => false
    )
    if (ok) return
    await delay(250)
  }
  throw new Error(`${name} not ready within 90 s:\n${output()}`)
}

const exited = (proc: ChildProcess): Promise<void> =>
  new Promise((resolve) => (proc.exitCode !== null || proc.signalCode !== null ? resolve() : proc.once("exit", () => resolve())))

/** Starts both controllers watching every namespace of the cluster behind `kubeconfig`. */
export const startFluxControllers = async (kubeconfig: string): Promise<FluxControllers> => {
  const bin = fluxBinDir()
  const storage = mkdtempSync(join(tmpdir(), "vws-flux-storage-"))
  const storagePort = await freePort()
  let output = ""
  const launch = async (name: string, extra: ReadonlyArray<string>) => {
    const healthPort = await freePort()
    const args = [
      `--metrics-addr=127.0.0.1:${await freePort()}`,
      `--health-addr=127.0.0.1:${healthPort}`,
      "--enable-leader-election=false",
      "--events-addr=",
      "--log-level=info",
      ...extra
    ]
    const proc = spawn(join(bin, name), args, {
      env: { ...process.env, KUBECONFIG: kubeconfig, RUNTIME_NAMESPACE: "flux-system" },
      stdio: ["ignore", "pipe", "pipe"]
    })
    // Also to the log scan's file for this controller (logScan.ts).
    const scanned = openLogFile(logSources.fluxControllers, `${name}-${proc.pid ?? "unspawned"}`)
    const collect = (d: Buffer) => {
      output += `[${name}] ${d.toString()}`
      scanned.write(d.toString())
    }
    proc.stdout!.on("data", collect)
    proc.stderr!.on("data", collect)
    proc.once("close", () => scanned.close())
    return { proc, ready: () => untilReady(name, proc, healthPort, () => output) }
  }
  const source = await launch("source-controller", [
    `--storage-path=${storage}`,
    `--storage-addr=127.0.0.1:${storagePort}`,
    `--storage-adv-addr=127.0.0.1:${storagePort}`
  ])
  const kustomize = await launch("kustomize-controller", [])
  const stop = async () => {
    for (const { proc } of [source, kustomize]) if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGTERM")
    await Promise.all([exited(source.proc), exited(kustomize.proc)])
    rmSync(storage, { recursive: true, force: true })
  }
  try {
    await Promise.all([source.ready(), kustomize.ready()])
  } catch (e) {
    await stop()
    throw e
  }
  return { output: () => output, stop }
}

const FluxStatus = Schema.Struct({
  metadata: Schema.Struct({ generation: Schema.optional(Schema.Number) }),
  status: Schema.optional(
    Schema.Struct({
      observedGeneration: Schema.optional(Schema.Number),
      conditions: Schema.optional(
        Schema.Array(Schema.Struct({ type: Schema.String, status: Schema.String, reason: Schema.String, message: Schema.String }))
      )
    })
  )
})

/** The object's condition of `type` as its controller last wrote it for the current generation. */
export const currentCondition = (object: KubeObject, type: string) => {
  const decoded = Schema.decodeUnknownOption(FluxStatus)(object)
  if (Option.isNone(decoded)) return undefined
  const { metadata, status } = decoded.value
  if (status?.observedGeneration !== metadata.generation) return undefined
  return status?.conditions?.find((c) => c.type === type)
}

/**
 * Waits until a real Flux controller marks `name` Ready=True for its current generation and
 * returns the object; on timeout the error carries the last status the controller wrote.
 */
export const waitForFluxReady = (type: ResourceType, name: string, namespace: string, timeout: Duration.DurationInput = "120 seconds") =>
  Effect.gen(function* () {
    const api = yield* KubeApi
    let last = "not found"
    return yield* waitFor(
      `${type.kind} ${namespace}/${name} Ready=True`,
      api.get(type, name, namespace).pipe(
        Effect.map((o) => {
          last = JSON.stringify(o["status"] ?? {})
          return currentCondition(o, "Ready")?.status === "True" ? o : undefined
        }),
        Effect.catchTag("NotFound", () => Effect.succeed(undefined))
      ),
      { timeout, interval: "250 millis" }
    ).pipe(Effect.mapError((e) => (e._tag === "WaitTimedOut" ? new WaitTimedOut({ message: `${e.message}; last status: ${last}` }) : e)))
  })
