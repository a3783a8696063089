/** The runner ServiceAccount is ensured once per namespace, not once per operation. */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { makeRunnerServiceAccounts } from "../../src/engines/workload.js"
import { AlreadyExists, Forbidden } from "../../src/kube/errors.js"
import { KubeApi, type KubeApiService } from "../../src/kube/KubeApi.js"
import type { KubeObject } from "../../src/kube/object.js"

/** A client that only creates, answering AlreadyExists for a name it created before. */
const creatingApi = (creates: Array<string>): KubeApiService =>
  new Proxy({} as KubeApiService, {
    get: (_t, property) =>
      property === "create"
        ? (_type: unknown, object: KubeObject) => {
            const key = `${object.metadata.namespace}/${object.metadata.name}`
            const seen = creates.includes(key)
            creates.push(key)
            return seen ? Effect.fail(new AlreadyExists({ message: `${key} already exists` })) : Effect.succeed(object)
          }
        : () => Effect.dieMessage(`KubeApi.${String(property)} must not be called`)
  })

describe("runner ServiceAccounts", () => {
  it.effect("500 operations in two namespaces cost one create per namespace", () =>
    Effect.gen(function* () {
      const creates: Array<string> = []
      const accounts = makeRunnerServiceAccounts()
      yield* Effect.forEach(Array.from({ length: 500 }, (_, i) => (i % 2 === 0 ? "team-a" : "team-b")), accounts.ensure).pipe(
        Effect.provide(Layer.succeed(KubeApi, creatingApi(creates)))
      )
      expect(creates).toEqual(["team-a/vworkspace-operation-runner", "team-b/vworkspace-operation-runner"])
    }))

  it.effect("one that exists already is accepted and remembered; a failed create is tried again", () =>
    Effect.gen(function* () {
      const creates: Array<string> = ["team-a/vworkspace-operation-runner"]
      const accounts = makeRunnerServiceAccounts()
      const api = creatingApi(creates)
      yield* accounts.ensure("team-a").pipe(Effect.provide(Layer.succeed(KubeApi, api)))
      yield* accounts.ensure("team-a").pipe(Effect.provide(Layer.succeed(KubeApi, api)))
      expect(creates).toHaveLength(2)

      const refusing = Layer.succeed(KubeApi, {
        ...api,
        create: () => Effect.fail(new Forbidden({ message: "serviceaccounts is forbidden" }))
      })
      const failed = yield* Effect.flip(accounts.ensure("team-b").pipe(Effect.provide(refusing)))
      expect(failed.message).toContain("create ServiceAccount: serviceaccounts is forbidden")
      yield* accounts.ensure("team-b").pipe(Effect.provide(Layer.succeed(KubeApi, api)))
      expect(creates.at(-1)).toBe("team-b/vworkspace-operation-runner")
    }))
})
