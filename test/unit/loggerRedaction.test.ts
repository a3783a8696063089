import { describe, expect, it } from "@effect/vitest"
import { Effect, LogLevel } from "effect"
import * as Log from "../../src/observability/logger.js"

const capture = () => {
  const lines: Array<string> = []
  const layer = Log.layer({ level: LogLevel.Info, destination: { write: (line: string) => void lines.push(line) } })
  return { lines, layer }
}

const token = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2EifQ.c2lnbmF0dXJlLXZhbHVlLTE"
const agentToken = "vwksp-agent-9f8e7d6c5b4a"
const tlsKey = "LS0tLS1CRUdJTiBFQyBQUklWQVRFIEtFWS0tLS0tCk1IY0NBUUVFSUtleU1hdGVyaWFs"
const plain = "ordinary-config-value-42"

describe("log redaction", () => {
  it.effect("tokens, Authorization headers and Secret data never reach the log", () => {
    const { lines, layer } = capture()
    return Effect.gen(function* () {
      yield* Effect.logInfo("request", { headers: { Authorization: `Bearer ${agentToken}`, accept: "application/json" } })
      yield* Effect.logInfo(`calling with authorization: Bearer ${agentToken} and ${token}`)
      yield* Effect.logInfo("secret", {
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name: "web-tls", namespace: "team-a" },
        data: { "tls.key": tlsKey, "config.json": "eyJwYXNzIjoieCJ9" },
        stringData: { "values.yaml": `adminPassword: ${plain}` }
      })
      yield* Effect.logInfo("token field").pipe(Effect.annotateLogs({ registrationToken: agentToken, bearer_token: token }))
      const all = lines.join("\n")
      for (const value of [token, agentToken, tlsKey, "eyJwYXNzIjoieCJ9", plain]) expect(all).not.toContain(value)
      const secretLine = JSON.parse(lines[2] ?? "{}") as { msg: string }
      // Key names stay for debugging; the metadata is not secret.
      expect(secretLine.msg).toContain('"tls.key":"[REDACTED]"')
      expect(secretLine.msg).toContain('"name":"web-tls"')
      expect(all).toContain("application/json")
    }).pipe(Effect.provide(layer))
  })

  it("a non-Secret object's data is scrubbed by key only", () => {
    const safe = Log.redact({ kind: "ConfigMap", data: { color: "blue", apiKey: "k-123456" } })
    expect(safe).toEqual({ kind: "ConfigMap", data: { color: "blue", apiKey: Log.REDACTED } })
  })
})
