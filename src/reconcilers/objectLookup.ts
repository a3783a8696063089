/**
 * Reads for reconcilers. In the running operator they come from informer caches (no API traffic);
 * a test can provide any other Layer.
 */
import { Context, type Effect, type Option } from "effect"
import type { KubeError } from "../kube/errors.js"
import type { KubeObject, ResourceType } from "../kube/object.js"

export interface ObjectLookupService {
  readonly get: (
    type: ResourceType,
    namespace: string | undefined,
    name: string
  ) => Effect.Effect<Option.Option<KubeObject>, KubeError>
  /** Every cached object of the kind, in one namespace or (absent) all. */
  readonly list: (type: ResourceType, namespace: string | undefined) => Effect.Effect<ReadonlyArray<KubeObject>, KubeError>
  /** Cached objects of the kind carrying the label `key=value`, in any namespace. */
  readonly byLabel: (type: ResourceType, key: string, value: string) => Effect.Effect<ReadonlyArray<KubeObject>, KubeError>
}

export class ObjectLookup extends Context.Tag("vworkspace/ObjectLookup")<ObjectLookup, ObjectLookupService>() {}
