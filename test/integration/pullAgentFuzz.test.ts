/**
 * Seeded fuzzing of the Pull agent, and signed payloads. Every generated job is malformed by
 * construction (a broken envelope, a payload of the wrong shape, an unknown kind or intent, a kind
 * outside the allow-list); each must get a `failed` result with a message, and the agent must
 * keep serving.
 */
import { generateKeyPairSync, sign } from "node:crypto"
import { expect, layer } from "@effect/vitest"
import { Duration, Effect, Fiber, Option } from "effect"
import { KubeApi } from "../../src/kube/KubeApi.js"
import { Resources } from "../../src/kube/resources.js"
import { canonicalJson } from "../../src/connectivity/pull/canonicalJson.js"
import { createTestNamespace } from "../support/cluster.js"
import { kubeLayer } from "../support/operator.js"
import { clusterId, startPullHarness } from "../support/pullAgent.js"
import { waitFor } from "../support/wait.js"

/** mulberry32: a small seeded PRNG, so a failing case can be replayed from its seed. */
const prng = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

const junkValues: ReadonlyArray<unknown> = [null, 0, -1, 3.5, true, "", "x", [], [1, "a"], {}, { a: { b: null } }, "\u0000\uffff", "2026-13-45T99:99:99Z"]

/** One malformed job: never valid, whatever the draw. */
const malformedJob = (rand: () => number, id: string, namespace: string): Record<string, unknown> => {
  const pick = <A>(xs: ReadonlyArray<A>): A => xs[Math.floor(rand() * xs.length)]!
  const junk = () => pick(junkValues)
  const cases: ReadonlyArray<() => Record<string, unknown>> = [
    // Envelope: kind of the wrong type.
    () => ({ id, kind: pick([7, null, true, {}, []]), payload: junk() }),
    // Envelope: idempotencyKey / expiresAt / signature of the wrong type.
    () => ({ id, kind: "apply", payload: {}, idempotencyKey: pick([1, {}, [], true]) }),
    () => ({ id, kind: "apply", payload: {}, expiresAt: pick([12, {}, [], false]) }),
    () => ({ id, kind: "delete", payload: {}, signature: pick([1, {}, []]) }),
    // Envelope: expiresAt that is a string but no time.
    () => ({ id, kind: "apply", payload: { apiVersion: "v1" }, expiresAt: pick(["soon", "yesterday", "2026-99-01", "∞"]) }),
    // Unknown job kind.
    () => ({ id, kind: pick(["Apply", "patch", "", "intent ", "exec"]), payload: junk() }),
    // apply: payload not a manifest.
    () => ({ id, kind: "apply", payload: junk() }),
    () => ({ id, kind: "apply", payload: { apiVersion: junk(), kind: "ConfigMap", metadata: { name: "a", namespace } } }),
    () => ({ id, kind: "apply", payload: { apiVersion: "v1", kind: "ConfigMap", metadata: { name: pick(["", 5, null]), namespace } } }),
    () => ({ id, kind: "apply", payload: { apiVersion: "v1", kind: "ConfigMap", metadata: pick([null, "m", [], 1]) } }),
    () => ({ id, kind: "apply", payload: { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "a", namespace, labels: { a: junk() === null ? 1 : 2 } } } }),
    // apply: namespaced kind without a namespace; kinds outside the allow-list.
    () => ({ id, kind: "apply", payload: { apiVersion: "v1", kind: pick(["ConfigMap", "Secret"]), metadata: { name: "a" } } }),
    () => ({
      id,
      kind: "apply",
      payload: {
        apiVersion: pick(["rbac.authorization.k8s.io/v1", "apps/v1", "v1", "admissionregistration.k8s.io/v1"]),
        kind: pick(["ClusterRoleBinding", "Deployment", "Pod", "ServiceAccount", "ValidatingWebhookConfiguration"]),
        metadata: { name: "a", namespace }
      }
    }),
    // delete: payload of the wrong shape.
    () => ({ id, kind: "delete", payload: junk() }),
    () => ({ id, kind: "delete", payload: { apiVersion: "v1", kind: "ConfigMap", name: pick(["", 3, null]) } }),
    () => ({ id, kind: "delete", payload: { apiVersion: "v1", kind: "Pod", name: "p", namespace } }),
    // intent: missing, unknown, or with broken fields.
    () => ({ id, kind: "intent", payload: junk() }),
    () => ({ id, kind: "intent", payload: { intent: pick(["", "ensure", "drop-database", 5, null]) } }),
    () => ({ id, kind: "intent", payload: { intent: "ensure-application-instance", applicationInstance: junk() } }),
    () => ({ id, kind: "intent", payload: { intent: "ensure-application-instance", applicationInstance: { apiVersion: "apps.vworkspace.io/v1alpha1", kind: "ApplicationInstance", metadata: { name: "a", namespace }, spec: junk() } } }),
    () => ({ id, kind: "intent", payload: { intent: "request-operation", operation: junk() } }),
    () => ({ id, kind: "intent", payload: { intent: "delete-application-instance", name: pick(["", 1, null, []]) } })
  ]
  return pick(cases)()
}

