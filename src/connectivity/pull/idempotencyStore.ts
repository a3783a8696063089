/**
 * Which `idempotencyKey`s were applied, persisted in ConfigMap `vworkspace-applied-jobs`, key
 * `applied-keys.json` (the original's names). Bounded: entries expire after a TTL and the oldest
 * go first above a cap, so the object stays far below the 1 MiB limit (each entry is ~30 bytes:
 * a 96-bit hash of the key and the time it was recorded).
 *
 * Written in batches, and small: keys recorded while a write is being prepared or in flight share
 * the next write (group commit), and that write goes to `vworkspace-applied-jobs-recent`, which
 * holds only the keys not yet in the main object. Every `foldEvery` keys the main object is
 * rewritten with all of them (compacted) and the recent one emptied, in that order, so a crash
 * between the two only leaves keys in both. Loading reads the union. A write costs the API server
 * what its size costs; this keeps the common one a few KiB instead of the whole store.
 *
 * Format v2: `{"version":2,"entries":{"<hash>":<unix seconds>}}`. A v1 array of plain keys (the
 * original's format) is read and migrated on the next write.
 */
import { createHash } from "node:crypto"
import { Deferred, Duration, Effect, Either, Option, Queue, Schema, type Scope } from "effect"
import { FieldManagers, Names } from "../../api/wellKnown.js"
import { KubeApi } from "../../kube/KubeApi.js"
import type { KubeError } from "../../kube/errors.js"
import { Resources } from "../../kube/resources.js"
import { withKubeRetry } from "../../kube/retry.js"

export interface IdempotencyStoreConfig {
  /** Where the ConfigMap lives (the operator's namespace). */
  readonly namespace: string
  /** Entries older than this are forgotten. */
  readonly ttl: Duration.DurationInput
  /** At most this many entries; the oldest are dropped first. */
  readonly maxEntries: number
  /**
   * A batch waits this long for more keys before it is written. Default none: the keys recorded
   * while a write is in flight form the next batch, so batches grow with the load by themselves
   * and a lone key is not held back.
   */
  readonly linger: Duration.DurationInput
  /** The main object is rewritten once the recent one holds this many keys. Default 500. */
  readonly foldEvery?: number
}

export const defaultIdempotencyStoreConfig: Omit<IdempotencyStoreConfig, "namespace"> = {
  ttl: Duration.days(7),
  maxEntries: 5000,
  linger: Duration.zero
}

export interface IdempotencyStore {
  readonly has: (key: string) => Effect.Effect<boolean>
  /**
   * Records the key and waits until a write holding it is accepted. When the write keeps
   * failing, it logs and returns anyway (the key stays in memory and goes out with the next batch):
   * the object is applied, so its result must not be held back or turned into a failure.
   */
  readonly record: (key: string) => Effect.Effect<void>
  /** API writes spent so far (for the bench). */
  readonly writes: Effect.Effect<number>
}

const StoredV2 = Schema.Struct({
  version: Schema.Literal(2),
  entries: Schema.Record({ key: Schema.String, value: Schema.Number })
})
const StoredV1 = Schema.Array(Schema.String)
const Stored = Schema.parseJson(Schema.Union(StoredV2, StoredV1))
const decodeStored = Schema.decodeUnknownEither(Stored)

const recentName = `${Names.appliedJobsConfigMap}-recent`

const decodeConfigMapData = Schema.decodeUnknownOption(
  Schema.Struct({ data: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.String })) })
)

export const hashKey = (key: string): string => createHash("sha256").update(key).digest("base64url").slice(0, 16)

/** Drops expired entries, then the oldest above the cap. */
export const compact = (
  entries: ReadonlyMap<string, number>,
  nowSeconds: number,
  ttlSeconds: number,
  maxEntries: number
): Map<string, number> => {
  const live = [...entries].filter(([, at]) => nowSeconds - at < ttlSeconds).sort((a, b) => b[1] - a[1])
  return new Map(live.slice(0, maxEntries))
}

export const serialise = (entries: ReadonlyMap<string, number>): string =>
  JSON.stringify({ version: 2, entries: Object.fromEntries(entries) })

interface Pending {
  readonly hash: string
  readonly done: Deferred.Deferred<void>
}

