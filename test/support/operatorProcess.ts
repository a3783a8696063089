/**
 * The operator as a user runs it: a `vworkspace-operator run` child process against the test
 * cluster, with its output collected, stopped by PID.
 */
import { type ChildProcess, spawn } from "node:child_process"

export interface OperatorProcess {
  readonly output: () => string
  /** SIGTERM, then the exit code once the process is gone (SIGKILL after 30 s). */
  readonly stop: () => Promise<number | null>
}

export const spawnOperator = (args: ReadonlyArray<string>): OperatorProcess => {
  // The webhook server is off unless a test turns it on (it would listen on every interface at 9443).
  const proc: ChildProcess = spawn(process.execPath, ["--import", "tsx", "src/cli/main.ts", "run", "--webhook-port=0", ...args], {
    stdio: ["ignore", "pipe", "pipe"]
  })
  let output = ""
  proc.stdout!.on("data", (d: Buffer) => (output += d.toString()))
  proc.stderr!.on("data", (d: Buffer) => (output += d.toString()))
  const exited = new Promise<number | null>((resolve) => proc.once("exit", (code) => resolve(code)))
  return {
    output: () => output,
    stop: async () => {
      if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode
      proc.kill("SIGTERM")
      const timer = setTimeout(() => proc.kill("SIGKILL"), 30_000)
      const code = await exited
      clearTimeout(timer)
      return code
    }
  }
}
