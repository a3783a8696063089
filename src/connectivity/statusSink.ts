/**
 * How status leaves the cluster (one of the two services every connectivity mode provides). Pull,
 * and Push or GitOps with an events endpoint, queue events in the durable outbox; without an
 * endpoint, status stays in conditions and Kubernetes Events and this sink keeps nothing.
 */
import { Context, type Effect } from "effect"
import type { AgentEvent } from "../api/agentProtocol.js"

export interface StatusSinkService {
  /** Hand events over for delivery. Never drops silently: overflow is counted and surfaced. */
  readonly publish: (events: ReadonlyArray<AgentEvent>) => Effect.Effect<void>
}

export class StatusSink extends Context.Tag("vworkspace/StatusSink")<StatusSink, StatusSinkService>() {}
