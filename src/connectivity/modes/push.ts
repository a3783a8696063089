/**
 * Push: the control plane server-side-applies CRs with its own ServiceAccount token (the chart's
 * `vworkspace-control-plane`); the operator polls nothing.
 */
import { Effect, Stream } from "effect"
import type { IntentSourceService } from "./intentSource.js"

export const pushIntentSource = (reportsEvents: boolean): IntentSourceService => ({
  mode: "push",
  usesControlPlane: reportsEvents,
  run: Effect.void,
  report: Effect.succeed({ healthy: true, fields: {} }),
  changes: Stream.empty
})
