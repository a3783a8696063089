/**
 * The batch/v1 Job both Job engines run (spec/operations.md §8.3, §8.4): one container, the
 * runner ServiceAccount, `restartPolicy: Never`, `ttlSecondsAfterFinished` 86400 unless set, and
 * the ownership labels on the Job and its pod template. Progress comes from the Job's conditions
 * (the real Job controller writes them) and its newest pod is the operation's `logsRef`.
 */
import { Effect, Either, Option, ParseResult, Schema } from "effect"
import type { Operation, OperationEngine } from "../api/operation.js"
import type { JobEnvVar } from "../api/operationParameters.js"
import { Names } from "../api/wellKnown.js"
import type { KubeObject } from "../kube/object.js"
import { Resources } from "../kube/resources.js"
import { ObjectLookup } from "../reconcilers/objectLookup.js"
import {
  EngineError,
  type EngineInput,
  EngineObservation,
  type OperationEngineService,
  type WorkloadRef
} from "./engine.js"
import {
  createOwned,
  deleteOwned,
  makeRunnerServiceAccounts,
  findWorkload,
  kubeFailure,
  ownerReferences,
  targetNamespace,
  workloadLabels,
  workloadName
} from "./workload.js"

export const defaultTtlSecondsAfterFinished = 86400

/** What a Job engine builds its Job from, after decoding its own parameters. */
export interface RunnerJobSpec {
  readonly image: string
  readonly command?: ReadonlyArray<string>
  readonly args?: ReadonlyArray<string>
  readonly env?: ReadonlyArray<JobEnvVar>
  readonly activeDeadlineSeconds?: number
  readonly backoffLimit?: number
  readonly ttlSecondsAfterFinished?: number
  /** Extra labels for the Job and its pods, and annotations for the Job. */
  readonly labels?: Readonly<Record<string, string>>
  readonly annotations?: Readonly<Record<string, string>>
}

/** The engine reasons of the docs, per Job engine. */
export interface JobReasons {
  readonly active: string
  readonly pending: string
  readonly succeeded: string
  readonly failed: string
  readonly backoffExceeded: string
  readonly deadlineExceeded: string
}

export interface RunnerJobEngineOptions<P> {
  readonly name: OperationEngine
  readonly parameters: Schema.Schema<P>
  readonly jobSpec: (parameters: P) => RunnerJobSpec
  readonly reasons: JobReasons
}

const JobCondition = Schema.Struct({ type: Schema.String, status: Schema.String, reason: Schema.optional(Schema.String), message: Schema.optional(Schema.String) })
const JobStatus = Schema.Struct({
  conditions: Schema.optional(Schema.Array(JobCondition)),
  active: Schema.optional(Schema.Number),
  succeeded: Schema.optional(Schema.Number),
  failed: Schema.optional(Schema.Number)
})
const decodeJobStatus = Schema.decodeUnknownOption(JobStatus)

export const buildRunnerJob = (op: Operation, namespace: string, spec: RunnerJobSpec): KubeObject => {
  const labels = { ...workloadLabels(op), ...spec.labels }
  const owners = ownerReferences(op, namespace)
  return {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: {
      name: workloadName(op),
      namespace,
      labels,
      ...(spec.annotations === undefined ? {} : { annotations: { ...spec.annotations } }),
      ...(owners.length === 0 ? {} : { ownerReferences: owners })
    },
    spec: {
      ...(spec.backoffLimit === undefined ? {} : { backoffLimit: spec.backoffLimit }),
      ...(spec.activeDeadlineSeconds === undefined ? {} : { activeDeadlineSeconds: spec.activeDeadlineSeconds }),
      ttlSecondsAfterFinished: spec.ttlSecondsAfterFinished ?? defaultTtlSecondsAfterFinished,
      template: {
        metadata: { labels },
        spec: {
          restartPolicy: "Never",
          serviceAccountName: Names.operationRunnerServiceAccount,
          containers: [
            {
              name: "runner",
              image: spec.image,
              ...(spec.command === undefined ? {} : { command: [...spec.command] }),
              ...(spec.args === undefined ? {} : { args: [...spec.args] }),
              ...(spec.env === undefined || spec.env.length === 0 ? {} : { env: spec.env.map((e) => ({ ...e })) })
            }
          ]
        }
      }
    }
  }
}

const jobRef = (job: KubeObject): WorkloadRef => ({
  kind: "Job",
  name: job.metadata.name ?? "",
  namespace: job.metadata.namespace ?? ""
})

