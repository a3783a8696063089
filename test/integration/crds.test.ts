/**
 * The generated CRDs against a real API server: they install, `kubectl get` shows the contract's
 * columns, `kubectl explain` has descriptions, valid samples apply, and invalid ones are rejected
 * with messages that name the field (OpenAPI validation and CEL rules).
 */
import { describe, expect, layer } from "@effect/vitest"
import { Effect, Either, Schema } from "effect"
import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import YAML from "yaml"
import { ApplicationInstance } from "../../src/api/applicationInstance.js"
import { ownedCrds } from "../../src/api/crdGen.js"
import { Operation } from "../../src/api/operation.js"
import { uniqueName } from "../../src/devcluster/namespaces.js"
import { requestJson, targetFromKubeconfig } from "../../src/devcluster/http.js"
import { KubeApi } from "../../src/kube/KubeApi.js"
import { KubeApiLive } from "../../src/kube/KubeApiLive.js"
import type { KubeObject, ResourceType } from "../../src/kube/object.js"
import { Resources } from "../../src/kube/resources.js"
import { createTestNamespace, kubeconfigPath } from "../support/cluster.js"

const path = kubeconfigPath()
const Live = KubeApiLive.fromKubeconfigFile(path)

const samplesDir = join(import.meta.dirname, "../fixtures/samples")
const EXPECTED_ERROR = "test.vworkspace.io/expected-error"

interface Sample {
  readonly file: string
  readonly object: KubeObject
}

const loadSamples = (dir: string): ReadonlyArray<Sample> =>
  readdirSync(join(samplesDir, dir))
    .filter((f) => f.endsWith(".yaml"))
    .sort()
    .map((file) => ({ file, object: YAML.parse(readFileSync(join(samplesDir, dir, file), "utf8")) as KubeObject }))

const resourceOf = (o: KubeObject): ResourceType =>
  o.kind === "ApplicationInstance"
    ? Resources.ApplicationInstance
    : o.kind === "Operation"
      ? Resources.Operation
      : Resources.Cluster

/**
 * The sample moved into the test's namespace (its release namespace follows, unless the sample
 * points elsewhere on purpose); cluster-scoped samples get a unique name instead.
 */
const placed = (o: KubeObject, namespace: string): KubeObject => {
  if (o.kind === "Cluster") {
    return { ...o, metadata: { ...o.metadata, name: uniqueName(o.metadata.name ?? "cluster") } }
  }
  const spec = o["spec"] as { release?: { name: string; namespace: string } } | undefined
  const release =
    spec?.release !== undefined && spec.release.namespace === o.metadata.namespace
      ? { ...spec.release, namespace }
      : spec?.release
  return {
    ...o,
    metadata: { ...o.metadata, namespace },
    ...(spec === undefined ? {} : { spec: { ...spec, ...(release === undefined ? {} : { release }) } })
  }
}

/** A raw GET with a chosen Accept header (Table and OpenAPI documents). */
const rawGet = (requestPath: string, accept: string) =>
  Effect.flatMap(targetFromKubeconfig(path), (target) =>
    requestJson(target, { method: "GET", path: requestPath, headers: { Accept: accept } })
  )

/** The value at `keys` inside a parsed JSON document, or undefined. */
const dig = (value: unknown, ...keys: ReadonlyArray<string>): unknown =>
  keys.reduce<unknown>(
    (v, k) => (typeof v === "object" && v !== null ? (v as Record<string, unknown>)[k] : undefined),
    value
  )

const TableAccept = "application/json;as=Table;v=v1;g=meta.k8s.io"

const Table = Schema.Struct({
  kind: Schema.Literal("Table"),
  columnDefinitions: Schema.Array(Schema.Struct({ name: Schema.String, type: Schema.String })),
  rows: Schema.NullOr(Schema.Array(Schema.Struct({ cells: Schema.Array(Schema.Unknown) })))
})

/** Rows of a Table as `{ column: cell }`. */
const tableRows = (table: typeof Table.Type): ReadonlyArray<Record<string, unknown>> =>
  (table.rows ?? []).map((row) =>
    Object.fromEntries(table.columnDefinitions.map((c, i) => [c.name, row.cells[i]] as const))
  )

