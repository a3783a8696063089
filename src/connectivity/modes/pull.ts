/** Pull (the default): the agent long-polls the control plane; status goes through the outbox. */
import { Effect, Stream } from "effect"
import type { IntentSourceService } from "./intentSource.js"

export const pullIntentSource = (agent: Effect.Effect<void>): IntentSourceService => ({
  mode: "pull",
  usesControlPlane: true,
  run: agent,
  report: Effect.succeed({ healthy: true, fields: {} }),
  changes: Stream.empty
})
