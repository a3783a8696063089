/**
 * The vitest reporter that runs the log scan (logScan.ts): it makes the run directory before any
 * worker starts (workers inherit `VWORKSPACE_LOG_SCAN_DIR`), collects the console output vitest
 * captures from every test file (one log file per test file), and scans everything when the run
 * has finished. A leak, or a source that ran without one collected line, sets the exit code to 1 (vitest
 * 3.2 keeps a non-zero `process.exitCode` and still tears down its global setups, which a throw
 * from a global setup's teardown would skip). A clean run's directory is removed; a failed one's
 * is kept for reading.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { basename, join } from "node:path"
import type { UserConsoleLog } from "vitest"
import type { Reporter, Vitest } from "vitest/node"
import { type LogFile, logScanDirVariable, logSources, openLogFile, renderScanReport, scanRun } from "./logScan.js"

export default class LogScanReporter implements Reporter {
  private dir = ""
  private vitest: Vitest | undefined
  /** By test file; opened at its first line, so a run in which nothing printed has no console file. */
  private readonly console = new Map<string, LogFile>()

  onInit(vitest: Vitest): void {
    this.vitest = vitest
    this.dir = mkdtempSync(join(tmpdir(), "vworkspace-log-scan-"))
    process.env[logScanDirVariable] = this.dir
  }

  onUserConsoleLog(log: UserConsoleLog): void {
    const task = log.taskId === undefined ? undefined : this.vitest?.state.idMap.get(log.taskId)
    const id = task === undefined ? "vitest" : basename(task.file.filepath)
    const file = this.console.get(id) ?? openLogFile(logSources.console, id)
    this.console.set(id, file)
    file.write(log.content.endsWith("\n") ? log.content : `${log.content}\n`)
  }

  /** After the default reporter's summary (it prints in its own `onFinished`, listed before this one), so the scan's verdict is the last thing printed. */
  onFinished(): void {
    for (const file of this.console.values()) file.close()
    this.console.clear()
    const report = scanRun(this.dir)
    const failed = report.findings.length > 0 || report.silentSources.length > 0
    process.stderr.write(`\n${renderScanReport(report, this.dir)}\n`)
    if (failed) process.exitCode = 1
    else rmSync(this.dir, { recursive: true, force: true })
  }
}
