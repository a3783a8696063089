import { Chunk, Clock, Deferred, Duration, Effect, Either, PubSub, Queue, Schedule, type Scope, Stream, SubscriptionRef } from "effect"
import { crdName, KindState, missingMessage } from "./availability.js"
import { type CacheChange, type CacheReader, ObjectCache, type CacheTransform } from "./cache.js"
import type { KubeError } from "./errors.js"
import { KubeApi, type ListResult, type WatchEvent } from "./KubeApi.js"
import type { KubeObject, ResourceType } from "./object.js"
import { withKubeRetry } from "./retry.js"

/** What subscribers receive: one change of the cached state. */
export type InformerEvent = CacheChange

/**
 * Hooks for metrics, as plain functions so the informer does not depend on a metrics library.
 * `resource` is `<plural>` for core kinds and `<plural>.<group>` otherwise.
 */
export interface InformerMetrics {
  /** A full list after the first one (after a 410, or when a watch could not resume). */
  readonly relisted: (resource: string) => void
  /** The API server answered 410 Gone: the resourceVersion was too old. */
  readonly gone: (resource: string) => void
  /** A new watch was started after the previous one ended or failed. */
  readonly reconnected: (resource: string) => void
  /** The number of cached objects, after every change. */
  readonly cacheSize: (resource: string, size: number) => void
}

export const noopInformerMetrics: InformerMetrics = {
  relisted: () => {},
  gone: () => {},
  reconnected: () => {},
  cacheSize: () => {}
}

export interface InformerOptions {
  /** Watch one namespace; all namespaces when absent. */
  readonly namespace?: string
  readonly labelSelector?: string
  readonly fieldSelector?: string
  /** Page size of the list. Default 500. */
  readonly pageSize?: number
  /** The API server ends each watch cleanly after this long. Default 290 s. */
  readonly watchTimeoutSeconds?: number
  /**
   * No bytes for this long fails the watch, so a dead connection is noticed. Default 330 s:
   * above the watch timeout, so even a server that sends no bookmarks never trips it; with
   * bookmarks (about one a minute) it may be set lower.
   */
  readonly idleTimeout?: Duration.DurationInput
  /** Reconnect backoff: jittered exponential from `initial` to `max`. Default 0.8 s → 30 s. */
  readonly backoff?: { readonly initial?: Duration.DurationInput; readonly max?: Duration.DurationInput }
  readonly metrics?: InformerMetrics
  /**
   * What is kept of each object, applied before caching (like client-go's `TransformFunc`):
   * drop what no reader needs. `managedFields` are always dropped. Absent: everything else kept.
   */
  readonly transform?: CacheTransform
  /**
   * A missing kind (CRD not installed) does not fail readiness: the feature that needs it waits.
   * Default false: a missing kind fails `/readyz`.
   */
  readonly optional?: boolean
  /**
   * After the first list, a watch that keeps failing for this long makes the informer unhealthy
   * (`/readyz` fails, naming the kind): its cache is going stale. Forbidden fails it at once.
   * Default 60 s.
   */
  readonly blindAfter?: Duration.DurationInput
}

/** The selection that keeps an informer to the object named `name` (cluster-scoped kinds by name). */
export const namedOnly = (name: string): Pick<InformerOptions, "fieldSelector"> => ({ fieldSelector: `metadata.name=${name}` })

/**
 * What an informer of `kind` watches when the operator acts in `watchNamespace` only: that
 * namespace for namespaced kinds, the Namespace object of that name for cluster-scoped ones.
 * Absent: everything.
 */
export const scopedTo = (
  kind: ResourceType,
  watchNamespace: string | undefined
): Pick<InformerOptions, "namespace" | "fieldSelector"> =>
  kind.namespaced ? { namespace: watchNamespace } : watchNamespace ? namedOnly(watchNamespace) : {}

/** Why an informer is not healthy, as `/readyz` says it. */
export interface InformerProblem {
  readonly failed: string
}

