/**
 * A server-side apply with `dryRun=All` and strict field validation, as the admin user: the API
 * server decodes, defaults, validates (schemas, CEL, admission) and would store the object, but
 * nothing is written. The resource of each kind comes from the server's own discovery, so any kind
 * a manifest names (including CRDs) is handled the same way.
 */
import { Effect, Schema } from "effect"
import { adminRequest } from "./cluster.js"

const ObjectHead = Schema.Struct({
  apiVersion: Schema.String,
  kind: Schema.String,
  metadata: Schema.Struct({ name: Schema.String, namespace: Schema.optional(Schema.String) })
})

const ResourceList = Schema.parseJson(
  Schema.Struct({ resources: Schema.Array(Schema.Struct({ name: Schema.String, kind: Schema.String, namespaced: Schema.Boolean })) })
)

export interface DryRunResult {
  /** `Kind/name` (namespace-qualified when namespaced). */
  readonly object: string
  readonly status: number
  /** The API server's Status body when it refused. */
  readonly refusal?: string
}

const groupVersionPath = (apiVersion: string) => (apiVersion.includes("/") ? `/apis/${apiVersion}` : `/api/${apiVersion}`)

/** The REST resource of `kind` in `apiVersion`, from discovery. */
const resourceOf = (apiVersion: string, kind: string) =>
  Effect.gen(function* () {
    const response = yield* adminRequest({ method: "GET", path: groupVersionPath(apiVersion) })
    if (response.status !== 200) return yield* Effect.dieMessage(`discovery of ${apiVersion}: HTTP ${response.status} ${response.body}`)
    const list = yield* Schema.decodeUnknown(ResourceList)(response.body)
    const resource = list.resources.find((r) => r.kind === kind && !r.name.includes("/"))
    if (resource === undefined) return yield* Effect.dieMessage(`the API server serves no ${kind} in ${apiVersion}`)
    return resource
  })

/** Server-side applies `object` as field manager `helm` with dryRun=All; the status says how it went. */
export const dryRunApply = (object: Readonly<Record<string, unknown>>) =>
  Effect.gen(function* () {
    const head = yield* Schema.decodeUnknown(ObjectHead)(object)
    const resource = yield* resourceOf(head.apiVersion, head.kind)
    const namespace = resource.namespaced ? head.metadata.namespace : undefined
    if (resource.namespaced && namespace === undefined) return yield* Effect.dieMessage(`${head.kind}/${head.metadata.name} has no namespace`)
    const path =
      `${groupVersionPath(head.apiVersion)}${namespace === undefined ? "" : `/namespaces/${namespace}`}` +
      `/${resource.name}/${encodeURIComponent(head.metadata.name)}?dryRun=All&fieldManager=helm&fieldValidation=Strict&force=true`
    const response = yield* adminRequest({
      method: "PATCH",
      path,
      body: JSON.stringify(object),
      contentType: "application/apply-patch+yaml"
    })
    return {
      object: `${head.kind}/${namespace === undefined ? "" : `${namespace}/`}${head.metadata.name}`,
      status: response.status,
      ...(response.status === 200 || response.status === 201 ? {} : { refusal: response.body })
    } satisfies DryRunResult
  })
