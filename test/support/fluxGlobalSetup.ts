/**
 * The e2e tier's real Flux: source-controller and kustomize-controller, started once per run
 * against the cluster globalSetup.ts started (it runs first and exports the kubeconfig path), and
 * stopped by PID at the end. Their output is kept in a log file for diagnosing a failed run.
 */
import { writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { startFluxControllers } from "./fluxControllers.js"

export default async function setup(): Promise<() => Promise<void>> {
  const kubeconfig = process.env["VWORKSPACE_KUBECONFIG_PATH"]
  if (kubeconfig === undefined) throw new Error("fluxGlobalSetup.ts must run after globalSetup.ts (no kubeconfig)")
  const flux = await startFluxControllers(kubeconfig)
  return async () => {
    await flux.stop()
    const log = join(tmpdir(), `vworkspace-e2e-flux-${process.pid}.log`)
    writeFileSync(log, flux.output())
    console.log(`flux controller output: ${log}`)
  }
}
