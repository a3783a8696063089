/** The StatusSink of a mode: the durable outbox when status goes to the events endpoint, else none. */
import { Effect } from "effect"
import type { StatusSinkService } from "../statusSink.js"

/** Push or GitOps without an events endpoint: status stays in conditions and Kubernetes Events. */
export const conditionsOnlySink: StatusSinkService = { publish: () => Effect.void }

export const sinkFor = (reportsEvents: boolean, outbox: StatusSinkService): StatusSinkService =>
  reportsEvents ? outbox : conditionsOnlySink
