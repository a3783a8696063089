/**
 * The suite-wide log scan. The reporter (logScanReporter.ts) makes one run directory per vitest
 * run and names it in `VWORKSPACE_LOG_SCAN_DIR`, which every worker inherits. Each log source
 * appends its lines there, one file per producer (`logs/<source>.<id>.log`), and tests register
 * the secrets they plant with `plantedSecret` (`planted/<pid>.jsonl`). At the end of the run the
 * reporter scans every line for every planted value (clear, base64, JSON-escaped) and for
 * credential-shaped patterns, and fails the run on a hit. Outside a run (no variable) collection
 * is off and `plantedSecret` only returns its value.
 */
import { createHash } from "node:crypto"
import { appendFileSync, closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, writeSync } from "node:fs"
import { join } from "node:path"
import { Schema } from "effect"

export const logScanDirVariable = "VWORKSPACE_LOG_SCAN_DIR"

/** Where a log line came from: each is collected by one mechanism, counted apart in the report. */
export const logSources = {
  /** Everything tests and in-process code printed through `console` (vitest's onUserConsoleLog). */
  console: "console",
  /** In-process operators, agents and mocks: every Effect log call at Debug and up, through the operator's pino logger. */
  inProcess: "in-process",
  /** `vworkspace-operator run` child processes: stdout and stderr. */
  operatorProcess: "operator-process",
  /** The mock control plane's request log (route, token fingerprint, headers it keeps). */
  mockControlPlane: "mock-control-plane",
  /** source-controller and kustomize-controller of the e2e tier: stdout and stderr. */
  fluxControllers: "flux-controllers"
} as const
export type LogSource = (typeof logSources)[keyof typeof logSources]

const runDir = (): string | undefined => process.env[logScanDirVariable]

export interface LogFile {
  /** Appends `text` as it is (lines end in `\n`; a process's output chunks may split a line). */
  readonly write: (text: string) => void
  readonly close: () => void
}

const noFile: LogFile = { write: () => undefined, close: () => undefined }

/**
 * An append-only file for one producer of `source` (`id` tells producers apart). It is created at
 * once, so a producer that ran and wrote nothing still counts as a file of its source.
 */
export const openLogFile = (source: LogSource, id: string): LogFile => {
  const dir = runDir()
  if (dir === undefined) return noFile
  mkdirSync(join(dir, "logs"), { recursive: true })
  let fd: number | undefined = openSync(join(dir, "logs", `${source}.${id}.log`), "a")
  return {
    write: (text) => {
      if (fd !== undefined) writeSync(fd, text)
    },
    close: () => {
      if (fd !== undefined) closeSync(fd)
      fd = undefined
    }
  }
}

const minimumSecretLength = 8

/**
 * Registers a secret a test plants (a token, a Secret's value, a claim secret, a private key) so
 * that the scan looks for it; returns the value. `label` says what it is in the scan's report.
 */
export const plantedSecret = (label: string, value: string): string => {
  if (value.length < minimumSecretLength) {
    throw new Error(`plantedSecret(${label}): a value shorter than ${minimumSecretLength} characters would match innocent text`)
  }
  const dir = runDir()
  if (dir !== undefined) {
    mkdirSync(join(dir, "planted"), { recursive: true })
    appendFileSync(join(dir, "planted", `${process.pid}.jsonl`), `${JSON.stringify({ label, value })}\n`)
  }
  return value
}

/** What a hit is reported as: never the secret, only what it is and a short digest. */
const redactedForm = (value: string): string => `${value.length} chars, sha256:${createHash("sha256").update(value).digest("hex").slice(0, 12)}`

/** Where a needle matched: `text.slice(start, end)` is the secret. */
interface Hit {
  readonly start: number
  readonly end: number
}

interface Needle {
  readonly name: string
  readonly find: (text: string) => ReadonlyArray<Hit>
}