export interface Informer {
  readonly resource: ResourceType
  readonly cache: CacheReader
  /**
   * Completes once the first full list is in the cache, or once the kind was found missing (its
   * cache then is rightly empty; it fills by itself when the CRD is installed).
   */
  readonly synced: Effect.Effect<void>
  readonly hasSynced: Effect.Effect<boolean>
  /** Whether the API server serves the kind; `changes` wakes whoever waits for it. */
  readonly availability: SubscriptionRef.SubscriptionRef<KindState>
  /**
   * For `/readyz`: true when synced and watching (or an optional kind is missing); otherwise why
   * not: not synced yet, a required kind missing, or a watch that is forbidden or keeps failing.
   */
  readonly health: Effect.Effect<true | InformerProblem>
  /**
   * Delivers every change to `handler`, in order, on a fiber of the caller's scope. It starts
   * with an `added` event for each object already cached, so a late subscriber misses nothing.
   * A handler that dies is logged and does not stop the subscription.
   */
  readonly subscribe: (handler: (event: InformerEvent) => Effect.Effect<void>) => Effect.Effect<void, never, Scope.Scope>
  /** The same changes as a stream (the snapshot first), without a fiber of its own per subscriber. */
  readonly events: Stream.Stream<InformerEvent>
}

const resourceName = (t: ResourceType): string => (t.group === "" ? t.plural : `${t.plural}.${t.group}`)

/** At most this many published changes reach a subscriber as one chunk. */
const MAX_CHUNK = 4096

/** A watch counts as healthy when it delivered something, or the server ended it after this long. */
const HEALTHY_CLEAN_END = Duration.seconds(1)

type WatchOutcome =
  | { readonly _tag: "Ended"; readonly events: number; readonly elapsed: Duration.Duration }
  | { readonly _tag: "Failed"; readonly events: number; readonly error: KubeError }

/**
 * Lists and watches one kind into an in-memory cache, until the scope closes: list (paged), then
 * watch from the list's resourceVersion with bookmarks; a 410 relists and reports what changed
 * meanwhile; other failures reconnect with jittered backoff, reset after a healthy watch.
 */
