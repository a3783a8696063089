/**
 * A StatusSink that posts each batch straight to `POST /api/agent/events`, retried with the agent
 * policy a bounded number of times. Stand-in until the durable outbox is wired: it loses what it
 * cannot deliver (and says so in the log), which the outbox does not.
 */
import { Effect } from "effect"
import type { AgentClientService } from "./agentClient.js"
import { withAgentRetry } from "./retry.js"
import type { StatusSinkService } from "./statusSink.js"

export const directEventSink = (client: AgentClientService): StatusSinkService => ({
  publish: (events) =>
    events.length === 0
      ? Effect.void
      : withAgentRetry(client.postEvents(events), { maxRetries: 5 }).pipe(
          Effect.catchAll((e) =>
            Effect.logWarning("could not deliver events").pipe(Effect.annotateLogs({ error: e._tag, events: events.length }))
          )
        )
})
