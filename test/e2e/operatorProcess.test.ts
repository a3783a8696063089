/**
 * The operator as a user runs it: the `vworkspace-operator run` process, with leader election,
 * against the test cluster. It installs a placeholder and a managed instance, serves its probes
 * and metrics, keeps secrets out of its logs, and on SIGTERM releases its Lease and exits 0.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Effect, Layer, Option } from "effect"
import { KubeApi } from "../../src/kube/KubeApi.js"
import { KubeApiLive } from "../../src/kube/KubeApiLive.js"
import type { KubeObject } from "../../src/kube/object.js"
import { Resources } from "../../src/kube/resources.js"
import { createNamespace, deleteNamespace as deleteNs, targetFromKubeconfig, uniqueName } from "../../src/devcluster/index.js"
import { kubeconfigPath } from "../support/cluster.js"
import { waitFor } from "../support/wait.js"

const run = <A, E>(effect: Effect.Effect<A, E, KubeApi>): Promise<A> =>
  Effect.runPromise(effect.pipe(Effect.provide(KubeApiLive.fromKubeconfigFile(kubeconfigPath()) as Layer.Layer<KubeApi>)))

const namespace = uniqueName("e2e-op")
const secretValue = "e2e-very-secret-value-42"
let proc: ChildProcess
let output = ""
let exitCode: number | null | undefined
const port = 18000 + Math.floor(Math.random() * 2000)
const metricsPort = port + 1

const readyCondition = (name: string, status: string, reason: string) =>
  Effect.flatMap(KubeApi, (api) =>
    waitFor(
      `${name} Ready=${status}/${reason}`,
      api.get(Resources.ApplicationInstance, name, namespace).pipe(
        Effect.map((o) => {
          const c = ((o["status"] as { conditions?: Array<{ type: string; status: string; reason: string }> })?.conditions ?? []).find(
            (x) => x.type === "Ready"
          )
          return c?.status === status && c.reason === reason ? o : undefined
        }),
        Effect.catchTag("NotFound", () => Effect.succeed(undefined))
      ),
      { timeout: "90 seconds", interval: "250 millis" }
    )
  )

beforeAll(async () => {
  const target = await Effect.runPromise(targetFromKubeconfig(kubeconfigPath()))
  await Effect.runPromise(createNamespace(target, namespace, { "managed-by": "vworkspace" }))
  await run(
    Effect.flatMap(KubeApi, (api) =>
      api.create(Resources.Secret, {
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name: "app-values", namespace },
        stringData: { "values.yaml": `password: ${secretValue}\n` }
      })
    )
  )
  proc = spawn(
    process.execPath,
    [
      "--import",
      "tsx",
      "src/cli/main.ts",
      "run",
      "--kubeconfig",
      kubeconfigPath(),
      "--leader-elect",
      "--pod-namespace",
      namespace,
      "--watch-namespace",
      namespace,
      "--health-probe-bind-address",
      `127.0.0.1:${port}`,
      "--metrics-bind-address",
      `127.0.0.1:${metricsPort}`,
      "--metrics-secure=false",
      "--log-level",
      "debug"
    ],
    { stdio: ["ignore", "pipe", "pipe"] }
  )
  proc.stdout!.on("data", (d: Buffer) => (output += d.toString()))
  proc.stderr!.on("data", (d: Buffer) => (output += d.toString()))
  proc.on("exit", (code) => (exitCode = code))
})

afterAll(async () => {
  if (exitCode === undefined) proc.kill("SIGKILL")
  const target = await Effect.runPromise(targetFromKubeconfig(kubeconfigPath()))
  await Effect.runPromise(Effect.ignore(deleteNs(target, namespace)))
})

describe("vworkspace-operator run", () => {
  it("reconciles instances, serves probes and metrics, and logs no secret", async () => {
    await run(
      Effect.gen(function* () {
        const api = yield* KubeApi
        const apply = (o: KubeObject) =>
          api.apply(Resources.ApplicationInstance, o, { fieldManager: "vworkspace-agent", force: true })
        yield* apply({
          apiVersion: "apps.vworkspace.io/v1alpha1",
          kind: "ApplicationInstance",
          metadata: { name: "cluster-ops", namespace },
          spec: { appRef: { catalogId: "cluster-ops" }, mode: "placeholder" }
        })
        yield* apply({
          apiVersion: "apps.vworkspace.io/v1alpha1",
          kind: "ApplicationInstance",
          metadata: { name: "app", namespace },
          spec: {
            appRef: { catalogId: "demo" },
            chart: { sourceType: "helm", url: "https://charts.example.test", name: "demo", version: "1.0.0" },
            release: { name: "app", namespace },
            values: { source: "secretRef", secretRef: { name: "app-values", key: "values.yaml" } }
          }
        })
        yield* readyCondition("cluster-ops", "True", "Placeholder")
        yield* readyCondition("app", "Unknown", "Reconciling")
        const hr = yield* api.get(Resources.HelmRelease, "app", namespace)
        expect(hr["spec"]).toMatchObject({ valuesFrom: [{ kind: "Secret", name: "app-values" }] })
        const lease = yield* api.get(Resources.Lease, "dad03b25.vworkspace.io", namespace)
        expect((lease["spec"] as { holderIdentity?: string }).holderIdentity).toBeTruthy()
      })
    )
    const ready = await fetch(`http://127.0.0.1:${port}/readyz`)
    expect(ready.status).toBe(200)
    const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text()
    expect(metrics).toMatch(/controller_runtime_reconcile_total\{controller="applicationinstance",result="success"\} [1-9]/)
    expect(metrics).toContain("workqueue_adds_total")
    expect(output).toContain('"reconcileID"')
    expect(output).toContain('"operator_version"')
    expect(output).not.toContain(secretValue)
  })

  it("on SIGTERM releases the Lease and exits 0", async () => {
    proc.kill("SIGTERM")
    await run(
      waitFor("the process to exit", Effect.sync(() => (exitCode === undefined ? undefined : true)), { timeout: "30 seconds" })
    )
    expect(exitCode).toBe(0)
    const lease = await run(Effect.flatMap(KubeApi, (api) => api.get(Resources.Lease, "dad03b25.vworkspace.io", namespace)))
    expect(Option.fromNullable((lease["spec"] as { holderIdentity?: string }).holderIdentity).pipe(Option.getOrElse(() => ""))).toBe("")
  })
})