const seed = 20261202
const count = 5000

layer(kubeLayer(), { timeout: "300 seconds", excludeTestServices: true })("Pull agent fuzz and signatures", (it) => {
  it.scoped(`${count} malformed jobs (seed ${seed}) each get a failed result with a message; the agent keeps serving`, () =>
    Effect.gen(function* () {
      const store = yield* createTestNamespace("pull-store")
      const target = yield* createTestNamespace("pull-fuzz", { "managed-by": "vworkspace" })
      const h = yield* startPullHarness({ mock: { maxJobsPerPoll: 200 } })
      const agent = yield* h.startAgent({ namespace: store, waitSeconds: 1, concurrency: 16 })
      const rand = prng(seed)
      for (let i = 0; i < count; i++) yield* h.admin.enqueue(clusterId, malformedJob(rand, `fuzz-${i}`, target))
      const jobs = yield* waitFor(
        "every fuzz result",
        Effect.map(h.admin.jobs(clusterId), (js) => (js.filter((j) => j.result !== undefined).length === count ? js : undefined)),
        { timeout: Duration.seconds(240), interval: Duration.seconds(2) }
      )
      const notFailed = jobs.filter((j) => j.result?.outcome !== "failed" || (j.result.error ?? "").trim() === "")
      expect(notFailed.map((j) => ({ job: j.job, result: j.result }))).toEqual([])
      expect(jobs.every((j) => j.duplicateResults === 0)).toBe(true)
      expect(Option.isNone(yield* Fiber.poll(agent))).toBe(true)
      // Nothing was written to the target namespace.
      const written = yield* Effect.flatMap(KubeApi, (api) => api.list(Resources.ConfigMap, { namespace: target }))
      expect(written.items.filter((o) => o.metadata.name !== "kube-root-ca.crt")).toEqual([])
      // Still serving: a valid job after the storm.
      yield* h.admin.enqueue(clusterId, {
        id: "after-fuzz",
        kind: "apply",
        payload: { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "after", namespace: target }, data: { ok: "yes" } },
        createdAt: new Date().toISOString()
      })
      expect((yield* h.admin.waitForResult("after-fuzz", Duration.seconds(30))).outcome).toBe("succeeded")
    }), { timeout: 300_000 })

  it.scoped("signed payloads: valid → applied; unsigned, tampered or wrongly signed → failed JobPayloadSignatureInvalid, nothing applied", () =>
    Effect.gen(function* () {
      const store = yield* createTestNamespace("pull-store")
      const target = yield* createTestNamespace("pull-signed", { "managed-by": "vworkspace" })
      const { publicKey, privateKey } = generateKeyPairSync("ed25519")
      const other = generateKeyPairSync("ed25519")
      const pem = publicKey.export({ format: "pem", type: "spki" }).toString()
      yield* Effect.flatMap(KubeApi, (api) =>
        api.create(Resources.Secret, {
          apiVersion: "v1",
          kind: "Secret",
          metadata: { name: "cp-signing-key", namespace: store },
          data: { "public-key": Buffer.from(pem).toString("base64") }
        })
      )
      const h = yield* startPullHarness()
      yield* h.startAgent({ namespace: store, waitSeconds: 1, signingKey: { secretName: "cp-signing-key" } })
      const payload = (name: string) => ({ apiVersion: "v1", kind: "ConfigMap", metadata: { namespace: target, name }, data: { b: "2", a: "1" } })
      const signWith = (key: typeof privateKey, p: unknown) => sign(null, Buffer.from(canonicalJson(p)), key).toString("base64")
      const enqueue = (id: string, p: unknown, signature?: string) =>
        h.admin.enqueue(clusterId, { id, kind: "apply", payload: p, ...(signature === undefined ? {} : { signature }) })
      yield* enqueue("s-ok", payload("signed"), signWith(privateKey, payload("signed")))
      yield* enqueue("s-none", payload("unsigned"))
      yield* enqueue("s-tampered", payload("tampered"), signWith(privateKey, payload("original")))
      yield* enqueue("s-other", payload("other"), signWith(other.privateKey, payload("other")))
      yield* enqueue("s-junk", payload("junk"), "not-a-signature")
      expect((yield* h.admin.waitForResult("s-ok", Duration.seconds(30))).outcome).toBe("succeeded")
      for (const [id, why] of [
        ["s-none", "the job is not signed"],
        ["s-tampered", "the signature does not match the payload"],
        ["s-other", "the signature does not match the payload"],
        ["s-junk", "the signature is not a 64-byte Ed25519 signature"]
      ] as const) {
        expect(yield* h.admin.waitForResult(id, Duration.seconds(30))).toMatchObject({ outcome: "failed", error: `JobPayloadSignatureInvalid: ${why}` })
      }
      const names = (yield* Effect.flatMap(KubeApi, (api) => api.list(Resources.ConfigMap, { namespace: target }))).items.map((o) => o.metadata.name)
      expect(names).toContain("signed")
      expect(names.filter((n) => n !== "signed" && n !== "kube-root-ca.crt")).toEqual([])
    }))
})
