/**
 * `vworkspace_operator_connectivity_state` from what the agent, outbox and heartbeat learnt about
 * the control plane (spec §6.1): `1` while the last round trip succeeded, `0` while it failed but
 * the last success is recent (reconnecting) or nothing was tried yet, `-1` once requests are
 * halted (a rejected or forbidden credential) or no round trip succeeded within the window.
 */
import { Duration, Option } from "effect"
import type { ConnectionSnapshot } from "../connectivity/connectionState.js"
import type { ConnectivityStateValue } from "./metrics.js"

export const connectivityStateOf = (
  snapshot: ConnectionSnapshot,
  nowMillis: number,
  disconnectWindow: Duration.Duration
): ConnectivityStateValue => {
  if (Option.isSome(snapshot.halted)) return -1
  const success = Option.map(snapshot.lastSuccessAt, (d) => d.getTime())
  const failure = Option.map(snapshot.lastFailure, (f) => f.at.getTime())
  if (Option.isNone(failure)) return Option.isSome(success) ? 1 : 0
  if (Option.isSome(success) && success.value >= failure.value) return 1
  const since = Option.getOrElse(success, () => Number.NEGATIVE_INFINITY)
  return nowMillis - since > Duration.toMillis(disconnectWindow) ? -1 : 0
}
