/**
 * Kubernetes Events for the objects the operator reconciles. Recording never blocks or fails the
 * caller: events go into a bounded queue that a background fiber drains, as client-go's event
 * broadcaster does. An Event is a courtesy to the person running `kubectl describe`, not state;
 * when the queue is full the event is dropped and a warning is logged.
 */
import { Context, DateTime, Effect, Layer, Queue } from "effect"
import { KubeApi } from "../kube/KubeApi.js"
import type { KubeObject } from "../kube/object.js"
import { Resources } from "../kube/resources.js"

export type EventType = "Normal" | "Warning"

export interface EventRecorderService {
  readonly record: (regarding: KubeObject, type: EventType, reason: string, message: string) => Effect.Effect<void>
}

export class EventRecorder extends Context.Tag("vworkspace/EventRecorder")<EventRecorder, EventRecorderService>() {}

const component = "vworkspace-operator"
/** The API server rejects Event messages longer than this. */
const maxMessage = 1024
const queueCapacity = 1000
const writers = 2

export const eventRecorderLive = Layer.scoped(
  EventRecorder,
  Effect.gen(function* () {
    const api = yield* KubeApi
    const pending = yield* Queue.dropping<KubeObject>(queueCapacity)
    const write = (event: KubeObject) =>
      api.create(Resources.Event, event).pipe(
        Effect.catchAll((e) =>
          Effect.logWarning("could not record event").pipe(
            Effect.annotateLogs({ reason: String(event["reason"]), error: e._tag })
          )
        )
      )
    yield* Effect.forkScoped(
      Effect.forever(Effect.flatMap(Queue.take(pending), write)).pipe(Effect.replicateEffect(writers, { concurrency: "unbounded" }))
    )
    return {
      record: (regarding, type, reason, message) =>
        Effect.gen(function* () {
          const now = DateTime.formatIso(yield* DateTime.now)
          const meta = regarding.metadata
          const accepted = yield* Queue.offer(pending, {
            apiVersion: "v1",
            kind: "Event",
            metadata: { generateName: `${meta.name ?? "object"}.`, namespace: meta.namespace ?? "default" },
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
          if (!accepted) yield* Effect.logWarning("event queue full; event dropped").pipe(Effect.annotateLogs({ reason }))
        })
    }
  })
)
