import type { ResourceType } from "./object.js"

/** `/api/v1` for the core group, `/apis/<group>/<version>` otherwise. */
export const groupVersionPath = (type: ResourceType): string =>
  type.group === "" ? `/api/${type.version}` : `/apis/${type.group}/${type.version}`

/**
 * The collection of a resource: in one namespace, or across all namespaces when `namespace` is
 * not given. Cluster-scoped kinds ignore `namespace`.
 */
export const collectionPath = (type: ResourceType, namespace?: string): string => {
  const base = groupVersionPath(type)
  return type.namespaced && namespace !== undefined && namespace !== ""
    ? `${base}/namespaces/${encodeURIComponent(namespace)}/${type.plural}`
    : `${base}/${type.plural}`
}

/** One object, optionally a subresource of it (`status`). */
export const objectPath = (type: ResourceType, name: string, namespace?: string, subresource?: string): string => {
  const path = `${collectionPath(type, namespace)}/${encodeURIComponent(name)}`
  return subresource === undefined ? path : `${path}/${subresource}`
}

export type QueryValue = string | number | boolean | undefined

/** `?a=1&b=x` from the defined entries, or "" when none is defined. */
export const queryString = (params: Readonly<Record<string, QueryValue>>): string => {
  const search = new URLSearchParams()
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined) search.append(key, String(value))
  }
  const text = search.toString()
  return text === "" ? "" : `?${text}`
}
