/** The `job` engine (runCommand.job): the Operation's command as a batch/v1 Job. */
import { RunCommandJobParameters } from "../api/operationParameters.js"
import { registerEngine } from "./engine.js"
import { makeRunnerJobEngine } from "./runnerJob.js"

export const jobEngine = makeRunnerJobEngine({
  name: "job",
  parameters: RunCommandJobParameters,
  jobSpec: (p) => p,
  reasons: {
    active: "JobPodActive",
    pending: "JobPending",
    succeeded: "JobSucceeded",
    failed: "JobFailed",
    backoffExceeded: "JobFailedBackoffExceeded",
    deadlineExceeded: "JobActiveDeadlineExceeded"
  }
})

export const jobEngineLayer = registerEngine(jobEngine)
