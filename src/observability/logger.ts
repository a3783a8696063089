import { Cause, Config, type ConfigError, HashMap, Layer, List, Logger, LogLevel } from "effect"
import { pino, type DestinationStream, type Level } from "pino"

export const REDACTED = "[REDACTED]"

/**
 * Field names whose values are never logged, matched on the name lower-cased with `_`, `-` and
 * `.` removed, by suffix: `token`, `registrationToken`, `agent_token`, `clientSecret`,
 * `approvalClaimSecret`, `password`, `Authorization`, `privateKey`, `secretAccessKey`, ...
 * A name that merely starts with one (`secretRef`, `tokenSecretName`) is not a secret value.
 */
const sensitiveSuffixes = [
  "token",
  "password",
  "passwd",
  "secret",
  "authorization",
  "privatekey",
  "signingkey",
  "apikey",
  "secretaccesskey",
  "cookie"
]

const normalizeKey = (key: string): string => key.toLowerCase().replace(/[-_.]/g, "")

export const isSensitiveKey = (key: string): boolean => {
  const k = normalizeKey(key)
  return sensitiveSuffixes.some((suffix) => k.endsWith(suffix))
}

const keyChars = "[A-Za-z0-9_.-]"
const stringPatterns: ReadonlyArray<readonly [RegExp, (match: string, ...groups: Array<string>) => string]> = [
  // PEM private keys, whole block.
  [/-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)/g, () => REDACTED],
  // `key=value`, `key: value`, `"key":"value"` where the key names a secret; the value may
  // carry an auth scheme (`Authorization: Bearer abc`).
  [
    new RegExp(`(${keyChars}+)(["']?\\s*[:=]\\s*["']?)((?:(?:Bearer|Basic)\\s+)?[^\\s"',;&}\\]]+)`, "gi"),
    (match, key, separator) => (isSensitiveKey(key) ? `${key}${separator}${REDACTED}` : match)
  ],
  // HTTP credentials: `Bearer abc…`, `Basic dXNl…`.
  [/\b(Bearer|Basic)(\s+)[A-Za-z0-9\-._~+/]+=*/gi, (_m, scheme, space) => `${scheme}${space}${REDACTED}`],
  // JWTs (service-account tokens and the like), wherever they appear.
  [/\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*/g, () => REDACTED],
  // Credentials in URLs: scheme://user:password@host.
  [/(:\/\/)[^/\s:@]+:[^/\s@]+@/g, (_m, scheme) => `${scheme}${REDACTED}@`],
]

/** Replaces credential-shaped substrings of free text with `[REDACTED]`. */
export const redactString = (text: string): string =>
  stringPatterns.reduce((acc, [pattern, replace]) => acc.replace(pattern, replace), text)

/**
 * A JSON-safe copy of a value with secrets removed: values under sensitive keys become
 * `[REDACTED]`, strings are scrubbed with `redactString`, errors become `{name, message, stack}`.
 */
export const redact = (value: unknown): unknown => redactValue(value, new WeakSet(), 0)

const secretPayloadKeys = new Set(["data", "stringData"])

/** Keeps the key names of a Secret's payload (useful when debugging), never the values. */
const redactEntries = (payload: unknown): unknown =>
  typeof payload === "object" && payload !== null && !Array.isArray(payload)
    ? Object.fromEntries(Object.keys(payload).map((k) => [k, REDACTED]))
    : REDACTED

const redactValue = (value: unknown, seen: WeakSet<object>, depth: number): unknown => {
  if (typeof value === "string") return redactString(value)
  if (typeof value === "bigint") return value.toString()
  if (typeof value !== "object" || value === null) return typeof value === "function" ? undefined : value
  if (seen.has(value) || depth > 8) return "[Circular or too deep]"
  seen.add(value)
  if (value instanceof Date) return value.toISOString()
  if (value instanceof Error) {
    return {
      name: value.name,
      message: redactString(value.message),
      ...(value.stack ? { stack: redactString(value.stack) } : {})
    }
  }
  if (Array.isArray(value)) return value.map((v) => redactValue(v, seen, depth + 1))
  // A Secret's values are secret whatever their keys are called (`tls.key`, `config.json`, ...).
  const secret = "kind" in value && value.kind === "Secret"
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(value)) {
    out[k] = isSensitiveKey(k) ? REDACTED : secret && secretPayloadKeys.has(k) ? redactEntries(v) : redactValue(v, seen, depth + 1)
  }
  return out
}

const pinoLevel = (level: LogLevel.LogLevel): Level | undefined => {
  switch (level._tag) {
    case "Fatal":
      return "fatal"
    case "Error":
      return "error"
    case "Warning":
      return "warn"
    case "Info":
      return "info"
    case "Debug":
      return "debug"
    case "Trace":
    case "All":
      return "trace"
    case "None":
      return undefined
  }
}

const messageText = (message: unknown): string => {
  const parts = Array.isArray(message) ? message : [message]
  return parts
    .map((part) => {
      if (typeof part === "string") return redactString(part)
      const safe = redact(part)
      return typeof safe === "string" ? safe : JSON.stringify(safe)
    })
    .join(" ")
}

/**
 * An Effect `Logger` that writes one pino JSON line per log call: `level`, `ts`, `msg`, every log
 * annotation (`controller`, `reconcileID`, `namespace`, `name`, ...) as a top-level field, log
 * spans under `spans` (elapsed ms), and a failure `Cause` under `error`. Everything is redacted.
 */
export const makePinoLogger = (destination: DestinationStream): Logger.Logger<unknown, void> => {
  const base = pino(
    {
      level: "trace",
      base: null,
      timestamp: false,
      messageKey: "msg",
      formatters: { level: (label) => ({ level: label }) }
    },
    destination
  )
  return Logger.make(({ logLevel, message, cause, spans, annotations, date }) => {
    const level = pinoLevel(logLevel)
    if (level === undefined) return
    const fields: Record<string, unknown> = { ts: date.toISOString() }
    for (const [key, value] of HashMap.toEntries(annotations)) {
      fields[key] = isSensitiveKey(key) ? REDACTED : redact(value)
    }
    if (!List.isNil(spans)) {
      const elapsed: Record<string, number> = {}
      for (const span of spans) elapsed[span.label] = date.getTime() - span.startTime
      fields.spans = elapsed
    }
    if (!Cause.isEmpty(cause)) fields.error = redactString(Cause.pretty(cause, { renderErrorCause: true }))
    base[level](fields, messageText(message))
  })
}

export interface LoggerOptions {
  /** Log calls below this level are dropped. */
  readonly level: LogLevel.LogLevel
  /** Where the JSON lines go; stdout (synchronously, so nothing is lost at exit) by default. */
  readonly destination?: DestinationStream
}

/** Replaces Effect's default logger with the redacting pino JSON logger. */
export const layer = (options: LoggerOptions): Layer.Layer<never> =>
  Layer.merge(
    Logger.replace(
      Logger.defaultLogger,
      makePinoLogger(options.destination ?? pino.destination({ dest: 1, sync: true }))
    ),
    Logger.minimumLogLevel(options.level)
  )

/** `layer` with the level from `LOG_LEVEL` (trace, debug, info, warn, error, fatal; default info). */
export const live: Layer.Layer<never, ConfigError.ConfigError> = Layer.unwrapEffect(
  Config.logLevel("LOG_LEVEL").pipe(
    Config.withDefault(LogLevel.Info),
    Config.map((level) => layer({ level }))
  )
)
