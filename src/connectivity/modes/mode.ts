/**
 * The connectivity mode: how intent reaches the cluster and how status leaves it
 * (spec/connectivity.md §1). Chosen once at start-up by `--connectivity-mode`.
 */
import { Data, Either } from "effect"

export const ConnectivityModes = ["pull", "push", "gitops"] as const
export type ConnectivityMode = (typeof ConnectivityModes)[number]

/** A mode name that is not one of `ConnectivityModes`: a start-up error. */
export class UnknownConnectivityMode extends Data.TaggedError("UnknownConnectivityMode")<{
  readonly value: string
  readonly message: string
}> {}

const isMode = (value: string): value is ConnectivityMode => (ConnectivityModes as ReadonlyArray<string>).includes(value)

export const parseConnectivityMode = (value: string): Either.Either<ConnectivityMode, UnknownConnectivityMode> => {
  const trimmed = value.trim().toLowerCase()
  return isMode(trimmed)
    ? Either.right(trimmed)
    : Either.left(
        new UnknownConnectivityMode({
          value,
          message: `unknown connectivity mode "${value}": use one of ${ConnectivityModes.join(", ")}`
        })
      )
}
