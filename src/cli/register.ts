/**
 * `vworkspace-operator register`: the break-glass registration (spec/connectivity.md §2.7). It
 * stores the one-time token in a Secret in the operator namespace, server-side-applies a
 * cluster-scoped `Cluster` that refers to it (field manager `vworkspace-cli`), and waits until the
 * running operator has exchanged the token. The token is never printed or put in the Cluster.
 */
import { Command, Options } from "@effect/cli"
import { Config, Console, Data, Duration, Effect, Option, Redacted, Schedule, Schema } from "effect"
import { Cluster, type ClusterStatus } from "../api/cluster.js"
import { findCondition } from "../api/conditions.js"
import { FieldManagers, Names } from "../api/wellKnown.js"
import { tokenFingerprint } from "../connectivity/credentialsLive.js"
import { KubeApi } from "../kube/KubeApi.js"
import { KubeApiLive } from "../kube/KubeApiLive.js"
import { Resources } from "../kube/resources.js"
import { withKubeRetry } from "../kube/retry.js"

export class RegisterFailed extends Data.TaggedError("RegisterFailed")<{ readonly message: string }> {}

class NotYet extends Data.TaggedError("NotYet") {}

const options = {
  token: Options.redacted("token").pipe(
    Options.withFallbackConfig(Config.redacted("VWORKSPACE_REGISTRATION_TOKEN")),
    Options.withDescription("The one-time registration token issued by the control plane (never printed)")
  ),
  controlPlaneEndpoint: Options.text("control-plane-endpoint").pipe(
    Options.withFallbackConfig(Config.string("CONTROL_PLANE_BASE_URL")),
    Options.withDescription("Base URL of the control plane, http:// or https:// (env CONTROL_PLANE_BASE_URL)")
  ),
  clusterName: Options.text("cluster-name").pipe(
    Options.withDefault("cluster-local"),
    Options.withDescription("Name of the cluster-scoped Cluster object")
  ),
  clusterId: Options.text("cluster-id").pipe(
    Options.withFallbackConfig(Config.string("VWORKSPACE_CLUSTER_ID")),
    Options.optional,
    Options.withDescription("The cluster id the control plane issued, when the token is bound to a known cluster")
  ),
  namespace: Options.text("namespace").pipe(
    Options.withFallbackConfig(Config.string("POD_NAMESPACE")),
    Options.withDefault(Names.defaultOperatorNamespace),
    Options.withDescription("The operator's namespace, where the token Secret is stored")
  ),
  kubeconfig: Options.file("kubeconfig").pipe(
    Options.optional,
    Options.withDescription("Kubeconfig file; default: $KUBECONFIG, ~/.kube/config, then the in-cluster service account")
  ),
  timeoutSeconds: Options.integer("timeout-seconds").pipe(
    Options.withDefault(120),
    Options.withDescription("How long to wait for the operator to exchange the token")
  )
}

const decodeCluster = Schema.decodeUnknownOption(Cluster)

export const tokenSecretName = (clusterName: string) => `${clusterName}-registration`

