/**
 * Whether the API server serves a kind, as its informer found out. A cluster without Flux (or
 * without Velero, Argo, VolSync, snapshots) is a state, not an error: an informer whose list
 * answers 404 reports its kind `Missing`, keeps checking with backoff, and starts by itself when
 * the CRD is installed. Reconcilers read this to say `Blocked/MissingDependencies` instead of
 * failing on a 404.
 *
 * An informer's kind is required by default: a missing required kind fails `/readyz`. Engines
 * whose kinds are optional (`makeInformer(kind, { optional: true })`) only lose their feature.
 */
import { Context, Effect, Layer, Option, Stream, SubscriptionRef } from "effect"
import { apiVersionOf, type ResourceType } from "./object.js"

export type KindState =
  /** Not listed yet. */
  | { readonly _tag: "Unknown" }
  /** Listed: the informer's cache holds the kind's objects. */
  | { readonly _tag: "Available" }
  /** The API server does not serve the kind (its CRD is not installed). */
  | { readonly _tag: "Missing"; readonly message: string }

export const KindState = {
  unknown: { _tag: "Unknown" } as KindState,
  available: { _tag: "Available" } as KindState,
  missing: (type: ResourceType): KindState => ({ _tag: "Missing", message: missingMessage(type) })
} as const

/** `helmreleases.helm.toolkit.fluxcd.io`: the CRD's name (or the core resource's plural). */
export const crdName = (type: ResourceType): string => (type.group === "" ? type.plural : `${type.plural}.${type.group}`)

export const missingMessage = (type: ResourceType): string =>
  `the API server does not serve ${type.kind} (${apiVersionOf(type)}): CustomResourceDefinition ${crdName(type)} is not installed`

export interface KindAvailabilityService {
  /** The state of a kind the operator watches; `Unknown` for a kind it does not watch. */
  readonly of: (type: ResourceType) => Effect.Effect<KindState>
}

/** Which kinds the cluster serves, read from the informers (no API traffic). */
export class KindAvailability extends Context.Tag("vworkspace/KindAvailability")<
  KindAvailability,
  KindAvailabilityService
>() {}

/** The kinds among `types` that are missing (in the order given). */
export const missingKinds = (
  types: ReadonlyArray<ResourceType>
): Effect.Effect<ReadonlyArray<ResourceType>, never, KindAvailability> =>
  Effect.flatMap(KindAvailability, (availability) =>
    Effect.filter(types, (t) => Effect.map(availability.of(t), (s) => s._tag === "Missing"))
  )

/** What `KindAvailability` reads of an informer (`Informer` fits). */
export interface AvailabilitySource {
  readonly availability: SubscriptionRef.SubscriptionRef<KindState>
}

/** `KindAvailability` over the operator's informers. */
export const kindAvailabilityFrom = (
  informers: ReadonlyMap<ResourceType, AvailabilitySource>
): Layer.Layer<KindAvailability> =>
  Layer.succeed(KindAvailability, {
    of: (type) => {
      const informer = informers.get(type)
      return informer === undefined ? Effect.succeed(KindState.unknown) : SubscriptionRef.get(informer.availability)
    }
  })

/**
 * Emits each time a kind goes from `Missing` to `Available` (its CRD was installed) or back (it
 * was removed), not for the first list.
 */
export const availabilityChanged = (source: AvailabilitySource): Stream.Stream<KindState> =>
  source.availability.changes.pipe(
    Stream.zipWithPrevious,
    Stream.filter(
      ([before, now]) =>
        now._tag !== "Unknown" && Option.exists(before, (b) => b._tag !== "Unknown" && b._tag !== now._tag)
    ),
    Stream.map(([, now]) => now)
  )
