import { Data, Duration } from "effect"

/** One field-level cause of an `Invalid` (422) answer, as the API server reports it. */
export interface InvalidCause {
  readonly field?: string
  readonly reason?: string
  readonly message: string
}

export class NotFound extends Data.TaggedError("NotFound")<{ readonly message: string }> {}
export class Conflict extends Data.TaggedError("Conflict")<{ readonly message: string }> {}
export class AlreadyExists extends Data.TaggedError("AlreadyExists")<{ readonly message: string }> {}
/** 410: the requested resourceVersion is too old; the caller must relist. */
export class Gone extends Data.TaggedError("Gone")<{ readonly message: string }> {}
export class TooManyRequests extends Data.TaggedError("TooManyRequests")<{
  readonly message: string
  readonly retryAfter: Duration.Duration
}> {}
export class Forbidden extends Data.TaggedError("Forbidden")<{ readonly message: string }> {}
export class Unauthorized extends Data.TaggedError("Unauthorized")<{ readonly message: string }> {}
export class Invalid extends Data.TaggedError("Invalid")<{
  readonly message: string
  readonly causes: ReadonlyArray<InvalidCause>
}> {}
/** Any other non-2xx answer (400, 405, 5xx, ...). 5xx is transient. */
export class ServerError extends Data.TaggedError("ServerError")<{
  readonly status: number
  readonly message: string
}> {}
/** The connection failed, was reset, or the body could not be read or parsed. */
export class Transport extends Data.TaggedError("Transport")<{ readonly message: string; readonly cause?: unknown }> {}
export class Timeout extends Data.TaggedError("Timeout")<{ readonly message: string }> {}

export type KubeError =
  | NotFound
  | Conflict
  | AlreadyExists
  | Gone
  | TooManyRequests
  | Forbidden
  | Unauthorized
  | Invalid
  | ServerError
  | Transport
  | Timeout

/** Errors worth retrying: the same request may succeed later without any change by the caller. */
export const isTransient = (e: KubeError): boolean => {
  switch (e._tag) {
    case "Transport":
    case "Timeout":
    case "TooManyRequests":
      return true
    case "ServerError":
      return e.status >= 500
    default:
      return false
  }
}
