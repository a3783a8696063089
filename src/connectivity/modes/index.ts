/**
 * Mode selection: the one place that looks at the connectivity mode. Each mode is a pair of
 * services, `IntentSource` and `StatusSink`; everything else runs the same in every mode. The
 * sink is chosen first, because the agent (part of Pull's intent source) reports rotations to it.
 */
import { Data, Effect, Option } from "effect"
import type { OperatorConfigShape } from "../../config.js"
import type { KubeApi } from "../../kube/KubeApi.js"
import type { StatusSinkService } from "../statusSink.js"
import { type GitOpsNeedsClusterId, gitOpsIntentSource } from "./gitops.js"
import type { IntentSourceService } from "./intentSource.js"
import type { ConnectivityMode } from "./mode.js"
import { pullIntentSource } from "./pull.js"
import { pushIntentSource } from "./push.js"
import { conditionsOnlySink } from "./sinks.js"

export class GitOpsNotConfigured extends Data.TaggedError("GitOpsNotConfigured")<{ readonly message: string }> {}

export type ConnectivityConfigError = GitOpsNeedsClusterId | GitOpsNotConfigured

interface Mode {
  /** Pull always reports to the events endpoint; Push and GitOps when `reportEvents` is set. */
  readonly reportsEvents: (config: OperatorConfigShape) => boolean
  readonly intentSource: (
    config: OperatorConfigShape,
    inputs: { readonly sink: StatusSinkService; readonly pullAgent: Effect.Effect<void> }
  ) => Effect.Effect<IntentSourceService, ConnectivityConfigError, KubeApi>
}

const modes: Record<ConnectivityMode, Mode> = {
  pull: {
    reportsEvents: () => true,
    intentSource: (_config, inputs) => Effect.succeed(pullIntentSource(inputs.pullAgent))
  },
  push: {
    reportsEvents: (config) => config.connectivity.reportEvents,
    intentSource: (config) => Effect.succeed(pushIntentSource(config.connectivity.reportEvents))
  },
  gitops: {
    reportsEvents: (config) => config.connectivity.reportEvents,
    intentSource: (config, inputs) =>
      Option.match(config.connectivity.gitops, {
        onNone: () =>
          Effect.fail(
            new GitOpsNotConfigured({
              message: "gitops mode needs --gitops-url (and optionally --gitops-branch, --gitops-interval-seconds, --gitops-secret)"
            })
          ),
        onSome: (settings) => gitOpsIntentSource(settings, config.clusterId, config.connectivity.reportEvents, inputs.sink)
      })
  }
}

/** Whether status goes to the control plane's events endpoint (through the outbox) in this mode. */
export const reportsEvents = (config: OperatorConfigShape): boolean => modes[config.connectivity.mode].reportsEvents(config)

/** The mode's StatusSink: the durable outbox, or conditions and Kubernetes Events only. */
export const selectStatusSink = (config: OperatorConfigShape, outbox: StatusSinkService): StatusSinkService =>
  reportsEvents(config) ? outbox : conditionsOnlySink

/** The mode's IntentSource. */
export const selectIntentSource = (
  config: OperatorConfigShape,
  inputs: { readonly sink: StatusSinkService; readonly pullAgent: Effect.Effect<void> }
) => modes[config.connectivity.mode].intentSource(config, inputs)
