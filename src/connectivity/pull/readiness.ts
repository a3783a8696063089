/**
 * When an applied object counts as done (DESIGN.md item 7): an ApplicationInstance at `Ready=True`
 * for its generation, an Operation in a terminal phase, a Velero BackupStorageLocation `Available`
 * (or `Unavailable`: failed fast); every other kind as soon as it is applied. The agent follows
 * the object through a watch on its name (events, not a poll) and reports each change as an
 * interim status.
 */
import { Duration, Effect, Option, Schema, Stream } from "effect"
import { WireCondition, type StatusUpdate } from "../../api/agentProtocol.js"
import { namedOnly } from "../../kube/informer.js"
import { KubeApi } from "../../kube/KubeApi.js"
import type { KubeObject, ResourceType } from "../../kube/object.js"
import { Resources } from "../../kube/resources.js"
import { withKubeRetry } from "../../kube/retry.js"
import { VeleroBackupStorageLocation } from "./allowList.js"

export type Readiness =
  | { readonly _tag: "Ready"; readonly object: KubeObject }
  | { readonly _tag: "Failed"; readonly message: string }
  | { readonly _tag: "Waiting"; readonly progress: Omit<StatusUpdate, "timestamp"> }

const ObservedStatus = Schema.Struct({
  metadata: Schema.Struct({ generation: Schema.optional(Schema.Number) }),
  status: Schema.optional(
    Schema.Struct({
      phase: Schema.optional(Schema.String),
      message: Schema.optional(Schema.String),
      conditions: Schema.optional(Schema.Array(Schema.Unknown))
    })
  )
})
const decodeObserved = Schema.decodeUnknownOption(ObservedStatus)
const decodeCondition = Schema.decodeUnknownOption(WireCondition)

const isKind = (object: KubeObject, type: ResourceType) =>
  object.kind === type.kind && object.apiVersion.startsWith(type.group === "" ? type.version : `${type.group}/`)

/** Whether the object needs a wait at all. */
export const needsWait = (type: ResourceType): boolean =>
  [Resources.ApplicationInstance, Resources.Operation, VeleroBackupStorageLocation].some(
    (t) => t.group === type.group && t.kind === type.kind
  )

export const readinessOf = (object: KubeObject): Readiness => {
  const observed = Option.getOrUndefined(decodeObserved(object))
  const status = observed?.status
  const conditions = (status?.conditions ?? []).flatMap((c) => Option.toArray(decodeCondition(c)))
  const progress = (phase: string): Readiness => ({
    _tag: "Waiting",
    progress: {
      phase,
      ...(conditions.length > 0 ? { conditions } : {}),
      ...(status?.message === undefined ? {} : { message: status.message })
    }
  })
  if (isKind(object, Resources.ApplicationInstance)) {
    const ready = conditions.find((c) => c.type === "Ready")
    const generation = observed?.metadata.generation
    const current = ready?.observedGeneration === undefined || generation === undefined || ready.observedGeneration >= generation
    return ready?.status === "True" && current ? { _tag: "Ready", object } : progress(status?.phase ?? "Reconciling")
  }
  if (isKind(object, Resources.Operation)) {
    const phase = status?.phase ?? "Pending"
    if (phase === "Succeeded") return { _tag: "Ready", object }
    if (phase === "Failed" || phase === "Cancelled") {
      const why = conditions.find((c) => c.status === "True" && (c.type === "Failed" || c.type === "Cancelled")) ?? conditions[0]
      return { _tag: "Failed", message: `Operation ${phase}${why === undefined ? "" : `: ${why.reason}: ${why.message}`}` }
    }
    return progress(phase)
  }
  if (isKind(object, VeleroBackupStorageLocation)) {
    const phase = status?.phase ?? "Pending"
    if (phase === "Available") return { _tag: "Ready", object }
    if (phase === "Unavailable")
      return { _tag: "Failed", message: `BackupStorageLocation Unavailable${status?.message === undefined ? "" : `: ${status.message}`}` }
    return progress(phase)
  }
  return { _tag: "Ready", object }
}

/**
 * Follows the object until it is ready or failed, calling `onProgress` for each distinct interim
 * state. Fails with a message when `timeout` passes first (naming the last state seen).
 */
export const waitForReadiness = (
  type: ResourceType,
  name: string,
  namespace: string | undefined,
  timeout: Duration.DurationInput,
  onProgress: (progress: Omit<StatusUpdate, "timestamp">) => Effect.Effect<void>
): Effect.Effect<KubeObject, string, KubeApi> =>
  Effect.gen(function* () {
    const kube = yield* KubeApi
    let last = ""
    let lastSummary = "nothing observed yet"
    /** Some(outcome) when done; reports progress otherwise. */
    const consider = (object: KubeObject) =>
      Effect.gen(function* () {
        const r = readinessOf(object)
        if (r._tag !== "Waiting") return Option.some(r)
        const key = JSON.stringify(r.progress)
        if (key !== last) {
          last = key
          lastSummary = `phase ${r.progress.phase}${(r.progress.conditions ?? []).map((c) => `, ${c.type}=${c.status} (${c.reason})`).join("")}`
          yield* onProgress(r.progress)
        }
        return Option.none<Readiness>()
      })
    const once = Effect.gen(function* () {
      const object = yield* withKubeRetry(kube.get(type, name, namespace))
      const now = yield* consider(object)
      if (Option.isSome(now)) return now
      return yield* kube
        .watch(type, {
          ...(namespace === undefined ? {} : { namespace }),
          ...namedOnly(name),
          resourceVersion: object.metadata.resourceVersion ?? "",
          timeoutSeconds: 60
        })
        .pipe(
          Stream.filter((e) => e.type !== "BOOKMARK"),
          Stream.mapEffect((e) =>
            e.type === "DELETED"
              ? Effect.succeed(Option.some<Readiness>({ _tag: "Failed", message: `${type.kind} ${name} was deleted while waiting for it` }))
              : consider(e.object)
          ),
          Stream.filterMap((x) => x),
          Stream.runHead
        )
    })
    // A watch ends every minute (or on an error): start over from a fresh read, after a pause.
    const follow: Effect.Effect<Readiness, never, never> = once.pipe(
      Effect.catchAll((e) =>
        Effect.as(Effect.logDebug(`readiness watch of ${type.kind} ${name} ended: ${e.message}`), Option.none<Readiness>())
      ),
      Effect.flatMap(
        Option.match({
          onSome: Effect.succeed,
          onNone: () => Effect.zipRight(Effect.sleep(Duration.millis(500)), Effect.suspend(() => follow))
        })
      )
    )
    const outcome = yield* follow.pipe(
      Effect.timeoutFail({
        duration: timeout,
        onTimeout: () => `${type.kind} ${name} not ready within ${Duration.format(Duration.decode(timeout))} (last seen: ${lastSummary})`
      })
    )
    return outcome._tag === "Ready" ? outcome.object : yield* Effect.fail(outcome._tag === "Failed" ? outcome.message : lastSummary)
  })
