/** Push or GitOps without an events endpoint: status stays in conditions and Kubernetes Events. */
import { Effect } from "effect"
import type { StatusSinkService } from "../statusSink.js"

export const conditionsOnlySink: StatusSinkService = { publish: () => Effect.void }
