/**
 * A KubeApi Layer that keeps ConfigMaps in memory and counts writes, for unit tests of code that
 * persists state in ConfigMaps (the outbox journal). Other kinds and calls are not served.
 */
import { Effect, Layer, Stream } from "effect"
import { NotFound } from "../../src/kube/errors.js"
import { KubeApi, type KubeApiService } from "../../src/kube/KubeApi.js"
import type { KubeObject, ResourceType } from "../../src/kube/object.js"

export interface MemoryConfigMaps {
  readonly objects: Map<string, KubeObject>
  /** create, apply and delete calls so far. */
  readonly writes: { count: number }
  readonly layer: Layer.Layer<KubeApi>
}

const keyOf = (namespace: string | undefined, name: string) => `${namespace ?? ""}/${name}`

const matches = (object: KubeObject, selector: string | undefined): boolean => {
  if (selector === undefined || selector === "") return true
  return selector.split(",").every((term) => {
    const [k, v] = term.split("=")
    return k !== undefined && object.metadata.labels?.[k] === v
  })
}

export const memoryConfigMaps = (): MemoryConfigMaps => {
  const objects = new Map<string, KubeObject>()
  const writes = { count: 0 }
  let version = 1
  const onlyConfigMaps = (type: ResourceType) =>
    type.kind === "ConfigMap" ? Effect.void : Effect.dieMessage(`memory KubeApi serves ConfigMaps only, not ${type.kind}`)
  const store = (object: KubeObject) =>
    Effect.sync(() => {
      writes.count++
      const stored = { ...object, metadata: { ...object.metadata, resourceVersion: String(++version) } }
      objects.set(keyOf(object.metadata.namespace, object.metadata.name ?? ""), stored)
      return stored
    })
  const unused = Effect.dieMessage("not served by the memory KubeApi")
  const service: KubeApiService = {
    get: (type, name, namespace) =>
      Effect.zipRight(
        onlyConfigMaps(type),
        Effect.suspend(() => {
          const found = objects.get(keyOf(namespace, name))
          return found === undefined ? Effect.fail(new NotFound({ message: `configmaps "${name}" not found` })) : Effect.succeed(found)
        })
      ),
    list: (type, options) =>
      Effect.zipRight(
        onlyConfigMaps(type),
        Effect.sync(() => ({
          items: [...objects.values()].filter(
            (o) => (options?.namespace === undefined || o.metadata.namespace === options.namespace) && matches(o, options?.labelSelector)
          ),
          resourceVersion: String(version)
        }))
      ),
    watch: () => Stream.dieMessage("not served by the memory KubeApi"),
    create: (type, object) => Effect.zipRight(onlyConfigMaps(type), store(object)),
    apply: (type, object) => Effect.zipRight(onlyConfigMaps(type), store(object)),
    applyStatus: () => unused,
    patch: () => unused,
    delete: (type, name, namespace) =>
      Effect.zipRight(
        onlyConfigMaps(type),
        Effect.suspend(() => {
          writes.count++
          return objects.delete(keyOf(namespace, name))
            ? Effect.void
            : Effect.fail(new NotFound({ message: `configmaps "${name}" not found` }))
        })
      ),
    version: unused
  }
  return { objects, writes, layer: Layer.succeed(KubeApi, service) }
}
