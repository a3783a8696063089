/**
 * Reads for reconcilers. In the running operator they come from informer caches (no API traffic);
 * `objectLookupFromApi` reads straight from the API server, for tools and tests that run without
 * informers.
 */
import { Context, Effect, Layer, Option } from "effect"
import type { KubeError } from "../kube/errors.js"
import { KubeApi } from "../kube/KubeApi.js"
import type { KubeObject, ResourceType } from "../kube/object.js"

export interface ObjectLookupService {
  readonly get: (
    type: ResourceType,
    namespace: string | undefined,
    name: string
  ) => Effect.Effect<Option.Option<KubeObject>, KubeError>
}

export class ObjectLookup extends Context.Tag("vworkspace/ObjectLookup")<ObjectLookup, ObjectLookupService>() {}

export const objectLookupFromApi = Layer.effect(
  ObjectLookup,
  Effect.map(KubeApi, (api) => ({
    get: (type, namespace, name) =>
      api.get(type, name, namespace).pipe(
        Effect.map(Option.some),
        Effect.catchTag("NotFound", () => Effect.succeed(Option.none()))
      )
  }))
)