export const makeInformer = (
  resource: ResourceType,
  options: InformerOptions = {}
): Effect.Effect<Informer, never, KubeApi | Scope.Scope> =>
  Effect.gen(function* () {
    const api = yield* KubeApi
    const name = resourceName(resource)
    const metrics = options.metrics ?? noopInformerMetrics
    const cache = new ObjectCache(options.transform)
    const synced = yield* Deferred.make<void>()
    const availability = yield* SubscriptionRef.make(KindState.unknown)
    const blindAfter = Duration.toMillis(options.blindAfter ?? Duration.seconds(60))
    // Since when list or watch has been failing after the first list, and why; reset by a healthy watch.
    let trouble: { readonly since: number; readonly reason: string; readonly forbidden: boolean } | undefined
    let blindLogged = false
    const changes = yield* PubSub.unbounded<InformerEvent>()
    // Held while the cache changes and its changes are published, and while a subscriber takes
    // its snapshot: every subscriber sees each change exactly once, after its snapshot.
    const lock = yield* Effect.makeSemaphore(1)
    // What the list and every watch select.
    const selection = {
      namespace: options.namespace,
      labelSelector: options.labelSelector,
      fieldSelector: options.fieldSelector
    }

    const publish = (batch: ReadonlyArray<InformerEvent>): Effect.Effect<void> =>
      batch.length === 0
        ? Effect.void
        : PubSub.publishAll(changes, batch).pipe(Effect.zipRight(Effect.sync(() => metrics.cacheSize(name, cache.size))))

    /** One chunk of watch events into the cache, under one lock, published as one batch. */
    const applyEvents = (events: Chunk.Chunk<WatchEvent>): Effect.Effect<void> =>
      lock.withPermits(1)(
        Effect.suspend(() => {
          const batch: Array<InformerEvent> = []
          for (const event of events) {
            switch (event.type) {
              case "ADDED":
              case "MODIFIED": {
                const change = cache.upsert(event.object)
                if (change !== undefined) batch.push(change)
                break
              }
              case "DELETED":
                batch.push(cache.remove(event.object))
                break
              case "BOOKMARK":
                break
            }
          }
          return publish(batch)
        })
      )

    const listAll: Effect.Effect<{ items: ReadonlyArray<KubeObject>; resourceVersion: string }, KubeError> =
      Effect.gen(function* () {
        const items: Array<KubeObject> = []
        let cont: string | undefined = undefined
        let resourceVersion = ""
        do {
          const page: ListResult = yield* withKubeRetry(
            api.list(resource, {
              ...selection,
              limit: options.pageSize ?? 500,
              ...(cont === undefined ? {} : { continue: cont })
            })
          )
          for (const item of page.items) items.push(cache.kept(item))
          // Every page is served from the first page's snapshot, so they share one version.
          resourceVersion = page.resourceVersion
          cont = page.continue
        } while (cont !== undefined)
        return { items, resourceVersion }
      })

    const relist: Effect.Effect<string, KubeError> = Effect.gen(function* () {
      const listed = yield* listAll
      yield* lock.withPermits(1)(Effect.suspend(() => publish(cache.replace(listed.items))))
      if (yield* Deferred.isDone(synced)) metrics.relisted(name)
      yield* SubscriptionRef.set(availability, KindState.available)
      yield* Deferred.succeed(synced, undefined)
      yield* Effect.sync(() => metrics.cacheSize(name, cache.size))
      return listed.resourceVersion
    })

    const watchFrom = (resourceVersion: string, onVersion: (rv: string) => void): Effect.Effect<WatchOutcome> =>
      Effect.gen(function* () {
        const start = yield* Clock.currentTimeMillis
        let events = 0
        const result = yield* api
          .watch(resource, {
            ...selection,
            resourceVersion,
            allowWatchBookmarks: true,
            timeoutSeconds: options.watchTimeoutSeconds ?? 290,
            idleTimeout: options.idleTimeout ?? Duration.seconds(330)
          })
          .pipe(
            Stream.runForEachChunk((chunk) =>
              applyEvents(chunk).pipe(
                Effect.zipRight(
                  Effect.sync(() => {
                    // A watch that delivers works: readiness comes back now, not when it ends.
                    if (events === 0 && chunk.length > 0) {
                      trouble = undefined
                      blindLogged = false
                    }
                    events += chunk.length
                    for (const event of chunk) {
                      const rv = event.object.metadata.resourceVersion
                      if (rv !== undefined && rv !== "") onVersion(rv)
                    }
                  })
                )
              )
            ),
            Effect.either
          )
        const elapsed = Duration.millis((yield* Clock.currentTimeMillis) - start)
        return Either.isRight(result)
          ? { _tag: "Ended", events, elapsed }
          : { _tag: "Failed", events, error: result.left }
      })

    const backoff = yield* Schedule.driver(
      Schedule.exponential(options.backoff?.initial ?? Duration.millis(800), 2).pipe(
        Schedule.jittered,
        Schedule.modifyDelay((_, d) => Duration.min(d, Duration.decode(options.backoff?.max ?? Duration.seconds(30))))
      )
    )
    // The schedule never ends, so `next` only ever sleeps.
    const waitBackoff = backoff.next(undefined).pipe(Effect.ignore)

    /** A 404 on the list: the kind is not served. The cache empties, as the kind's objects are gone. */
    const markMissing = Effect.gen(function* () {
      yield* lock.withPermits(1)(Effect.suspend(() => publish(cache.replace([]))))
      yield* SubscriptionRef.set(availability, KindState.missing(resource))
      yield* Deferred.succeed(synced, undefined)
      trouble = undefined
    })

    const noteTrouble = (error: KubeError) =>
      Effect.gen(function* () {
        if (!(yield* Deferred.isDone(synced))) return
        const now = yield* Clock.currentTimeMillis
        const forbidden = error._tag === "Forbidden"
        trouble = {
          since: trouble?.since ?? now,
          reason: `${error._tag}: ${error.message}`,
          forbidden: forbidden || (trouble?.forbidden ?? false)
        }
        if (!blindLogged && (forbidden || now - trouble.since >= blindAfter)) {
          blindLogged = true
          yield* Effect.logError(
            `informer ${name}: cannot watch ${resource.kind} (${trouble.reason}); its cache is going stale and /readyz fails until the watch works again`
          )
        }
      })

    const health: Informer["health"] = Effect.gen(function* () {
      const state = yield* SubscriptionRef.get(availability)
      if (state._tag === "Missing") return options.optional === true ? true : { failed: state.message }
      if (state._tag === "Unknown") return { failed: "not synced yet" }
      const t = trouble
      if (t === undefined) return true
      const failingFor = (yield* Clock.currentTimeMillis) - t.since
      if (t.forbidden || failingFor >= blindAfter) {
        return { failed: `watch failing for ${Duration.format(Duration.millis(failingFor))}: ${t.reason}` }
      }
      return true
    })

    const run = Effect.gen(function* () {
      // undefined: the next step is a full list.
      let resourceVersion: string | undefined = undefined
      let watches = 0
      for (;;) {
        if (resourceVersion === undefined) {
          const listed = yield* Effect.either(relist)
          if (Either.isLeft(listed)) {
            const error = listed.left
            if (error._tag === "NotFound") {
              const wasMissing = (yield* SubscriptionRef.get(availability))._tag === "Missing"
              if (!wasMissing) yield* markMissing
              yield* Effect.logWarning(
                `informer ${name}: ${missingMessage(resource)}; waiting for it (checking again with backoff)`
              ).pipe(Effect.annotateLogs({ crd: crdName(resource), optional: options.optional === true }))
            } else {
              yield* noteTrouble(error)
              yield* Effect.logWarning(`informer ${name}: list failed: ${error.message}`)
            }
            yield* waitBackoff
            continue
          }
          resourceVersion = listed.right
        }
        if (watches++ > 0) metrics.reconnected(name)
        const outcome = yield* watchFrom(resourceVersion, (rv) => {
          resourceVersion = rv
        })
        const healthy =
          outcome.events > 0 ||
          (outcome._tag === "Ended" && Duration.greaterThanOrEqualTo(outcome.elapsed, HEALTHY_CLEAN_END))
        if (healthy) {
          trouble = undefined
          blindLogged = false
        }
        if (outcome._tag === "Failed") {
          if (outcome.error._tag === "NotFound") {
            // The CRD was deleted while watched: the next list finds out.
            resourceVersion = undefined
          } else if (outcome.error._tag === "Gone") {
            metrics.gone(name)
            resourceVersion = undefined
            yield* Effect.logInfo(`informer ${name}: ${outcome.error.message}; relisting`)
          } else {
            if (!healthy) yield* noteTrouble(outcome.error)
            yield* Effect.logWarning(`informer ${name}: watch failed (${outcome.error._tag}): ${outcome.error.message}`)
          }
        }
        if (healthy) yield* backoff.reset
        else yield* waitBackoff
      }
    }).pipe(Effect.annotateLogs({ informer: name }))

    yield* Effect.forkScoped(run)

    /** A subscription to the changes and, taken under the same lock, the objects cached before them. */
    const follow = lock.withPermits(1)(Effect.all([PubSub.subscribe(changes), Effect.sync(() => cache.list())]))

    // The snapshot as one chunk, then whatever was published meanwhile.
    const events: Informer["events"] = Stream.unwrapScoped(
      Effect.map(follow, ([dequeue, snapshot]) =>
        Stream.concat(
          Stream.fromChunk(Chunk.unsafeFromArray(snapshot.map((object): InformerEvent => ({ type: "added", object })))),
          Stream.repeatEffectChunk(Queue.takeBetween(dequeue, 1, MAX_CHUNK))
        )
      )
    )

    const subscribe: Informer["subscribe"] = (handler) =>
      Effect.gen(function* () {
        const [dequeue, snapshot] = yield* follow
        const deliver = (event: InformerEvent) =>
          handler(event).pipe(
            Effect.catchAllCause((cause) => Effect.logError(`informer ${name}: a subscriber's handler died`, cause))
          )
        yield* Effect.forkScoped(
          Effect.forEach(snapshot, (object) => deliver({ type: "added", object }), { discard: true }).pipe(
            Effect.zipRight(Effect.forever(Effect.flatMap(Queue.take(dequeue), deliver)))
          )
        )
      })

    return {
      resource,
      cache: cache.reader,
      synced: Deferred.await(synced),
      hasSynced: Deferred.isDone(synced),
      availability,
      health,
      subscribe,
      events
    }
  })

export const Informer = { make: makeInformer }
