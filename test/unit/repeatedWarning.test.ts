import { describe, expect, it } from "@effect/vitest"
import { Effect, LogLevel } from "effect"
import * as Log from "../../src/observability/logger.js"
import { makeRepeatedWarning } from "../../src/observability/repeatedWarning.js"

describe("repeated warning", () => {
  it.effect("warns once per distinct error, at debug for repeats, and says once when the task works again", () => {
    const lines: Array<string> = []
    const layer = Log.layer({ level: LogLevel.Debug, destination: { write: (line: string) => void lines.push(line) } })
    return Effect.gen(function* () {
      const warning = yield* makeRepeatedWarning({ warning: "cannot write the journal", recovered: "the journal is written again" })
      const down = { message: 'namespaces "vworkspace-system" not found' }
      yield* warning.clear
      yield* warning.warn(down)
      yield* warning.warn(down)
      yield* warning.warn(down)
      yield* warning.warn({ message: "HTTP 503" })
      yield* warning.clear
      yield* warning.clear
      yield* warning.warn(down)
      const records = lines.map((l) => JSON.parse(l) as Record<string, unknown>).map((r) => [r["level"], r["msg"], r["error"]])
      expect(records).toEqual([
        ["warn", "cannot write the journal", down.message],
        ["debug", "cannot write the journal", down.message],
        ["debug", "cannot write the journal", down.message],
        ["warn", "cannot write the journal", "HTTP 503"],
        ["info", "the journal is written again", undefined],
        ["warn", "cannot write the journal", down.message]
      ])
    }).pipe(Effect.provide(layer))
  })
})
