import { describe, expect, it } from "@effect/vitest"
import { Data, Effect, LogLevel } from "effect"
import * as Log from "../../src/observability/logger.js"

/** A pino destination that keeps every line, and the Layer that logs into it. */
const capture = (level: LogLevel.LogLevel = LogLevel.Info) => {
  const lines: Array<string> = []
  const layer = Log.layer({ level, destination: { write: (line: string) => void lines.push(line) } })
  const records = () => lines.map((l) => JSON.parse(l) as Record<string, unknown>)
  return { lines, layer, records }
}

class LoginFailed extends Data.TaggedError("LoginFailed")<{ readonly message: string }> {}

const secrets = {
  bearer: "s3cr3tBearerValue",
  password: "hunter2-very-secret",
  registrationToken: "regtok-1234567890",
  privateKey: "MC4CAQAwBQYDK2VwBCIEIPrivateKeyMaterial",
  jwt: "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQifQ.c2lnbmF0dXJlLXZhbHVl",
  accessKey: "AKIAsecretAccessKeyValue",
  urlPassword: "urlPassw0rd",
  approvalSecret: "approval-hmac-secret-value"
}

describe("pino logger", () => {
  it.effect("writes JSON with level, ts, msg and log annotations as fields", () => {
    const { layer, records } = capture()
    return Effect.gen(function* () {
      yield* Effect.logInfo("reconciling").pipe(
        Effect.annotateLogs({ controller: "applicationinstance", reconcileID: "r-1", namespace: "team-a", name: "web" })
      )
      yield* Effect.logWarning("slow", 42).pipe(Effect.withLogSpan("apply"))
      const [first, second] = records()
      expect(first).toMatchObject({
        level: "info",
        msg: "reconciling",
        controller: "applicationinstance",
        reconcileID: "r-1",
        namespace: "team-a",
        name: "web"
      })
      expect(typeof first?.ts).toBe("string")
      expect(second).toMatchObject({ level: "warn", msg: "slow 42" })
      expect(second?.spans).toHaveProperty("apply")
    }).pipe(Effect.provide(layer))
  })

  it.effect("drops lines below the configured level", () => {
    const { layer, records } = capture(LogLevel.Info)
    return Effect.gen(function* () {
      yield* Effect.logDebug("hidden")
      yield* Effect.logError("shown")
      expect(records().map((r) => r.msg)).toEqual(["shown"])
    }).pipe(Effect.provide(layer))
  })

  it.effect("debug level lets debug lines through", () => {
    const { layer, records } = capture(LogLevel.Debug)
    return Effect.gen(function* () {
      yield* Effect.logDebug("visible")
      expect(records()).toMatchObject([{ level: "debug", msg: "visible" }])
    }).pipe(Effect.provide(layer))
  })

  it.effect("never writes secret values, in fields, messages or causes", () => {
    const { layer, lines, records } = capture(LogLevel.Trace)
    return Effect.gen(function* () {
      yield* Effect.logInfo("registering").pipe(
        Effect.annotateLogs({
          token: secrets.bearer,
          registrationToken: secrets.registrationToken,
          password: secrets.password,
          Authorization: `Bearer ${secrets.bearer}`,
          request: {
            headers: { authorization: `Bearer ${secrets.bearer}` },
            credentials: { secretAccessKey: secrets.accessKey, privateKey: secrets.privateKey }
          },
          approvalClaimSecret: secrets.approvalSecret,
          secretRef: "cluster-local-registration"
        })
      )
      yield* Effect.logInfo(`calling API with header Authorization: Bearer ${secrets.bearer}`)
      yield* Effect.logInfo(`login password=${secrets.password} registrationToken: ${secrets.registrationToken}`)
      yield* Effect.logInfo(`service account token ${secrets.jwt} loaded`)
      yield* Effect.logInfo(`posting to https://agent:${secrets.urlPassword}@cp.example.test/api`)
      yield* Effect.logInfo(
        `key -----BEGIN PRIVATE KEY-----\n${secrets.privateKey}\n-----END PRIVATE KEY----- loaded`
      )
      yield* Effect.logInfo("payload", { clientSecret: secrets.approvalSecret, nested: [{ token: secrets.bearer }] })
      yield* Effect.fail(new LoginFailed({ message: `401 for token=${secrets.registrationToken}` })).pipe(
        Effect.tapErrorCause((cause) => Effect.logError("login failed", cause)),
        Effect.ignore
      )
      yield* Effect.logError("boom").pipe(
        Effect.annotateLogs("error", new Error(`request failed: Authorization: Bearer ${secrets.bearer}`))
      )

      const output = lines.join("")
      expect(lines).toHaveLength(9)
      for (const value of Object.values(secrets)) expect(output).not.toContain(value)
      expect(output).toContain("[REDACTED]")

      const [fields, header, login] = records()
      expect(fields).toMatchObject({
        token: "[REDACTED]",
        registrationToken: "[REDACTED]",
        password: "[REDACTED]",
        Authorization: "[REDACTED]",
        request: { headers: { authorization: "[REDACTED]" }, credentials: { secretAccessKey: "[REDACTED]" } },
        approvalClaimSecret: "[REDACTED]",
        // A reference to a Secret is not a secret value and stays readable.
        secretRef: "cluster-local-registration"
      })
      expect(header?.msg).toBe("calling API with header Authorization: [REDACTED]")
      expect(login?.msg).toBe("login password=[REDACTED] registrationToken: [REDACTED]")
    }).pipe(Effect.provide(layer))
  })

  it("redactString leaves ordinary text alone", () => {
    const text = "applied HelmRelease team-a/web (tokenSecretRef=web-token) in 12ms"
    expect(Log.redactString(text)).toBe(text)
  })
})