export const makeIdempotencyStore = (
  config: IdempotencyStoreConfig
): Effect.Effect<IdempotencyStore, KubeError, KubeApi | Scope.Scope> =>
  Effect.gen(function* () {
    const kube = yield* KubeApi
    const nowSeconds = Effect.map(Effect.clockWith((c) => c.currentTimeMillis), (ms) => Math.floor(ms / 1000))
    const ttlSeconds = Duration.toSeconds(config.ttl)
    const loadedAt = yield* nowSeconds
    const load = (name: string) =>
      Effect.gen(function* () {
        const existing = yield* kube.get(Resources.ConfigMap, name, config.namespace).pipe(
          Effect.map(Option.some),
          Effect.catchTag("NotFound", () => Effect.succeed(Option.none())),
          withKubeRetry
        )
        const text = Option.flatMap(existing, (cm) =>
          Option.flatMap(decodeConfigMapData(cm), (d) => Option.fromNullable(d.data?.[Names.appliedJobsKey]))
        )
        if (Option.isNone(text)) return new Map<string, number>()
        const decoded = decodeStored(text.value)
        if (Either.isLeft(decoded)) {
          yield* Effect.logWarning(`the idempotency store ${name} cannot be read; starting without it (it is rewritten on a later record)`)
          return new Map<string, number>()
        }
        const stored = decoded.right
        return Array.isArray(stored) ? new Map(stored.map((k) => [hashKey(k), loadedAt])) : new Map(Object.entries(stored.entries))
      })
    const main = yield* load(Names.appliedJobsConfigMap)
    /** Keys not in the main object yet (what the recent object holds). */
    let recent = yield* load(recentName)
    let entries = new Map([...main, ...recent])
    const foldEvery = config.foldEvery ?? 500
    let writes = 0
    const queue = yield* Queue.unbounded<Pending>()
    const linger = Duration.decode(config.linger)

    const write = (name: string, stored: ReadonlyMap<string, number>) =>
      Effect.suspend(() =>
        kube.apply(
          Resources.ConfigMap,
          {
            apiVersion: "v1",
            kind: "ConfigMap",
            metadata: { name, namespace: config.namespace },
            data: { [Names.appliedJobsKey]: serialise(stored) }
          },
          { fieldManager: FieldManagers.agent, force: true }
        )
      ).pipe(
        Effect.tap(() => Effect.sync(() => (writes += 1))),
        withKubeRetry
      )

    /** The batch's keys made durable: in the recent object, or all folded into the main one. */
    const persist = (t: number) =>
      recent.size < foldEvery
        ? write(recentName, recent)
        : Effect.gen(function* () {
            entries = compact(entries, t, ttlSeconds, config.maxEntries)
            yield* write(Names.appliedJobsConfigMap, entries)
            recent = new Map()
            yield* write(recentName, recent)
          })

    const writer = Effect.gen(function* () {
      const first = yield* Queue.take(queue)
      yield* Duration.isZero(linger) ? Effect.yieldNow() : Effect.sleep(linger)
      const batch = [first, ...(yield* Queue.takeAll(queue))]
      const t = yield* nowSeconds
      for (const p of batch) {
        entries.set(p.hash, t)
        recent.set(p.hash, t)
      }
      yield* persist(t).pipe(
        Effect.catchAll((e) =>
          Effect.logWarning(`the idempotency store could not be written (the keys are kept for the next write): ${e.message}`)
        )
      )
      for (const p of batch) yield* Deferred.succeed(p.done, undefined)
    }).pipe(Effect.forever)
    yield* Effect.forkScoped(writer)

    return {
      has: (key) =>
        Effect.map(nowSeconds, (t) => {
          const at = entries.get(hashKey(key))
          return at !== undefined && t - at < ttlSeconds
        }),
      record: (key) =>
        Effect.gen(function* () {
          const done = yield* Deferred.make<void>()
          const hash = hashKey(key)
          // Visible to `has` at once, so a redelivery racing the write is still a replay.
          entries.set(hash, yield* nowSeconds)
          yield* Queue.offer(queue, { hash, done })
          yield* Deferred.await(done)
        }),
      writes: Effect.sync(() => writes)
    }
  })