const occurrencesOf = (text: string, value: string): ReadonlyArray<Hit> => {
  const found: Array<Hit> = []
  for (let at = text.indexOf(value); at !== -1; at = text.indexOf(value, at + 1)) found.push({ start: at, end: at + value.length })
  return found
}

const patternNeedle = (name: string, pattern: RegExp): Needle => ({
  name: `pattern ${name}`,
  find: (text) => [...text.matchAll(new RegExp(pattern.source, "g"))].map((m) => ({ start: m.index, end: m.index + m[0].length }))
})

/** Credential shapes, whoever planted them (or nobody did). */
export const patternNeedles: ReadonlyArray<Needle> = [
  patternNeedle("JWT (eyJ….eyJ….…)", /eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/),
  patternNeedle("Bearer <token>", /\bBearer\s+[A-Za-z0-9\-._~+/]{8,}/),
  patternNeedle("PEM private key", /-----BEGIN [A-Z ]*PRIVATE KEY-----/),
  // The mock control plane issues agent tokens as `vwksp-agent-` and 32 hex digits (register and rotation).
  patternNeedle("mock-issued agent token", /vwksp-agent-[0-9a-f]{32}/)
]

/** The forms a planted value can take in a log line: as is, base64 (a Secret's `data`), JSON-escaped. */
const plantedNeedles = (label: string, value: string): ReadonlyArray<Needle> => {
  const forms = new Map<string, string>()
  for (const [form, v] of [
    ["clear", value],
    ["base64", Buffer.from(value).toString("base64")],
    ["JSON-escaped", JSON.stringify(value).slice(1, -1)]
  ] as const) {
    if (![...forms.values()].includes(v)) forms.set(form, v)
  }
  return [...forms].map(([form, v]) => ({ name: `planted ${label} (${form}, ${redactedForm(value)})`, find: (text) => occurrencesOf(text, v) }))
}

export interface PlantedValue {
  readonly label: string
  readonly value: string
}

const PlantedLine = Schema.parseJson(Schema.Struct({ label: Schema.String, value: Schema.String }))

const readPlanted = (dir: string): ReadonlyArray<PlantedValue> => {
  const planted = join(dir, "planted")
  if (!existsSync(planted)) return []
  const labels = new Map<string, string>()
  for (const file of readdirSync(planted)) {
    for (const line of readFileSync(join(planted, file), "utf8").split("\n")) {
      if (line === "") continue
      const { label, value } = Schema.decodeUnknownSync(PlantedLine)(line)
      if (!labels.has(value)) labels.set(value, label)
    }
  }
  return [...labels].map(([value, label]) => ({ label, value }))
}

export interface SourceCount {
  readonly source: string
  readonly files: number
  readonly lines: number
}

export interface Finding {
  readonly file: string
  readonly line: number
  readonly needle: string
  /** The hit's line around it, as a JSON string, with every needle's match in it masked: never a secret, nor part of one. */
  readonly excerpt: string
}

export interface ScanReport {
  readonly sources: ReadonlyArray<SourceCount>
  readonly plantedValues: number
  readonly needles: number
  readonly findings: ReadonlyArray<Finding>
  /** Sources with files (they ran) but not one line: the collection is broken, not the code clean. */
  readonly silentSources: ReadonlyArray<string>
}

const newlinesIn = (text: string, from: number, to: number): number => {
  let n = 0
  for (let at = text.indexOf("\n", from); at !== -1 && at < to; at = text.indexOf("\n", at + 1)) n++
  return n
}

const lineCount = (text: string): number => newlinesIn(text, 0, text.length) + (text.length > 0 && !text.endsWith("\n") ? 1 : 0)

/** What stands for a secret in an excerpt. */
export const secretMask = "[secret]"
const excerptContext = 60

/**
 * The text around `hit`, up to `excerptContext` characters either side within its line(s), with
 * every one of `hits` (all of the text's, sorted by start) masked where it overlaps, so that not
 * even part of a secret is shown.
 */
