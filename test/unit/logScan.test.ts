import { describe, expect, it } from "vitest"
import { type LogText, type PlantedValue, plantedSecret, renderScanReport, scanLogs, secretMask } from "../support/logScan.js"

const token = "Qz7Xw9Lm4Rb8Ns2Tp5Vd1Hj6"
const secretValue = 'pa"ss\nword-Kv3'
const jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2EifQ.c2lnbmF0dXJlLXZhbHVl"
const planted: ReadonlyArray<PlantedValue> = [
  { label: "agent bearer token", value: token },
  { label: "Secret value", value: secretValue }
]

const log = (text: string, source = "in-process"): LogText => ({ file: `logs/${source}.1.log`, source, text })

/** No run of `length` characters of `secret` (in any of its forms) is in `text`. */
const expectNoPartOf = (text: string, secret: string, length = 6) => {
  for (const form of [secret, Buffer.from(secret).toString("base64"), JSON.stringify(secret).slice(1, -1)]) {
    for (let at = 0; at + length <= form.length; at++) expect(text).not.toContain(form.slice(at, at + length))
  }
}

describe("log scan", () => {
  it("finds every needle kind, each on its line", () => {
    const text = [
      `{"msg":"polling","token":"${token}"}`,
      `{"msg":"secret","data":{"password":"${Buffer.from(secretValue).toString("base64")}"}}`,
      `{"msg":"apply","payload":${JSON.stringify({ stringData: { password: secretValue } })}}`,
      `{"msg":"sa","value":"${jwt}"}`,
      "GET /api/agent/jobs authorization: Bearer abcdefgh1234",
      "-----BEGIN EC PRIVATE KEY-----",
      `issued vwksp-agent-${"0123456789abcdef".repeat(2)}`
    ].join("\n")
    const report = scanLogs(planted, [log(text)])
    expect(report.findings.map((f) => [f.line, f.needle.replace(/, \d+ chars, sha256:[0-9a-f]{12}\)$/, ")")])).toEqual([
      [1, "planted agent bearer token (clear)"],
      [2, "planted Secret value (base64)"],
      [3, "planted Secret value (JSON-escaped)"],
      [4, "pattern JWT (eyJ….eyJ….…)"],
      [5, "pattern Bearer <token>"],
      [6, "pattern PEM private key"],
      [7, "pattern mock-issued agent token"]
    ])
    expect(report.plantedValues).toBe(2)
    expect(report.sources).toEqual([{ source: "in-process", files: 1, lines: 7 }])
  })

  it("passes clean text, redacted values and look-alikes", () => {
    const text = [
      `{"msg":"polling","token":"[REDACTED]","authorization":"Bearer [REDACTED]"}`,
      "registered as vwksp-agent-short, key eyJhbGciOi only, secretRef app-credentials",
      `{"msg":"Secret","data":{"password":"[REDACTED]"}}`,
      "-----BEGIN CERTIFICATE-----"
    ].join("\n")
    const report = scanLogs(planted, [log(text), log("", "console"), log("one line\n", "console")])
    expect(report.findings).toEqual([])
    expect(report.silentSources).toEqual([])
  })

  it("reports a source that ran but collected nothing as silent", () => {
    const report = scanLogs(planted, [log("", "operator-process"), log("a line\n")])
    expect(report.silentSources).toEqual(["operator-process"])
  })

  it("shows a redacted excerpt: the context, never the secret nor part of one", () => {
    const before = `${"x".repeat(100)} calling the control plane with`
    const text = `first line\n${before} Authorization: Bearer ${token} and ${secretValue} then${"y".repeat(100)}\nlast line`
    const report = scanLogs(planted, [log(text)])
    // The planted token, the Bearer pattern over it and the secret value (across two lines) overlap in places.
    expect(report.findings.map((f) => f.needle.split(" (")[0])).toEqual(["pattern Bearer <token>", "planted agent bearer token", "planted Secret value"])
    for (const finding of report.findings) {
      expect(finding.line).toBe(2)
      expect(finding.excerpt).toContain(secretMask)
      expectNoPartOf(finding.excerpt, token)
      expectNoPartOf(finding.excerpt, secretValue)
      expect(finding.excerpt).not.toContain("first line")
    }
    expect(JSON.parse(report.findings[0]!.excerpt)).toMatch(/^…x+ calling the control plane with Authorization: \[secret\] and \[secret\]$/)
    expect(report.findings[2]!.excerpt).toMatch(/\[secret\] theny+…"$/)
    const rendered = renderScanReport(report, "/tmp/run")
    expect(rendered).toMatch(/^log scan FAILED: 3 leak\(s\)/)
    expect(rendered).toContain("LEAK logs/in-process.1.log:2: planted agent bearer token (clear, 24 chars, sha256:")
    expectNoPartOf(rendered, token)
    expectNoPartOf(rendered, secretValue)
  })

  it("refuses to plant a value short enough to match innocent text", () => {
    expect(() => plantedSecret("short", "abc")).toThrow(/shorter than 8/)
  })
})
