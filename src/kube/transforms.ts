/**
 * Cache transforms (`InformerOptions.transform`): what an informer keeps of each object. The
 * cache holds every object of a kind for the life of the process, so it keeps only what readers
 * read. Whoever starts reading another field of a kind widens that kind's transform.
 */
import type { CacheTransform } from "./cache.js"
import type { KubeObject } from "./object.js"

/** kubectl's client-side apply copy of the whole object: large, and read by nobody here. */
export const LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"

const withoutLastApplied = (o: KubeObject): KubeObject => {
  const annotations = o.metadata.annotations
  if (annotations === undefined || !(LAST_APPLIED in annotations)) return o
  const { [LAST_APPLIED]: _dropped, ...rest } = annotations
  return { ...o, metadata: { ...o.metadata, annotations: rest } }
}

const pick = (value: unknown, fields: ReadonlyArray<string>): Record<string, unknown> | undefined => {
  if (typeof value !== "object" || value === null) return undefined
  const kept = Object.fromEntries(
    fields.filter((f) => f in value).map((f) => [f, (value as Record<string, unknown>)[f]])
  )
  return Object.keys(kept).length === 0 ? undefined : kept
}

export interface KeepOptions {
  /** Top-level fields kept besides apiVersion, kind and metadata, e.g. `["spec"]`. */
  readonly fields?: ReadonlyArray<string>
  /** The fields of `status` kept; absent: the whole status; empty: none. */
  readonly status?: ReadonlyArray<string>
}

/**
 * Keeps metadata (without the last-applied annotation; the cache already drops managedFields),
 * the given top-level fields, and the given status fields.
 */
export const keep =
  (options: KeepOptions): CacheTransform =>
  (object) => {
    const o = withoutLastApplied(object)
    const extra: Record<string, unknown> = {}
    for (const f of options.fields ?? []) if (o[f] !== undefined) extra[f] = o[f]
    const status = options.status === undefined ? o["status"] : pick(o["status"], options.status)
    if (status !== undefined) extra["status"] = status
    return { ...extra, apiVersion: o.apiVersion, kind: o.kind, metadata: o.metadata }
  }

/** Everything but the last-applied annotation. */
export const dropLastApplied: CacheTransform = withoutLastApplied
