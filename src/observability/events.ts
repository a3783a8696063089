/**
 * Kubernetes Events for the objects the operator reconciles. Recording never fails the caller:
 * an Event is a courtesy to the person running `kubectl describe`, not part of the state.
 */
import { Context, DateTime, Effect, Layer } from "effect"
import { KubeApi } from "../kube/KubeApi.js"
import type { KubeObject } from "../kube/object.js"
import { Resources } from "../kube/resources.js"

export type EventType = "Normal" | "Warning"

export interface EventRecorderService {
  readonly record: (
    regarding: KubeObject,
    type: EventType,
    reason: string,
    message: string
  ) => Effect.Effect<void>
}

export class EventRecorder extends Context.Tag("vworkspace/EventRecorder")<EventRecorder, EventRecorderService>() {}

const component = "vworkspace-operator"
/** The API server rejects Event messages longer than this. */
const maxMessage = 1024

export const eventRecorderLive = Layer.effect(
  EventRecorder,
  Effect.map(KubeApi, (api) => ({
    record: (regarding, type, reason, message) =>
      Effect.gen(function* () {
        const now = DateTime.formatIso(yield* DateTime.now)
        const meta = regarding.metadata
        const namespace = meta.namespace ?? "default"
        yield* api.create(Resources.Event, {
          apiVersion: "v1",
          kind: "Event",
          metadata: { generateName: `${meta.name ?? "object"}.`, namespace },
          involvedObject: {
            apiVersion: regarding.apiVersion,
            kind: regarding.kind,
            name: meta.name,
            namespace: meta.namespace,
            uid: meta.uid,
            resourceVersion: meta.resourceVersion
          },
          type,
          reason,
          message: message.length > maxMessage ? `${message.slice(0, maxMessage - 3)}...` : message,
          source: { component },
          reportingComponent: component,
          reportingInstance: component,
          firstTimestamp: now,
          lastTimestamp: now,
          count: 1
        })
      }).pipe(
        Effect.catchAll((e) =>
          Effect.logWarning("could not record event").pipe(Effect.annotateLogs({ reason, error: e._tag }))
        )
      )
  }))
)
