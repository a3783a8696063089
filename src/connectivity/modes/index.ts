/**
 * Mode selection: the one place that looks at the connectivity mode. Each mode is a pair of
 * services, `IntentSource` and `StatusSink`; everything else runs the same in every mode.
 */
import { Context, Data, Effect, Layer, Option } from "effect"
import type { OperatorConfigShape } from "../../config.js"
import type { KubeApi } from "../../kube/KubeApi.js"
import { StatusSink, type StatusSinkService } from "../statusSink.js"
import { type GitOpsNeedsClusterId, gitOpsIntentSource } from "./gitops.js"
import { IntentSource, type IntentSourceService } from "./intentSource.js"
import type { ConnectivityMode } from "./mode.js"
import { pullIntentSource } from "./pull.js"
import { pushIntentSource } from "./push.js"
import { sinkFor } from "./sinks.js"

export class GitOpsNotConfigured extends Data.TaggedError("GitOpsNotConfigured")<{ readonly message: string }> {}

export type ConnectivityConfigError = GitOpsNeedsClusterId | GitOpsNotConfigured

/** What the modes are built from. */
export interface ModeInputs {
  /** The durable outbox: the StatusSink of every mode that reports to the events endpoint. */
  readonly outbox: StatusSinkService
  /** The Pull agent's poll loop (leader-only). */
  readonly pullAgent: Effect.Effect<void>
}

interface ModeServices {
  readonly intentSource: IntentSourceService
  readonly statusSink: StatusSinkService
}

type ModeBuilder = (
  config: OperatorConfigShape,
  inputs: ModeInputs
) => Effect.Effect<ModeServices, ConnectivityConfigError, KubeApi>

const modes: Record<ConnectivityMode, ModeBuilder> = {
  pull: (_config, inputs) => Effect.succeed({ intentSource: pullIntentSource(inputs.pullAgent), statusSink: inputs.outbox }),
  push: (config, inputs) => {
    const events = config.connectivity.reportEvents
    return Effect.succeed({ intentSource: pushIntentSource(events), statusSink: sinkFor(events, inputs.outbox) })
  },
  gitops: (config, inputs) =>
    Effect.gen(function* () {
      const settings = config.connectivity.gitops
      if (Option.isNone(settings)) {
        return yield* new GitOpsNotConfigured({
          message: "gitops mode needs --gitops-url (and optionally --gitops-branch, --gitops-interval, --gitops-secret)"
        })
      }
      const events = config.connectivity.reportEvents
      const statusSink = sinkFor(events, inputs.outbox)
      const intentSource = yield* gitOpsIntentSource(settings.value, config.clusterId, events, statusSink)
      return { intentSource, statusSink }
    })
}

/** `IntentSource` and `StatusSink` of the configured mode. */
export const connectivityLayer = (
  config: OperatorConfigShape,
  inputs: ModeInputs
): Layer.Layer<IntentSource | StatusSink, ConnectivityConfigError, KubeApi> =>
  Layer.effectContext(
    Effect.map(modes[config.connectivity.mode](config, inputs), (s) =>
      Context.make(IntentSource, s.intentSource).pipe(Context.add(StatusSink, s.statusSink))
    )
  )