/** The Job's newest pod (the Job controller labels its pods with the Job name). */
const newestPod = (job: KubeObject) =>
  Effect.gen(function* () {
    const lookup = yield* ObjectLookup
    const pods = yield* lookup
      .byLabel(Resources.Pod, "batch.kubernetes.io/job-name", job.metadata.name ?? "")
      .pipe(Effect.mapError(kubeFailure("read Pods")))
    const mine = pods.filter((p) => p.metadata.namespace === job.metadata.namespace)
    const newest = [...mine].sort((a, b) =>
      (a.metadata.creationTimestamp ?? "") < (b.metadata.creationTimestamp ?? "") ? 1 : -1
    )[0]
    return newest === undefined ? undefined : { kind: "Pod", name: newest.metadata.name ?? "", namespace: newest.metadata.namespace ?? "" }
  })

/** Maps the Job's conditions the way `kubectl wait --for=condition=complete|failed` reads them. */
const observeJob = (job: KubeObject, reasons: JobReasons): Effect.Effect<EngineObservation, EngineError, ObjectLookup> =>
  Effect.gen(function* () {
    const status = Option.getOrElse(decodeJobStatus(job["status"] ?? {}), () => ({}) as typeof JobStatus.Type)
    const conditions = status.conditions ?? []
    const workload = jobRef(job)
    const pod = yield* newestPod(job)
    const logs = pod === undefined ? {} : { logsRef: pod }
    const outputs = { jobName: workload.name, succeededPods: status.succeeded ?? 0, failedPods: status.failed ?? 0 }
    const complete = conditions.find((c) => c.type === "Complete" && c.status === "True")
    if (complete !== undefined) {
      return EngineObservation.Succeeded({ reason: reasons.succeeded, message: complete.message ?? "Job completed", workload, outputs, ...logs })
    }
    const failed = conditions.find((c) => c.type === "Failed" && c.status === "True")
    if (failed !== undefined) {
      const reason =
        failed.reason === "BackoffLimitExceeded"
          ? reasons.backoffExceeded
          : failed.reason === "DeadlineExceeded"
            ? reasons.deadlineExceeded
            : reasons.failed
      return EngineObservation.Failed({ reason, message: failed.message ?? "Job failed", workload, outputs, ...logs })
    }
    const active = status.active ?? 0
    return EngineObservation.Running({
      reason: active > 0 ? reasons.active : reasons.pending,
      message: active > 0 ? `${active} pod(s) running` : "waiting for the Job's pod to start",
      workload,
      ...logs
    })
  })

const formatParseError = (e: ParseResult.ParseError): string => ParseResult.TreeFormatter.formatErrorSync(e)

/** An engine that runs one batch/v1 Job per Operation. */
export const makeRunnerJobEngine = <P>(options: RunnerJobEngineOptions<P>): OperationEngineService => {
  const decode = Schema.decodeUnknownEither(options.parameters)
  const serviceAccounts = makeRunnerServiceAccounts()
  const location = (input: EngineInput) => ({
    namespace: input.operation.status?.engineRef?.namespace || targetNamespace(input.target),
    name: input.operation.status?.engineRef?.name || workloadName(input.operation)
  })
  const find = (input: EngineInput) => {
    const at = location(input)
    return findWorkload(Resources.Job, input.operation, at.namespace, at.name)
  }
  return {
    name: options.name,
    childKinds: [Resources.Job, Resources.Pod],
    materialize: (input) =>
      Effect.gen(function* () {
        const parameters = decode(input.parameters)
        if (Either.isLeft(parameters)) {
          return yield* new EngineError({ reason: "InvalidParameters", message: formatParseError(parameters.left) })
        }
        const namespace = targetNamespace(input.target)
        yield* serviceAccounts.ensure(namespace)
        const job = yield* createOwned(
          Resources.Job,
          input.operation,
          buildRunnerJob(input.operation, namespace, options.jobSpec(parameters.right))
        )
        return jobRef(job)
      }),
    observe: (input) =>
      Effect.flatMap(find(input), (job) =>
        Option.isNone(job) ? Effect.succeed(EngineObservation.Absent()) : observeJob(job.value, options.reasons)
      ),
    cancel: (input) =>
      Effect.flatMap(find(input), (job) =>
        Option.match(job, { onNone: () => Effect.void, onSome: (j) => deleteOwned(Resources.Job, input.operation, j) })
      )
  }
}