const Crd = Schema.Struct({
  status: Schema.Struct({
    conditions: Schema.Array(Schema.Struct({ type: Schema.String, status: Schema.String }))
  })
})

/** The error the API server answers a write with, or a test failure when it accepts it. */
const rejection = <A, E extends { readonly _tag: string; readonly message: string }, R>(
  write: Effect.Effect<A, E, R>,
  what: string
) =>
  Effect.flatMap(Effect.either(write), (result) =>
    Either.isLeft(result) ? Effect.succeed(result.left) : Effect.dieMessage(`the API server accepted ${what}`)
  )

layer(Live, { excludeTestServices: true })("generated CRDs on a real API server", (it) => {
  it.effect("all three CRDs are installed, accepted and established", () =>
    Effect.gen(function* () {
      const api = yield* KubeApi
      for (const info of ownedCrds) {
        const crd = Schema.decodeUnknownSync(Crd)(
          yield* api.get(Resources.CustomResourceDefinition, `${info.plural}.${info.group}`)
        )
        const status = Object.fromEntries(crd.status.conditions.map((c) => [c.type, c.status]))
        expect(status, info.kind).toMatchObject({ Established: "True", NamesAccepted: "True" })
      }
    }))

  describe("valid samples", () => {
    it.scoped("apply, and the API server fills in the managed default", () =>
      Effect.gen(function* () {
        const api = yield* KubeApi
        const ns = yield* createTestNamespace("crds-valid")
        for (const sample of loadSamples("valid")) {
          const object = placed(sample.object, ns)
          const created = yield* api.create(resourceOf(object), object)
          expect(created.metadata.uid, sample.file).toBeDefined()
          if (object.kind === "Cluster") {
            yield* api.delete(Resources.Cluster, created.metadata.name ?? "")
          }
        }
        const helm = Schema.decodeUnknownSync(ApplicationInstance)(
          yield* api.get(Resources.ApplicationInstance, "nextcloud", ns)
        )
        expect(helm.spec.mode).toBe("managed")
        expect(helm.spec.values?.inline).toMatchObject({ persistence: { enabled: true, size: "8Gi" } })
      }))
  })

  describe("invalid samples", () => {
    it.scoped("are rejected with a message that names the field", () =>
      Effect.gen(function* () {
        const api = yield* KubeApi
        const ns = yield* createTestNamespace("crds-invalid")
        const samples = loadSamples("invalid")
        expect(samples.length).toBeGreaterThan(8)
        for (const sample of samples) {
          const expected = sample.object.metadata.annotations?.[EXPECTED_ERROR]
          expect(expected, sample.file).toBeDefined()
          const object = placed(sample.object, ns)
          const error = yield* rejection(api.create(resourceOf(object), object), sample.file)
          expect(error._tag, sample.file).toBe("Invalid")
          expect(error.message, sample.file).toContain(expected)
        }
      }))
  })

  describe("transition rules", () => {
    const operation = (ns: string, name: string): KubeObject => ({
      apiVersion: "ops.vworkspace.io/v1alpha1",
      kind: "Operation",
      metadata: { name, namespace: ns },
      spec: {
        targetRef: { apiVersion: "apps.vworkspace.io/v1alpha1", kind: "ApplicationInstance", name: "nextcloud" },
        type: "Backup",
        engine: "velero",
        parameters: { retention: "720h" }
      }
    })

    it.scoped("Operation targetRef, type and engine are immutable", () =>
      Effect.gen(function* () {
        const api = yield* KubeApi
        const ns = yield* createTestNamespace("crds-op-immutable")
        yield* api.create(Resources.Operation, operation(ns, "backup"))
        const changes: ReadonlyArray<readonly [object, string]> = [
          [{ spec: { type: "Restore" } }, "spec.type is immutable"],
          [{ spec: { engine: "snapshot" } }, "spec.engine is immutable"],
          [{ spec: { targetRef: { name: "other" } } }, "spec.targetRef.name is immutable"],
          [{ spec: { targetRef: { kind: "Deployment" } } }, "spec.targetRef.kind must be ApplicationInstance"]
        ]
        for (const [patch, message] of changes) {
          const error = yield* rejection(api.patch(Resources.Operation, "backup", ns, "merge", patch), message)
          expect(error._tag).toBe("Invalid")
          expect(error.message).toContain(message)
        }
        const unchanged = Schema.decodeUnknownSync(Operation)(yield* api.get(Resources.Operation, "backup", ns))
        expect([unchanged.spec.type, unchanged.spec.engine, unchanged.spec.targetRef.name]).toEqual([
          "Backup",
          "velero",
          "nextcloud"
        ])
      }))

    it.scoped("Operation parameters may change while Pending and are frozen once started", () =>
      Effect.gen(function* () {
        const api = yield* KubeApi
        const ns = yield* createTestNamespace("crds-op-params")
        yield* api.create(Resources.Operation, operation(ns, "backup"))
        yield* api.patch(Resources.Operation, "backup", ns, "merge", { spec: { parameters: { retention: "24h" } } })
        yield* api.applyStatus(
          Resources.Operation,
          {
            apiVersion: "ops.vworkspace.io/v1alpha1",
            kind: "Operation",
            metadata: { name: "backup", namespace: ns },
            status: { phase: "Running" }
          },
          { fieldManager: "crds-test" }
        )
        const error = yield* rejection(
          api.patch(Resources.Operation, "backup", ns, "merge", { spec: { parameters: { retention: "1h" } } }),
          "a parameter change on a Running operation"
        )
        expect(error.message).toContain("spec.parameters is immutable once operation has started")
        // Housekeeping on a started operation (a finalizer, a label) still goes through.
        const updated = yield* api.patch(Resources.Operation, "backup", ns, "merge", {
          metadata: { finalizers: ["ops.vworkspace.io/finalizer"], labels: { touched: "yes" } }
        })
        expect(updated.metadata.finalizers).toEqual(["ops.vworkspace.io/finalizer"])
        yield* api.patch(Resources.Operation, "backup", ns, "merge", { metadata: { finalizers: null } })
      }))

    it.scoped("a terminal Operation phase is final", () =>
      Effect.gen(function* () {
        const api = yield* KubeApi
        const ns = yield* createTestNamespace("crds-op-terminal")
        yield* api.create(Resources.Operation, operation(ns, "backup"))
        const setPhase = (phase: string) =>
          api.applyStatus(
            Resources.Operation,
            {
              apiVersion: "ops.vworkspace.io/v1alpha1",
              kind: "Operation",
              metadata: { name: "backup", namespace: ns },
              status: { phase }
            },
            { fieldManager: "crds-test", force: true }
          )
        yield* setPhase("Running")
        yield* setPhase("Failed")
        const error = yield* rejection(setPhase("Running"), "Failed -> Running")
        expect(error.message).toContain("status.phase is final once Succeeded, Failed or Cancelled")
      }))

    it.scoped("ApplicationInstance release is immutable once set, and managed cannot become placeholder", () =>
      Effect.gen(function* () {
        const api = yield* KubeApi
        const ns = yield* createTestNamespace("crds-ai-immutable")
        const [managed] = loadSamples("valid").filter((s) => s.file === "applicationinstance-managed-helm.yaml")
        yield* api.create(Resources.ApplicationInstance, placed(managed!.object, ns))

        const rename = yield* rejection(
          api.patch(Resources.ApplicationInstance, "nextcloud", ns, "merge", { spec: { release: { name: "nc2" } } }),
          "a release rename"
        )
        expect(rename.message).toContain("spec.release is immutable once set")

        const toPlaceholder = yield* rejection(
          api.patch(Resources.ApplicationInstance, "nextcloud", ns, "merge", {
            spec: { mode: "placeholder", chart: null, values: null, integrations: null }
          }),
          "managed -> placeholder"
        )
        expect(toPlaceholder.message).toContain("cannot switch a managed instance")

        // A placeholder may gain a release, then keeps it.
        const [placeholder] = loadSamples("valid").filter((s) => s.file === "applicationinstance-placeholder.yaml")
        yield* api.create(Resources.ApplicationInstance, placed(placeholder!.object, ns))
        yield* api.patch(Resources.ApplicationInstance, "cluster-ops", ns, "merge", {
          spec: { release: { name: "ops", namespace: ns } }
        })
        const drop = yield* rejection(
          api.patch(Resources.ApplicationInstance, "cluster-ops", ns, "json", [{ op: "remove", path: "/spec/release" }]),
          "removing a set release"
        )
        expect(drop.message).toContain("spec.release is immutable once set")
      }))
  })

  describe("status", () => {
    it.scoped("conditions are a list-map keyed by type and follow the metav1.Condition rules", () =>
      Effect.gen(function* () {
        const api = yield* KubeApi
        const ns = yield* createTestNamespace("crds-status")
        const [placeholder] = loadSamples("valid").filter((s) => s.file === "applicationinstance-placeholder.yaml")
        yield* api.create(Resources.ApplicationInstance, placed(placeholder!.object, ns))
        const condition = (type: string, reason: string) => ({
          type,
          status: "True",
          reason,
          message: "",
          lastTransitionTime: "2026-01-01T00:00:00Z",
          observedGeneration: 1
        })
        const writeStatus = (conditions: ReadonlyArray<object>) =>
          api.applyStatus(
            Resources.ApplicationInstance,
            {
              apiVersion: "apps.vworkspace.io/v1alpha1",
              kind: "ApplicationInstance",
              metadata: { name: "cluster-ops", namespace: ns },
              status: { conditions }
            },
            { fieldManager: "crds-test", force: true }
          )

        const written = yield* writeStatus([condition("Ready", "Placeholder"), condition("Blocked", "Unblocked")])
        expect((written["status"] as { conditions: ReadonlyArray<unknown> }).conditions).toHaveLength(2)

        const duplicate = yield* rejection(
          writeStatus([condition("Ready", "Placeholder"), condition("Ready", "Other")]),
          "two Ready conditions"
        )
        // Server-side apply refuses a second entry for the same list-map key.
        expect(duplicate.message).toMatch(/status\.conditions: duplicate entries for key \[type="Ready"\]/)

        const badReason = yield* rejection(writeStatus([condition("Ready", "not a reason")]), "a reason with spaces")
        expect(badReason.message).toContain("reason")
      }))
  })

  describe("kubectl get and explain", () => {
    it.scoped("the Table API shows the contract's printer columns", () =>
      Effect.gen(function* () {
        const api = yield* KubeApi
        const ns = yield* createTestNamespace("crds-table")
        for (const sample of loadSamples("valid")) {
          if (sample.object.kind !== "Cluster") yield* api.create(resourceOf(sample.object), placed(sample.object, ns))
        }
        const tableOf = (requestPath: string) => Effect.map(rawGet(requestPath, TableAccept), Schema.decodeUnknownSync(Table))

        const instances = yield* tableOf(`/apis/apps.vworkspace.io/v1alpha1/namespaces/${ns}/applicationinstances`)
        expect(instances.columnDefinitions.map((c) => c.name)).toEqual(["Name", "Ready", "Chart", "Version", "Age"])
        const nextcloud = tableRows(instances).find((r) => r["Name"] === "nextcloud")
        expect(nextcloud).toMatchObject({ Chart: "nextcloud", Version: "6.6.4" })

        const operations = yield* tableOf(`/apis/ops.vworkspace.io/v1alpha1/namespaces/${ns}/operations`)
        expect(operations.columnDefinitions.map((c) => c.name)).toEqual(["Name", "Phase", "Type", "Engine", "Age"])
        expect(tableRows(operations).find((r) => r["Name"] === "nextcloud-backup-1")).toMatchObject({
          Type: "Backup",
          Engine: "velero"
        })

        const clusters = yield* tableOf("/apis/ops.vworkspace.io/v1alpha1/clusters")
        expect(clusters.columnDefinitions.map((c) => c.name)).toEqual(["Name", "Phase", "Connected", "Age"])
      }))

    it.effect("the published OpenAPI v3 document carries the field descriptions kubectl explain prints", () =>
      Effect.gen(function* () {
        const doc = yield* rawGet("/openapi/v3/apis/apps.vworkspace.io/v1alpha1", "application/json")
        const ai = ["components", "schemas", "io.vworkspace.apps.v1alpha1.ApplicationInstance", "properties", "spec"]
        expect(dig(doc, ...ai, "properties", "chart", "description")).toMatch(/Helm chart/)
        expect(dig(doc, ...ai, "properties", "mode", "description")).toMatch(/placeholder/)
        expect(dig(doc, ...ai, "properties", "chart", "properties", "version", "description")).toMatch(/version/)
      }))
  })
})
