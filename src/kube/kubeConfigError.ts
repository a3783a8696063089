import { Data } from "effect"

/** The cluster's address or credentials could not be found, read or used. */
export class KubeConfigError extends Data.TaggedError("KubeConfigError")<{
  readonly message: string
  readonly cause?: unknown
}> {}
