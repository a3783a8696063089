/**
 * The `helmHookJob` engine (migration.helmHookJob): a Job labelled and annotated with the hook
 * name (`ops.vworkspace.io/hook-name`, `helm.sh/hook`). The hook is not resolved from the chart's
 * manifests: the image (and command) come from the parameters.
 */
import { MigrationHelmHookJobParameters } from "../api/operationParameters.js"
import { Annotations, Labels } from "../api/wellKnown.js"
import { registerEngine } from "./engine.js"
import { makeRunnerJobEngine } from "./runnerJob.js"

export const helmHookJobEngine = makeRunnerJobEngine({
  name: "helmHookJob",
  parameters: MigrationHelmHookJobParameters,
  jobSpec: ({ hookName, ...job }) => ({
    ...job,
    labels: { [Labels.hookName]: hookName },
    annotations: { [Annotations.helmHook]: hookName }
  }),
  reasons: {
    active: "HelmHookJobActive",
    pending: "HelmHookJobPending",
    succeeded: "HelmHookJobSucceeded",
    failed: "HelmHookJobFailed",
    backoffExceeded: "HelmHookJobFailed",
    deadlineExceeded: "HelmHookJobFailed"
  }
})

export const helmHookJobEngineLayer = registerEngine(helmHookJobEngine)