const redactedExcerpt = (text: string, hit: Hit, hits: ReadonlyArray<Hit>): string => {
  const lineStart = Math.min(hit.start, text.lastIndexOf("\n", hit.start - 1) + 1)
  const nextNewline = text.indexOf("\n", hit.end)
  const lineEnd = nextNewline === -1 ? text.length : nextNewline
  const from = Math.max(lineStart, hit.start - excerptContext)
  const to = Math.min(lineEnd, hit.end + excerptContext)
  let out = from > lineStart ? "…" : ""
  let at = from
  for (const h of hits) {
    if (h.end <= at || h.start >= to) continue
    if (h.start > at) out += text.slice(at, h.start)
    if (!out.endsWith(secretMask)) out += secretMask
    at = Math.min(h.end, to)
  }
  out += text.slice(at, to)
  return JSON.stringify(to < lineEnd ? `${out}…` : out)
}

export interface LogText {
  /** Where it is, as the report names it. */
  readonly file: string
  readonly source: string
  readonly text: string
}

/** Scans every log for every form of every planted value and for the credential patterns. */
export const scanLogs = (planted: ReadonlyArray<PlantedValue>, logs: ReadonlyArray<LogText>): ScanReport => {
  const needles = [...planted.flatMap((p) => plantedNeedles(p.label, p.value)), ...patternNeedles]
  const counts = new Map<string, { files: number; lines: number }>()
  const findings: Array<Finding> = []
  for (const { file, source, text } of logs) {
    const count = counts.get(source) ?? { files: 0, lines: 0 }
    counts.set(source, { files: count.files + 1, lines: count.lines + lineCount(text) })
    const hits = needles.flatMap((needle) => needle.find(text).map((hit) => ({ ...hit, needle: needle.name }))).sort((a, b) => a.start - b.start)
    let line = 1
    let counted = 0
    for (const hit of hits) {
      line += newlinesIn(text, counted, hit.start)
      counted = hit.start
      findings.push({ file, line, needle: hit.needle, excerpt: redactedExcerpt(text, hit, hits) })
    }
  }
  const sources = [...counts].map(([source, c]) => ({ source, ...c }))
  return {
    sources,
    plantedValues: planted.length,
    needles: needles.length,
    findings,
    silentSources: sources.filter((s) => s.lines === 0).map((s) => s.source)
  }
}

/** Scans every log file of the run directory `dir` (`logs/<source>.<id>.log`). */
export const scanRun = (dir: string): ScanReport => {
  const logs = join(dir, "logs")
  const files = existsSync(logs) ? readdirSync(logs).sort() : []
  return scanLogs(
    readPlanted(dir),
    files.map((file) => ({ file: join(logs, file), source: file.slice(0, file.indexOf(".")), text: readFileSync(join(logs, file), "utf8") }))
  )
}

const shownFindings = 50

/** The report as printed at the end of the run. */
export const renderScanReport = (report: ScanReport, dir: string): string => {
  const total = report.sources.reduce((sum, s) => sum + s.lines, 0)
  const rows = report.sources.map((s) => `  ${s.source.padEnd(20)} ${String(s.files).padStart(6)} ${String(s.lines).padStart(10)}`)
  const findings = report.findings.slice(0, shownFindings).map((f) => `  LEAK ${f.file}:${f.line}: ${f.needle}\n       ${f.excerpt}`)
  const more = report.findings.length > shownFindings ? [`  … and ${report.findings.length - shownFindings} more`] : []
  const silent = report.silentSources.map((s) => `  SILENT ${s}: it ran but not one line was collected`)
  const failed = report.findings.length > 0 || report.silentSources.length > 0
  return [
    `log scan${failed ? " FAILED" : ""}: ${report.findings.length} leak(s) in ${total} lines; ${report.plantedValues} planted values, ${report.needles} needles`,
    `  ${"source".padEnd(20)} ${"files".padStart(6)} ${"lines".padStart(10)}`,
    ...rows,
    ...findings,
    ...more,
    ...silent,
    ...(failed ? [`  run directory kept: ${dir}`] : [])
  ].join("\n")
}
