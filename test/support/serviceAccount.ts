/** Requests as a ServiceAccount: a bound token from the TokenRequest API, exactly what a pod's projected token would be. */
import { KubeConfig } from "@kubernetes/client-node"
import { Effect, Schema } from "effect"
import { expect } from "vitest"
import { KubeApiLive } from "../../src/kube/KubeApiLive.js"
import { adminRequest, kubeconfigPath } from "./cluster.js"
import { plantedSecret } from "./logScan.js"

const TokenRequestStatus = Schema.parseJson(Schema.Struct({ status: Schema.Struct({ token: Schema.String }) }))

/** A one-hour bound token for the existing ServiceAccount `namespace/serviceAccount`. */
export const boundToken = (namespace: string, serviceAccount: string) =>
  Effect.gen(function* () {
    const response = yield* adminRequest({
      method: "POST",
      path: `/api/v1/namespaces/${namespace}/serviceaccounts/${serviceAccount}/token`,
      body: JSON.stringify({ apiVersion: "authentication.k8s.io/v1", kind: "TokenRequest", spec: { expirationSeconds: 3600 } })
    })
    expect(response.status).toBe(201)
    return plantedSecret("ServiceAccount bearer token", (yield* Schema.decodeUnknown(TokenRequestStatus)(response.body)).status.token)
  })

/** Creates the ServiceAccount `namespace/name` and returns a bound token for it. */
export const newServiceAccountToken = (namespace: string, name: string) =>
  Effect.gen(function* () {
    const created = yield* adminRequest({
      method: "POST",
      path: `/api/v1/namespaces/${namespace}/serviceaccounts`,
      body: JSON.stringify({ apiVersion: "v1", kind: "ServiceAccount", metadata: { name } })
    })
    expect(created.status).toBe(201)
    return yield* boundToken(namespace, name)
  })

/** A KubeApi layer that authenticates as `namespace/serviceAccount` with a one-hour bound token. */
export const serviceAccountKubeApi = (namespace: string, serviceAccount: string) =>
  Effect.gen(function* () {
    const token = yield* boundToken(namespace, serviceAccount)
    const kc = yield* Effect.try(() => {
      const admin = new KubeConfig()
      admin.loadFromFile(kubeconfigPath())
      const cluster = admin.getCurrentCluster()
      if (cluster === null) throw new Error("the admin kubeconfig names no cluster")
      const config = new KubeConfig()
      config.loadFromOptions({
        clusters: [{ ...cluster, name: "test" }],
        users: [{ name: serviceAccount, token }],
        contexts: [{ name: "test", cluster: "test", user: serviceAccount }],
        currentContext: "test"
      })
      return config
    })
    return KubeApiLive.layer(kc)
  })
