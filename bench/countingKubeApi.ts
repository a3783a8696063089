/**
 * A `KubeApi` that delegates to another one and records every write request it issues
 * (create, apply, applyStatus, patch, delete): a Layer swap, so the operator under measurement
 * runs unchanged. Reads and watches pass through uncounted.
 */
import { Effect, Layer } from "effect"
import { KubeApi, type KubeApiService } from "../src/kube/KubeApi.js"
import { objectKey, type ResourceType } from "../src/kube/object.js"
import { Resources } from "../src/kube/resources.js"
import { now } from "./report.js"

export type WriteVerb = "create" | "apply" | "applyStatus" | "patch" | "delete"

export interface WriteTally {
  readonly issued: number
  readonly failed: number
}

/** Mutable tallies; read them with `snapshot`. One log per measured segment. */
export class WriteLog {
  private readonly tallies = new Map<string, { issued: number; failed: number }>()
  private readonly statusWritten = new Set<string>()
  private statusTarget = Infinity
  private reachedAt: number | undefined

  /** `now()` of the successful ApplicationInstance status write that reached the expected count. */
  get statusTargetReachedAt(): number | undefined {
    return this.reachedAt
  }

  /** Start watching for `count` distinct ApplicationInstances with a successful status write. */
  expectStatuses(count: number): void {
    this.statusTarget = count
    this.reachedAt = this.statusWritten.size >= count ? now() : undefined
  }

  get distinctStatuses(): number {
    return this.statusWritten.size
  }

  private tally(verb: WriteVerb, kind: string): { issued: number; failed: number } {
    const key = `${verb} ${kind}`
    const existing = this.tallies.get(key)
    if (existing !== undefined) return existing
    const fresh = { issued: 0, failed: 0 }
    this.tallies.set(key, fresh)
    return fresh
  }

  /** A request is counted when it is sent, whatever comes of it. */
  issued(verb: WriteVerb, kind: string): void {
    this.tally(verb, kind).issued++
  }

  failed(verb: WriteVerb, kind: string): void {
    this.tally(verb, kind).failed++
  }

  recordStatus(key: string): void {
    this.statusWritten.add(key)
    if (this.reachedAt === undefined && this.statusWritten.size >= this.statusTarget) this.reachedAt = now()
  }

  /** Writes so far, by `verb kind`, sorted. */
  snapshot(): ReadonlyMap<string, WriteTally> {
    return new Map([...this.tallies.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => [k, { ...v }]))
  }

  total(): WriteTally {
    let issued = 0
    let failed = 0
    for (const t of this.tallies.values()) {
      issued += t.issued
      failed += t.failed
    }
    return { issued, failed }
  }
}

/** Writes in `after` that were not yet in `before`. */
export const writesBetween = (
  before: ReadonlyMap<string, WriteTally>,
  after: ReadonlyMap<string, WriteTally>
): ReadonlyMap<string, WriteTally> =>
  new Map(
    [...after.entries()]
      .map(([k, a]): [string, WriteTally] => {
        const b = before.get(k)
        return [k, { issued: a.issued - (b?.issued ?? 0), failed: a.failed - (b?.failed ?? 0) }]
      })
      .filter(([, t]) => t.issued > 0)
  )

export const sumWrites = (tallies: ReadonlyMap<string, WriteTally>): number =>
  [...tallies.values()].reduce((n, t) => n + t.issued, 0)

/** `apply HelmRelease: 1000, create Event: 5000` — for table cells. */
export const describeWrites = (tallies: ReadonlyMap<string, WriteTally>): string =>
  tallies.size === 0
    ? "none"
    : [...tallies.entries()].map(([k, t]) => `${k}: ${t.issued}${t.failed > 0 ? ` (${t.failed} failed)` : ""}`).join(", ")

const isAI = (type: ResourceType): boolean =>
  type.group === Resources.ApplicationInstance.group && type.kind === Resources.ApplicationInstance.kind

/** Wraps the `KubeApi` in context; every write it issues lands in `log`. */
export const countingKubeApi = (log: WriteLog): Layer.Layer<KubeApi, never, KubeApi> =>
  Layer.effect(
    KubeApi,
    Effect.map(KubeApi, (live): KubeApiService => {
      const counted =
        (verb: WriteVerb, type: ResourceType) =>
        <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
          Effect.sync(() => log.issued(verb, type.kind)).pipe(
            Effect.zipRight(effect),
            Effect.tapError(() => Effect.sync(() => log.failed(verb, type.kind)))
          )
      return {
        get: live.get,
        list: live.list,
        watch: live.watch,
        version: live.version,
        create: (type, object) => counted("create", type)(live.create(type, object)),
        apply: (type, object, options) => counted("apply", type)(live.apply(type, object, options)),
        applyStatus: (type, object, options) =>
          counted("applyStatus", type)(live.applyStatus(type, object, options)).pipe(
            Effect.tap(() => (isAI(type) ? Effect.sync(() => log.recordStatus(objectKey(object))) : Effect.void))
          ),
        patch: (type, name, namespace, patchType, body, options) =>
          counted("patch", type)(live.patch(type, name, namespace, patchType, body, options)),
        delete: (type, name, namespace, options) => counted("delete", type)(live.delete(type, name, namespace, options))
      }
    })
  )