const register = (o: {
  readonly token: string
  readonly endpoint: string
  readonly clusterName: string
  readonly clusterId: Option.Option<string>
  readonly namespace: string
  readonly timeout: Duration.Duration
}) =>
  Effect.gen(function* () {
    const api = yield* KubeApi
    const manager = { fieldManager: FieldManagers.cli, force: true }
    const secretName = tokenSecretName(o.clusterName)
    yield* withKubeRetry(
      api.apply(
        Resources.Secret,
        {
          apiVersion: "v1",
          kind: "Secret",
          metadata: { name: secretName, namespace: o.namespace },
          type: "Opaque",
          data: { [Names.defaultRegistrationTokenKey]: Buffer.from(o.token, "utf8").toString("base64") }
        },
        manager
      )
    )
    yield* withKubeRetry(
      api.apply(
        Resources.Cluster,
        {
          apiVersion: "ops.vworkspace.io/v1alpha1",
          kind: "Cluster",
          metadata: { name: o.clusterName },
          spec: {
            controlPlaneEndpoint: o.endpoint,
            registrationTokenSecretRef: { name: secretName, key: Names.defaultRegistrationTokenKey },
            ...Option.match(o.clusterId, { onNone: () => ({}), onSome: (clusterId) => ({ clusterId }) })
          }
        },
        manager
      )
    )
    yield* Console.log(`Cluster ${o.clusterName} applied; token stored in Secret ${o.namespace}/${secretName}; waiting for the operator`)
    const fingerprint = tokenFingerprint(o.token)
    // A read that fails (the API server busy, the Cluster not yet cached) just means: not yet.
    const probe = api.get(Resources.Cluster, o.clusterName).pipe(
      Effect.map((raw) => Option.getOrUndefined(decodeCluster(raw))?.status),
      Effect.catchAll(() => Effect.succeed(undefined)),
      Effect.flatMap((status): Effect.Effect<ClusterStatus, RegisterFailed | NotYet> => {
        const authenticated = findCondition(status?.conditions, "Authenticated")
        if (status?.phase === "Error" && authenticated?.status === "False") {
          return Effect.fail(new RegisterFailed({ message: `registration failed: ${authenticated.reason}: ${authenticated.message}` }))
        }
        const done = status?.observedToken === fingerprint && status.credentialStatus?.registrationTokenConsumed === true
        return done ? Effect.succeed(status) : Effect.fail(new NotYet())
      })
    )
    const registered = yield* probe.pipe(
      Effect.retry({ schedule: Schedule.spaced(Duration.seconds(2)), while: (e) => e._tag === "NotYet" }),
      Effect.catchTag("NotYet", () => Effect.dieMessage("unreachable: retried while not yet")),
      Effect.timeoutFail({
        duration: o.timeout,
        onTimeout: () =>
          new RegisterFailed({
            message: `the operator did not exchange the token within ${Duration.format(o.timeout)}: is it running, and can it reach ${o.endpoint}?`
          })
      })
    )
    const ref = registered.credentialsSecretRef
    const connected = findCondition(registered.conditions, "Connected")
    yield* Console.log(
      [
        `registered: credentials in Secret ${ref?.namespace ?? o.namespace}/${ref?.name ?? Names.agentCredentialsSecret}`,
        connected === undefined ? "Connected: not reported yet" : `Connected=${connected.status} (${connected.reason})`
      ].join("\n")
    )
  })

export const registerCommand = Command.make("register", options, (o) =>
  Effect.gen(function* () {
    const token = Redacted.value(o.token).trim()
    if (token === "") return yield* new RegisterFailed({ message: "--token must not be empty" })
    const endpoint = o.controlPlaneEndpoint.trim().replace(/\/+$/, "")
    if (!/^https?:\/\//.test(endpoint)) {
      return yield* new RegisterFailed({ message: `--control-plane-endpoint must start with http:// or https:// (got "${endpoint}")` })
    }
    if (o.timeoutSeconds <= 0) return yield* new RegisterFailed({ message: "--timeout-seconds must be positive" })
    const kube = Option.match(o.kubeconfig, {
      onNone: () => KubeApiLive.fromDefault,
      onSome: (path) => KubeApiLive.fromKubeconfigFile(path)
    })
    yield* register({
      token,
      endpoint,
      clusterName: o.clusterName,
      clusterId: o.clusterId,
      namespace: o.namespace,
      timeout: Duration.seconds(o.timeoutSeconds)
    }).pipe(Effect.provide(kube))
  }).pipe(Effect.tapError((e) => Console.error(`register: ${e.message}`)))
).pipe(
  Command.withDescription(
    "Break-glass registration: store the one-time token in a Secret, apply a Cluster that refers to it, and wait until the operator has exchanged it."
  )
)
