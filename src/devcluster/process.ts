import { execFile, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import { Duration, Effect, Schedule } from "effect"
import { CommandFailed, FileError, errorMessage } from "./errors.js"

export interface RunOptions {
  readonly cwd?: string
  readonly env?: Readonly<Record<string, string>>
  readonly timeout?: Duration.DurationInput
}

/** Runs a program to completion and returns its stdout; a non-zero exit carries stderr along. */
export const runCommand = (
  file: string,
  args: ReadonlyArray<string>,
  options: RunOptions = {}
): Effect.Effect<string, CommandFailed> =>
  Effect.async<string, CommandFailed>((resume, signal) => {
    execFile(
      file,
      args,
      {
        cwd: options.cwd,
        env: { ...process.env, ...options.env },
        timeout: Duration.toMillis(Duration.decode(options.timeout ?? Duration.minutes(2))),
        maxBuffer: 64 * 1024 * 1024,
        signal
      },
      (error, stdout, stderr) => {
        if (error === null) resume(Effect.succeed(stdout))
        else
          resume(
            Effect.fail(
              new CommandFailed({
                command: [file, ...args].join(" "),
                reason: errorMessage(error),
                output: tail(`${stdout}\n${stderr}`, 40)
              })
            )
          )
      }
    )
  })

/** The last `lines` lines of a text. */
export const tail = (text: string, lines: number): string => text.trimEnd().split("\n").slice(-lines).join("\n")

export const readLogTail = (file: string, lines = 40): string => {
  try {
    return tail(fs.readFileSync(file, "utf8"), lines)
  } catch {
    return "(no log)"
  }
}

export interface Daemon {
  readonly pid: number
  /** Whether the process has exited; only meaningful for processes started by this process. */
  readonly exited: () => boolean
}

/**
 * Starts a long-running program with stdout and stderr appended to `logFile`. A detached daemon
 * gets its own process group and outlives this process (`dev-cluster up`); otherwise it shares the
 * group, so a terminal's Ctrl-C reaches it too.
 */
export const spawnDaemon = (
  file: string,
  args: ReadonlyArray<string>,
  logFile: string,
  detached: boolean
): Effect.Effect<Daemon, FileError> =>
  Effect.try({
    try: () => {
      const fd = fs.openSync(logFile, "a")
      try {
        const child = spawn(file, args, { stdio: ["ignore", fd, fd], detached })
        let done = false
        child.on("exit", () => {
          done = true
        })
        // Reported through `exited` and the log file; without a listener an ENOENT would throw.
        child.on("error", () => {
          done = true
        })
        if (child.pid === undefined) throw new Error(`could not start ${file}`)
        if (detached) child.unref()
        return { pid: child.pid, exited: () => done }
      } finally {
        fs.closeSync(fd)
      }
    },
    catch: (e) => new FileError({ path: file, message: errorMessage(e) })
  })

export const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    // EPERM: it exists but belongs to someone else.
    return (e as NodeJS.ErrnoException).code === "EPERM"
  }
}

/**
 * Whether `pid` is still the process we started: its command line mentions `marker` (the cluster
 * directory, which every daemon's arguments contain). Guards against a recycled PID.
 */
export const pidMatches = (pid: number, marker: string): boolean => {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(marker)
  } catch {
    return false
  }
}

/** SIGTERM, wait up to `grace` for the exit, then SIGKILL and wait again. */
export const stopPid = (pid: number, grace: Duration.DurationInput = Duration.seconds(10)): Effect.Effect<void> => {
  const signal = (sig: NodeJS.Signals) =>
    Effect.sync(() => {
      try {
        process.kill(pid, sig)
      } catch {
        // already gone
      }
    })
  const gone = (within: Duration.DurationInput) =>
    Effect.suspend(() => (isAlive(pid) ? Effect.fail("alive" as const) : Effect.void)).pipe(
      Effect.retry(Schedule.spaced(Duration.millis(50)).pipe(Schedule.upTo(within)))
    )
  return signal("SIGTERM").pipe(
    Effect.zipRight(gone(grace)),
    Effect.orElse(() => signal("SIGKILL").pipe(Effect.zipRight(gone(Duration.seconds(5))))),
    Effect.ignore
  )
}

/** A TCP port that is free on 127.0.0.1 right now. */
export const freePort: Effect.Effect<number, FileError> = Effect.async<number, FileError>((resume) => {
  const server = net.createServer()
  server.unref()
  server.on("error", (e) => resume(Effect.fail(new FileError({ path: "127.0.0.1:0", message: errorMessage(e) }))))
  server.listen(0, "127.0.0.1", () => {
    const address = server.address()
    const port = typeof address === "object" && address !== null ? address.port : 0
    server.close(() => resume(Effect.succeed(port)))
  })
})
