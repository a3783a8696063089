/** The Flux kinds a managed ApplicationInstance needs, and what to tell a user who lacks them. */
import { Effect } from "effect"
import { crdName, missingKinds, type KindAvailability } from "../kube/availability.js"
import type { ResourceType } from "../kube/object.js"
import { Resources } from "../kube/resources.js"

/** Which Flux controller serves each kind. */
const controllerOf = (t: ResourceType): string =>
  t.group === Resources.HelmRelease.group ? "helm-controller" : "source-controller"

/**
 * Undefined when every kind an instance with this source kind needs is served; otherwise the
 * message of its `Blocked=True/MissingDependencies`.
 */
export const missingFlux = (
  sourceType: ResourceType
): Effect.Effect<string | undefined, never, KindAvailability> =>
  Effect.map(missingKinds([Resources.HelmRelease, sourceType]), (missing) =>
    missing.length === 0
      ? undefined
      : `Flux is not installed in this cluster: the API server does not serve ${missing
          .map((t) => `${t.kind} (CRD ${crdName(t)}, from Flux ${controllerOf(t)})`)
          .join(" or ")}. Install Flux helm-controller and source-controller; the instance proceeds by itself once they are installed`
  )
