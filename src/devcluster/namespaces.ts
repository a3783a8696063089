import { Duration, Effect } from "effect"
import type { ApiRequestFailed, ApiStatusError } from "./errors.js"
import { type ApiTarget, requestJson } from "./http.js"

/**
 * A unique DNS-1123 label starting with `prefix`: lower-cased, other characters turned into '-',
 * cut so that prefix, '-' and a random suffix fit 63 characters.
 */
export const uniqueName = (prefix: string): string => {
  const suffix = `${Date.now().toString(36).slice(-4)}${Math.random().toString(36).slice(2, 8)}`.padEnd(10, "0")
  const clean = prefix
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/^-+/, "")
    .slice(0, 63 - suffix.length - 1)
    .replace(/-+$/, "")
  return clean === "" ? `t${suffix}` : `${clean}-${suffix}`
}

export const createNamespace = (
  target: ApiTarget,
  name: string,
  labels: Readonly<Record<string, string>> = {}
): Effect.Effect<void, ApiRequestFailed | ApiStatusError> =>
  requestJson(target, {
    method: "POST",
    path: "/api/v1/namespaces",
    body: JSON.stringify({ apiVersion: "v1", kind: "Namespace", metadata: { name, labels } }),
    timeout: Duration.seconds(30)
  }).pipe(Effect.asVoid)

/**
 * Deletes a namespace; an absent one is fine. The cluster's kube-controller-manager empties it and
 * removes it; objects whose finalizers nobody releases (an operator that has stopped) keep it
 * Terminating.
 */
export const deleteNamespace = (target: ApiTarget, name: string): Effect.Effect<void, ApiRequestFailed | ApiStatusError> =>
  requestJson(target, { method: "DELETE", path: `/api/v1/namespaces/${encodeURIComponent(name)}`, timeout: Duration.seconds(30) }, [
    200, 202, 404
  ]).pipe(Effect.asVoid)
