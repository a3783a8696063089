/**
 * The operator as a user runs it: a `vworkspace-operator run` child process of the CLI as the image
 * ships it (bundled once per test run by the global setup) against the test cluster, with its output collected (also for the log scan), stopped by PID: SIGTERM (`stop`) or SIGKILL (`kill`, a
 * crash: nothing is flushed).
 */
import { type ChildProcess, spawn } from "node:child_process"
import { Effect, type Scope } from "effect"
import { inject } from "vitest"
import { logSources, openLogFile } from "./logScan.js"
import { testFileId } from "./testFileId.js"

export interface OperatorProcess {
  readonly pid: number
  readonly output: () => string
  /** SIGTERM, then the exit code once the process is gone (SIGKILL after 30 s). */
  readonly stop: () => Promise<number | null>
  /** kill -9, then waits until the process is gone. */
  readonly kill: () => Promise<void>
}

export const spawnOperator = (args: ReadonlyArray<string>): OperatorProcess => {
  // The webhook server and the metrics listener are off unless a test turns them on (a later flag
  // wins): they would listen on every interface at 9443 and 8443, and two processes would collide.
  const defaults = ["--webhook-port=0", "--metrics-bind-address=0"]
  const proc: ChildProcess = spawn(process.execPath, [inject("operatorCli"), "run", ...defaults, ...args], {
    stdio: ["ignore", "pipe", "pipe"]
  })
  let output = ""
  // Every chunk also goes to the log scan's file for this process (logScan.ts).
  const scanned = openLogFile(logSources.operatorProcess, `${testFileId()}-${proc.pid ?? "unspawned"}`)
  const collect = (d: Buffer) => {
    const text = d.toString()
    output += text
    scanned.write(text)
  }
  proc.stdout!.on("data", collect)
  proc.stderr!.on("data", collect)
  const exited = new Promise<number | null>((resolve) => proc.once("exit", (code) => resolve(code)))
  proc.once("close", () => scanned.close())
  const gone = () => proc.exitCode !== null || proc.signalCode !== null
  return {
    pid: proc.pid ?? 0,
    output: () => output,
    stop: async () => {
      if (gone()) return proc.exitCode
      proc.kill("SIGTERM")
      const timer = setTimeout(() => proc.kill("SIGKILL"), 30_000)
      const code = await exited
      clearTimeout(timer)
      return code
    },
    kill: async () => {
      if (gone()) return
      proc.kill("SIGKILL")
      await exited
    }
  }
}

/** An operator process for the rest of the scope (SIGKILLed at its end if still running). */
export const operatorProcess = (args: ReadonlyArray<string>): Effect.Effect<OperatorProcess, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => spawnOperator(args)),
    (p) => Effect.promise(() => p.kill())
  )

/** SIGKILL as an Effect. */
export const killOperator = (p: OperatorProcess): Effect.Effect<void> => Effect.promise(() => p.kill())
