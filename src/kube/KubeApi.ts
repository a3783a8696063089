import { Context, type Duration, type Effect, type Stream } from "effect"
import type { KubeError } from "./errors.js"
import type { KubeObject, ResourceType } from "./object.js"

export interface ListOptions {
  readonly namespace?: string
  readonly labelSelector?: string
  readonly fieldSelector?: string
  readonly limit?: number
  readonly continue?: string
  readonly resourceVersion?: string
}

export interface ListResult {
  readonly items: ReadonlyArray<KubeObject>
  readonly resourceVersion: string
  readonly continue?: string
}

export interface WatchOptions {
  readonly namespace?: string
  readonly labelSelector?: string
  readonly fieldSelector?: string
  readonly resourceVersion?: string
  readonly allowWatchBookmarks?: boolean
  /** Server-side timeout: the API server ends the watch cleanly after this many seconds. */
  readonly timeoutSeconds?: number
  /** Client-side idle timeout: no bytes for this long fails the stream with `Timeout`. */
  readonly idleTimeout?: Duration.DurationInput
}

export type WatchEventType = "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK"

export interface WatchEvent {
  readonly type: WatchEventType
  readonly object: KubeObject
}

export interface ApplyOptions {
  readonly fieldManager: string
  readonly force?: boolean
}

export interface DeleteOptions {
  readonly preconditions?: { readonly uid?: string; readonly resourceVersion?: string }
  readonly propagationPolicy?: "Foreground" | "Background" | "Orphan"
}

export type PatchType = "merge" | "json" | "strategic"

/**
 * A typed client for the Kubernetes REST API. Every call has a timeout; errors are typed.
 * Retrying is the caller's choice (see `kubeRetry`).
 */
export interface KubeApiService {
  readonly get: (type: ResourceType, name: string, namespace?: string) => Effect.Effect<KubeObject, KubeError>
  readonly list: (type: ResourceType, options?: ListOptions) => Effect.Effect<ListResult, KubeError>
  /**
   * A watch as a stream. It ends when the server closes the watch; an expired resourceVersion fails
   * it with `Gone`; a silent connection fails it with `Timeout` after `idleTimeout`.
   */
  readonly watch: (type: ResourceType, options?: WatchOptions) => Stream.Stream<WatchEvent, KubeError>
  readonly create: (type: ResourceType, object: KubeObject) => Effect.Effect<KubeObject, KubeError>
  /** Server-side apply (`application/apply-patch+yaml`) of the object's fields under `fieldManager`. */
  readonly apply: (type: ResourceType, object: KubeObject, options: ApplyOptions) => Effect.Effect<KubeObject, KubeError>
  /** Server-side apply to the `/status` subresource. */
  readonly applyStatus: (
    type: ResourceType,
    object: KubeObject,
    options: ApplyOptions
  ) => Effect.Effect<KubeObject, KubeError>
  readonly patch: (
    type: ResourceType,
    name: string,
    namespace: string | undefined,
    patchType: PatchType,
    body: unknown,
    options?: { readonly fieldManager?: string }
  ) => Effect.Effect<KubeObject, KubeError>
  readonly delete: (
    type: ResourceType,
    name: string,
    namespace?: string,
    options?: DeleteOptions
  ) => Effect.Effect<void, KubeError>
  /** `GET /version` of the API server. */
  readonly version: Effect.Effect<{ readonly gitVersion: string; readonly major: string; readonly minor: string }, KubeError>
}

export class KubeApi extends Context.Tag("vworkspace/KubeApi")<KubeApi, KubeApiService>() {}
