/**
 * The two ways the operator authenticates, against the real API server, each proven by asking
 * the server who it is (SelfSubjectReview): a Pod's service account, whose token file is re-read
 * when it rotates, and a kubeconfig whose user is an exec plugin printing an ExecCredential.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { expect, layer } from "@effect/vitest"
import { Context, Duration, Effect, Layer, Schedule, Schema } from "effect"
import { KubeApi } from "../../src/kube/KubeApi.js"
import { KubeApiLive } from "../../src/kube/KubeApiLive.js"
import type { ResourceType } from "../../src/kube/object.js"
import { adminTarget, createTestNamespace, devCluster } from "../support/cluster.js"
import { newServiceAccountToken } from "../support/serviceAccount.js"
import { kubeLayer } from "../support/operator.js"

const SelfSubjectReview: ResourceType = {
  group: "authentication.k8s.io",
  version: "v1",
  kind: "SelfSubjectReview",
  plural: "selfsubjectreviews",
  namespaced: false
}

const Review = Schema.Struct({ status: Schema.Struct({ userInfo: Schema.Struct({ username: Schema.String }) }) })

/** Who the API server says the client is. */
const whoAmI = (api: KubeApi["Type"]) =>
  api
    .create(SelfSubjectReview, { apiVersion: "authentication.k8s.io/v1", kind: "SelfSubjectReview", metadata: {} })
    .pipe(
      Effect.flatMap(Schema.decodeUnknown(Review)),
      Effect.map((r) => r.status.userInfo.username)
    )


const tempDir = Effect.acquireRelease(
  Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "vworkspace-auth-"))),
  (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
)

/** The cluster CA and its API server address. */
const clusterAccess = Effect.gen(function* () {
  const cluster = devCluster()
  if (cluster === null) return yield* Effect.dieMessage("these tests need the harness's own cluster (its CA file)")
  const server = new URL((yield* adminTarget).server)
  return { caFile: path.join(cluster.pkiDir, "ca.crt"), host: server.hostname, port: server.port }
})

/** Replaces a file the way the kubelet rotates a projected token: write aside, then rename. */
const rotate = (file: string, content: string) =>
  Effect.sync(() => {
    fs.writeFileSync(`${file}.next`, content)
    fs.renameSync(`${file}.next`, file)
  })

layer(kubeLayer(), { timeout: "60 seconds", excludeTestServices: true })("authentication", (it) => {
  it.scoped("in-cluster service account: a rotated token file is picked up without a restart", () =>
    Effect.gen(function* () {
      const ns = yield* createTestNamespace("auth-sa")
      const first = yield* newServiceAccountToken(ns, "first")
      const second = yield* newServiceAccountToken(ns, "second")
      const access = yield* clusterAccess
      const dir = yield* tempDir
      const tokenFile = path.join(dir, "token")
      fs.writeFileSync(tokenFile, first)
      const api = yield* Layer.build(
        KubeApiLive.inCluster({
          tokenFile,
          caFile: access.caFile,
          env: { KUBERNETES_SERVICE_HOST: access.host, KUBERNETES_SERVICE_PORT: access.port }
        })
      ).pipe(Effect.map(Context.get(KubeApi)))

      expect(yield* whoAmI(api)).toBe(`system:serviceaccount:${ns}:first`)
      yield* rotate(tokenFile, second)
      // The token file is checked at most once a second: the new identity shows within a few.
      const after = yield* whoAmI(api).pipe(
        Effect.filterOrFail((user) => user.endsWith(":second"), (user) => `still ${user}`),
        Effect.retry(Schedule.spaced(Duration.millis(100)).pipe(Schedule.upTo(Duration.seconds(10)))),
        Effect.merge
      )
      expect(after).toBe(`system:serviceaccount:${ns}:second`)
    }))

  it.scoped("in-cluster without the service address is a clear error", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      fs.writeFileSync(path.join(dir, "token"), "t")
      const failed = yield* Effect.flip(
        Layer.build(KubeApiLive.inCluster({ tokenFile: path.join(dir, "token"), caFile: path.join(dir, "ca.crt"), env: {} }))
      )
      expect(failed.message).toContain("KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be set")
    }))

  it.scoped("a kubeconfig whose user is an exec plugin (loaded through client-node on demand)", () =>
    Effect.gen(function* () {
      const ns = yield* createTestNamespace("auth-exec")
      const token = yield* newServiceAccountToken(ns, "plugin")
      const access = yield* clusterAccess
      const dir = yield* tempDir
      const plugin = path.join(dir, "credential-plugin.sh")
      const credential = { apiVersion: "client.authentication.k8s.io/v1", kind: "ExecCredential", status: { token } }
      fs.writeFileSync(plugin, `#!/bin/sh\ncat <<'JSON'\n${JSON.stringify(credential)}\nJSON\n`, { mode: 0o755 })
      const kubeconfig = path.join(dir, "kubeconfig")
      // JSON is YAML.
      fs.writeFileSync(
        kubeconfig,
        JSON.stringify({
          apiVersion: "v1",
          kind: "Config",
          clusters: [{ name: "test", cluster: { server: `https://${access.host}:${access.port}`, "certificate-authority": access.caFile } }],
          users: [
            {
              name: "plugin",
              user: { exec: { apiVersion: "client.authentication.k8s.io/v1", command: plugin, interactiveMode: "Never" } }
            }
          ],
          contexts: [{ name: "test", context: { cluster: "test", user: "plugin" } }],
          "current-context": "test"
        })
      )
      const api = yield* Layer.build(KubeApiLive.fromKubeconfigFile(kubeconfig)).pipe(Effect.map(Context.get(KubeApi)))
      expect(yield* whoAmI(api)).toBe(`system:serviceaccount:${ns}:plugin`)
    }))
})
