/**
 * The vitest reporter that runs the log scan (logScan.ts): it makes the run directory before any
 * worker starts (workers inherit `VWORKSPACE_LOG_SCAN_DIR`), collects the console output vitest
 * captures from every test file, and scans everything when the run ends. A leak, or a source that
 * ran without one collected line, sets the exit code to 1 (vitest 3.2 keeps a non-zero
 * `process.exitCode` and still tears down its global setups, which a throw from a global setup's
 * teardown would skip). A clean run's directory is removed; a failed one's is kept for reading.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { UserConsoleLog } from "vitest"
import type { Reporter } from "vitest/node"
import { type LogFile, logScanDirVariable, logSources, openLogFile, renderScanReport, scanRun } from "./logScan.js"

export default class LogScanReporter implements Reporter {
  private dir = ""
  private console: LogFile | undefined

  onInit(): void {
    this.dir = mkdtempSync(join(tmpdir(), "vworkspace-log-scan-"))
    process.env[logScanDirVariable] = this.dir
    this.console = openLogFile(logSources.console, "vitest")
  }

  onUserConsoleLog(log: UserConsoleLog): void {
    this.console?.write(log.content.endsWith("\n") ? log.content : `${log.content}\n`)
  }

  onTestRunEnd(): void {
    this.console?.close()
    const report = scanRun(this.dir)
    const failed = report.findings.length > 0 || report.silentSources.length > 0
    process.stderr.write(`\n${renderScanReport(report, this.dir)}\n`)
    if (failed) process.exitCode = 1
    else rmSync(this.dir, { recursive: true, force: true })
  }
}
