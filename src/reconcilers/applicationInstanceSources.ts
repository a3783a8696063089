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
  eventKeys,
  eventsOf,
  type KeySource,
  keysFromEventsWith,
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
 * What a child's events wake, in one subscription per child kind: the owner of a child whose
 * version the controller did not write itself, and, when a child is deleted, the instances asking
 * for the release it was named for (`<release>` for a HelmRelease, `<release>-source` for a
 * source): one of them may be blocked by it (`ReleaseConflict`) and can now go ahead. Only
 * deletions lift such a block.
 */
const childKeys = (
  instances: CacheReader,
  child: Subscribable,
  ownWrites: OwnWrites,
  releaseOf: (childName: string) => string | undefined
): KeySource => {
  const owners = eventKeys(ownerKeyFromRefs(Resources.ApplicationInstance))
  const waiting = (e: ObjectEvent): Effect.Effect<ReadonlyArray<string>> => {
    const release = e.type === "deleted" ? releaseOf(e.object.metadata.name ?? "") : undefined
    return release === undefined
      ? Effect.succeed([])
      : Effect.map(instances.list(e.object.metadata.namespace), (ais) => ais.filter((ai) => releaseNameOf(ai) === release).map(keyOf))
  }
  return keysFromEventsWith(eventsOf(child), (e) =>
    // `notOwn` always runs: it forgets the version it matched.
    Effect.zipWith(ownWrites.notOwn(e), waiting(e), (notOwn, blocked) => (notOwn ? [...owners(e), ...blocked] : blocked))
  )
}

const sourceSuffix = sourceName("")
const releaseOfSource = (name: string): string | undefined =>
  name.endsWith(sourceSuffix) ? name.slice(0, -sourceSuffix.length) : undefined

export const applicationInstanceSources = (
  informers: ApplicationInstanceInformers,
  ownWrites: OwnWrites,
  resyncPeriod: Duration.Duration
): ReadonlyArray<KeySource> => {
  const instances = informers.applicationInstances.cache
  const keysIn = (namespace?: string) => Stream.fromIterableEffect(instances.list(namespace)).pipe(Stream.map(keyOf))
  return [
    // `notOwn` always runs: it forgets the version it matched, whatever the predicate says.
    keysOf(informers.applicationInstances, undefined, (e) =>
      Effect.map(ownWrites.notOwn(e), (notOwn) => notOwn && specOrMetadataChanged(e))),
    childKeys(instances, informers.helmReleases, ownWrites, (name) => name),
    childKeys(instances, informers.helmRepositories, ownWrites, releaseOfSource),
    childKeys(instances, informers.ociRepositories, ownWrites, releaseOfSource),
    // Flux installed after the operator started (blocked instances go ahead), or removed.
    ...[informers.helmReleases, informers.helmRepositories, informers.ociRepositories].map((i) =>
      availabilityChanged(i).pipe(Stream.flatMap(() => keysIn()))
    ),
    // A namespace gaining or losing the gate label re-gates every instance in it.
    eventsOf(informers.namespaces).pipe(Stream.flatMap((e) => keysIn(e.object.metadata.name))),
    Stream.tick(resyncPeriod).pipe(Stream.drop(1), Stream.flatMap(() => keysIn()))
  ]
}
