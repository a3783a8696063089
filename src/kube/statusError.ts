import { Duration, Option, Schema } from "effect"
import {
  AlreadyExists,
  Conflict,
  Forbidden,
  Gone,
  Invalid,
  type InvalidCause,
  type KubeError,
  NotFound,
  ServerError,
  TooManyRequests,
  Unauthorized
} from "./errors.js"

/** The fields of a metav1.Status that decide which typed error it becomes. */
export const StatusSchema = Schema.Struct({
  kind: Schema.optional(Schema.String),
  status: Schema.optional(Schema.String),
  message: Schema.optional(Schema.String),
  reason: Schema.optional(Schema.String),
  code: Schema.optional(Schema.Number),
  details: Schema.optional(
    Schema.Struct({
      retryAfterSeconds: Schema.optional(Schema.Number),
      causes: Schema.optional(
        Schema.Array(
          Schema.Struct({
            field: Schema.optional(Schema.String),
            reason: Schema.optional(Schema.String),
            message: Schema.optional(Schema.String)
          })
        )
      )
    })
  )
})
export type Status = typeof StatusSchema.Type

const decodeStatus = Schema.decodeUnknownOption(StatusSchema)

const DEFAULT_RETRY_AFTER = Duration.seconds(1)

/** `Retry-After` in seconds (the API server never sends an HTTP date); 1 s when absent or unusable. */
const retryAfterOf = (header: string | undefined, status: Status | undefined): Duration.Duration => {
  const fromHeader = header === undefined ? NaN : Number(header.trim())
  if (Number.isFinite(fromHeader) && fromHeader > 0) return Duration.seconds(fromHeader)
  const fromBody = status?.details?.retryAfterSeconds
  if (fromBody !== undefined && fromBody > 0) return Duration.seconds(fromBody)
  return DEFAULT_RETRY_AFTER
}

const causesOf = (status: Status | undefined): ReadonlyArray<InvalidCause> =>
  (status?.details?.causes ?? []).map((c) => ({
    ...(c.field === undefined ? {} : { field: c.field }),
    ...(c.reason === undefined ? {} : { reason: c.reason }),
    message: c.message ?? c.reason ?? "invalid"
  }))

/**
 * The typed error for an HTTP status code and the decoded metav1.Status that came with it.
 * The message is the API server's own, since it names the object and the field at fault.
 */
export const errorFromStatus = (
  code: number,
  status: Status | undefined,
  fallbackMessage: string,
  retryAfterHeader?: string
): KubeError => {
  const message = status?.message !== undefined && status.message !== "" ? status.message : fallbackMessage
  const reason = status?.reason
  if (code === 410 || reason === "Expired" || reason === "Gone") return new Gone({ message })
  switch (code) {
    case 401:
      return new Unauthorized({ message })
    case 403:
      return new Forbidden({ message })
    case 404:
      return new NotFound({ message })
    case 409:
      return reason === "AlreadyExists" ? new AlreadyExists({ message }) : new Conflict({ message })
    case 422:
      return new Invalid({ message, causes: causesOf(status) })
    case 429:
      return new TooManyRequests({ message, retryAfter: retryAfterOf(retryAfterHeader, status) })
    default:
      return new ServerError({ status: code, message })
  }
}

const MAX_RAW_MESSAGE = 512

/** The typed error for a non-2xx answer whose body may or may not be a metav1.Status. */
export const errorFromResponse = (code: number, body: string, retryAfterHeader?: string): KubeError => {
  let parsed: unknown = undefined
  try {
    parsed = JSON.parse(body)
  } catch {
    // Not JSON: a proxy or load balancer answered. Its text is still the best message we have.
  }
  const status = Option.getOrUndefined(decodeStatus(parsed))
  const raw = body.trim().slice(0, MAX_RAW_MESSAGE)
  return errorFromStatus(code, status, raw === "" ? `HTTP ${code}` : `HTTP ${code}: ${raw}`, retryAfterHeader)
}

/** The typed error for a watch `ERROR` event, whose object is a metav1.Status. */
export const errorFromWatchStatus = (object: unknown): KubeError => {
  const status = Option.getOrUndefined(decodeStatus(object))
  return errorFromStatus(status?.code ?? 500, status, "watch failed with an ERROR event")
}
