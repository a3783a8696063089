/**
 * In-process log lines for the suite-wide scan (logScan.ts): every Effect log call at Debug and up
 * of an in-process operator, agent or mock goes through the operator's own redacting pino logger
 * (src/observability/logger.ts) into this worker's `in-process` file, while the loggers already in
 * place (the console, a test's collector) keep seeing only what they saw before.
 */
import { Effect, FiberRef, HashSet, Logger, LogLevel } from "effect"
import { makePinoLogger } from "../../src/observability/logger.js"
import { logSources, openLogFile } from "./logScan.js"
import { testFileId } from "./testFileId.js"

let scanLogger: Logger.Logger<unknown, void> | undefined
/** One file and one logger per worker process, made on first use. */
const theScanLogger = () => {
  if (scanLogger === undefined) {
    const file = openLogFile(logSources.inProcess, testFileId())
    scanLogger = makePinoLogger({ write: (line: string) => file.write(line) })
  }
  return scanLogger
}

/** The test's log level: quiet unless `VWORKSPACE_TEST_LOG=debug` asks for what the operator did. */
export const testLogLevel = process.env["VWORKSPACE_TEST_LOG"] === "debug" ? LogLevel.Debug : LogLevel.Warning

/**
 * Runs `effect` (and every fiber it forks) with its log lines collected for the scan; the loggers
 * in place get `shownLevel` and up (default: `testLogLevel`).
 */
export const collectLogs =
  (shownLevel: LogLevel.LogLevel = testLogLevel) =>
  <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    effect.pipe(
      Effect.locallyWith(FiberRef.currentLoggers, (loggers) =>
        HashSet.add(
          HashSet.map(loggers, (logger) => Logger.filterLogLevel(logger, (level) => LogLevel.greaterThanEqual(level, shownLevel))),
          theScanLogger()
        )
      ),
      Logger.withMinimumLogLevel(LogLevel.Debug)
    )

const messageText = (message: unknown): string =>
  (Array.isArray(message) ? message : [message]).map((m) => (typeof m === "string" ? m : JSON.stringify(m))).join(" ")

/** A logger that keeps the latest 5000 warnings and worse in `sink`. */
export const warningCollector = (sink: Array<string>) =>
  Logger.make(({ logLevel, message }) => {
    if (!LogLevel.greaterThanEqual(logLevel, LogLevel.Warning)) return
    sink.push(`${logLevel.label} ${messageText(message)}`)
    if (sink.length > 5000) sink.shift()
  })
