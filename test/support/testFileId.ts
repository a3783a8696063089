/**
 * Names a log producer after the test file that started it (logScan.ts), so that a leak names the
 * test to look at: `cluster.test.ts-1234` (the file's base name and this worker's pid).
 */
import { basename } from "node:path"
import { expect } from "vitest"

export const testFileId = (): string => `${basename(expect.getState().testPath ?? "no-test-file")}-${process.pid}`
