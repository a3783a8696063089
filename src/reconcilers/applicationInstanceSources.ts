/**
 * What wakes the ApplicationInstance controller: its own kind (not its status-only updates), the
 * Flux objects it owns, a foreign Flux object going away under a release name an instance wants,
 * a Flux CRD being installed or removed, namespaces (the gate label), and the periodic resync. None of its
 * own writes wakes it.
 */
import { type Duration, Effect, Option, Schema, Stream } from "effect"
import { sourceName } from "../helm/desiredRelease.js"
import { type AvailabilitySource, availabilityChanged } from "../kube/availability.js"
import type { CacheReader, CacheTransform } from "../kube/cache.js"
import type { KubeObject, ResourceType } from "../kube/object.js"
import { Resources } from "../kube/resources.js"
import { dropLastApplied, keep } from "../kube/transforms.js"
import type { OwnWrites } from "../runtime/ownWrites.js"
import {
  eventsOf,
  type KeySource,
  keysOf,
  type ObjectEvent,
  ownerKeyFromRefs,
  specOrMetadataChanged,
  type Subscribable
} from "../runtime/sources.js"

/**
 * The kinds the controller reads, each with what its cache keeps: the instance whole (it is
 * decoded in full); of the Flux objects, metadata (owner, intent digest), spec (compared with the
 * desired one) and the HelmRelease's `observedGeneration` and `conditions`; of namespaces, their
 * labels. Widen a transform before reading another field.
 */
export const applicationInstanceInformers: ReadonlyArray<{ readonly kind: ResourceType; readonly transform: CacheTransform }> = [
  { kind: Resources.ApplicationInstance, transform: dropLastApplied },
  // `history` and `lastAttemptedRevision`: the upgrade.helm engine judges an upgrade by them.
  {
    kind: Resources.HelmRelease,
    transform: keep({ fields: ["spec"], status: ["observedGeneration", "conditions", "history", "lastAttemptedRevision"] })
  },
  { kind: Resources.HelmRepository, transform: keep({ fields: ["spec"], status: [] }) },
  { kind: Resources.OCIRepository, transform: keep({ fields: ["spec"], status: [] }) },
  { kind: Resources.Namespace, transform: keep({ status: [] }) }
]

export interface ApplicationInstanceInformers {
  readonly applicationInstances: Subscribable & { readonly cache: CacheReader }
  readonly helmReleases: Subscribable & AvailabilitySource
  readonly helmRepositories: Subscribable & AvailabilitySource
  readonly ociRepositories: Subscribable & AvailabilitySource
  readonly namespaces: Subscribable
}

const ReleaseName = Schema.Struct({ spec: Schema.Struct({ release: Schema.Struct({ name: Schema.String }) }) })
const releaseNameOf = (ai: KubeObject): string | undefined =>
  Option.getOrUndefined(Schema.decodeUnknownOption(ReleaseName)(ai))?.spec.release.name

const keyOf = (o: KubeObject): string => `${o.metadata.namespace}/${o.metadata.name}`

/**
 * The instances asking for the release a deleted child was named for (`<release>` for a
 * HelmRelease, `<release>-source` for a source): one of them may be blocked by it
 * (`ReleaseConflict`) and can now go ahead. Only deletions: they are what lifts the block.
 */
const waitingForRelease = (
  instances: CacheReader,
  child: Subscribable,
  releaseOf: (childName: string) => string | undefined
): KeySource =>
  eventsOf(child).pipe(
    Stream.filter((e: ObjectEvent) => e.type === "deleted"),
    Stream.mapEffect((e) => {
      const release = releaseOf(e.object.metadata.name ?? "")
      return release === undefined
        ? Effect.succeed([])
        : Effect.map(instances.list(e.object.metadata.namespace), (ais) =>
            ais.filter((ai) => releaseNameOf(ai) === release).map(keyOf)
          )
    }),
    Stream.flattenIterables
  )

const sourceSuffix = sourceName("")
const releaseOfSource = (name: string): string | undefined =>
  name.endsWith(sourceSuffix) ? name.slice(0, -sourceSuffix.length) : undefined

export const applicationInstanceSources = (
  informers: ApplicationInstanceInformers,
  ownWrites: OwnWrites,
  resyncPeriod: Duration.Duration
): ReadonlyArray<KeySource> => {
  const instances = informers.applicationInstances.cache
  const ownedBy = ownerKeyFromRefs(Resources.ApplicationInstance)
  const keysIn = (namespace?: string) => Stream.fromIterableEffect(instances.list(namespace)).pipe(Stream.map(keyOf))
  return [
    // `notOwn` always runs: it forgets the version it matched, whatever the predicate says.
    keysOf(informers.applicationInstances, undefined, (e) =>
      Effect.map(ownWrites.notOwn(e), (notOwn) => notOwn && specOrMetadataChanged(e))),
    keysOf(informers.helmReleases, ownedBy, ownWrites.notOwn),
    keysOf(informers.helmRepositories, ownedBy, ownWrites.notOwn),
    keysOf(informers.ociRepositories, ownedBy, ownWrites.notOwn),
    waitingForRelease(instances, informers.helmReleases, (name) => name),
    waitingForRelease(instances, informers.helmRepositories, releaseOfSource),
    waitingForRelease(instances, informers.ociRepositories, releaseOfSource),
    // Flux installed after the operator started (blocked instances go ahead), or removed.
    ...[informers.helmReleases, informers.helmRepositories, informers.ociRepositories].map((i) =>
      availabilityChanged(i).pipe(Stream.flatMap(() => keysIn()))
    ),
    // A namespace gaining or losing the gate label re-gates every instance in it.
    eventsOf(informers.namespaces).pipe(Stream.flatMap((e) => keysIn(e.object.metadata.name))),
    Stream.tick(resyncPeriod).pipe(Stream.drop(1), Stream.flatMap(() => keysIn()))
  ]
}
