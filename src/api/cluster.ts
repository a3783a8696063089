/**
 * `Cluster` (`ops.vworkspace.io/v1alpha1`, cluster-scoped): the operator's identity and
 * connectivity record for Pull mode (spec/api.md §4, newest Go type).
 */
import { Schema } from "effect"
import { Conditions, ObjectMeta, typeMeta } from "./meta.js"
import { cel, type CrdInfo, DateTimeString, opt, req } from "./schemaKit.js"
import { ApiVersions, Groups, Names } from "./wellKnown.js"

export const ClusterPhase = Schema.Literal("Pending", "Registering", "Connected", "Disconnected", "Error", "Terminating")
export type ClusterPhase = typeof ClusterPhase.Type

export const RegistrationTokenSecretRef = Schema.Struct({
  name: req(Schema.String.pipe(Schema.maxLength(253)), "Secret name, in the operator's namespace.").annotations(
    cel({ rule: "self.trim() != ''", message: "spec.registrationTokenSecretRef.name must not be empty" })
  ),
  key: opt(Schema.String.pipe(Schema.maxLength(253)), "Data key of the token.").annotations({
    default: Names.defaultRegistrationTokenKey
  })
})
export type RegistrationTokenSecretRef = typeof RegistrationTokenSecretRef.Type

export const ClusterSpec = Schema.Struct({
  clusterId: opt(
    Schema.String,
    "Stable cluster id issued by the control plane. Optional on first registration: the operator fills it in."
  ),
  controlPlaneEndpoint: opt(
    Schema.String.pipe(Schema.pattern(/^https?:\/\//)),
    "Base URL of the control plane (vWorkspace Server), http:// or https://."
  ),
  controlPlaneBaseUrl: opt(Schema.String, "Deprecated alias of controlPlaneEndpoint, used only when that is empty."),
  registrationTokenSecretRef: opt(
    RegistrationTokenSecretRef,
    "Secret holding the one-time registration token. The operator exchanges it for a long-lived credential."
  ),
  registrationToken: opt(
    Schema.String,
    "Deprecated: the one-time registration token inline. Cleared by the operator after the exchange; use registrationTokenSecretRef."
  ),
  capabilities: opt(
    Schema.Struct({
      flux: opt(Schema.Boolean, "Flux controllers are installed."),
      velero: opt(Schema.Boolean, "Velero is installed.")
    }),
    "Reserved; not reconciled."
  ),
  rotateCredentials: opt(
    Schema.Boolean,
    "Set to true to rotate the bootstrap credential; the operator sets it back to false when done."
  )
})
export type ClusterSpec = typeof ClusterSpec.Type

export const ClusterStatus = Schema.Struct({
  phase: opt(ClusterPhase, "Pending, Registering, Connected, Disconnected, Error or Terminating."),
  conditions: opt(Conditions, "Connected, Disconnected, Authenticated, ControllersHealthy and BufferOverflow."),
  lastHeartbeat: opt(DateTimeString, "Time of the last successful round-trip to the control plane."),
  credentialStatus: opt(
    Schema.Struct({
      secretName: opt(Schema.String, "Name of the credentials Secret."),
      secretNamespace: opt(Schema.String, "Namespace of the credentials Secret."),
      registeredAt: opt(DateTimeString, "When the registration token was exchanged."),
      registrationTokenConsumed: opt(Schema.Boolean, "The registration token has been used.")
    }),
    "Outcome of the registration."
  ),
  credentialsSecretRef: opt(
    Schema.Struct({
      name: req(Schema.String, "Secret name."),
      namespace: opt(Schema.String, "Secret namespace.")
    }),
    "The Secret holding control-plane-base-url, cluster-id and token."
  ),
  observedToken: opt(Schema.String, "First 16 hex characters of sha256 of the last registration token consumed."),
  connectivityMode: opt(
    Schema.Literal("pull", "push", "gitops"),
    "The operator's connectivity mode: pull (long-poll the control plane), push (the control plane applies CRs) or gitops (Flux applies a Git path)."
  ),
  gitops: opt(
    Schema.Struct({
      url: opt(Schema.String, "Git repository URL."),
      branch: opt(Schema.String, "Branch Flux follows."),
      path: opt(Schema.String, "Path in the repository that is applied."),
      lastAppliedRevision: opt(Schema.String, "The revision the Kustomization last applied."),
      lastAttemptedRevision: opt(Schema.String, "The revision the Kustomization last tried."),
      ready: opt(Schema.Literal("True", "False", "Unknown"), "The Kustomization's Ready status."),
      reason: opt(Schema.String, "The Kustomization's Ready reason."),
      message: opt(Schema.String, "The Kustomization's Ready message.")
    }),
    "GitOps mode: what Flux applies from Git, and how that went."
  )
})
export type ClusterStatus = typeof ClusterStatus.Type

export const Cluster = Schema.Struct({
  ...typeMeta(ApiVersions.Cluster, "Cluster"),
  metadata: ObjectMeta,
  spec: opt(ClusterSpec, "How to reach and register with the control plane."),
  status: opt(ClusterStatus, "Connectivity state, written by the operator.")
}).annotations({
  description:
    "Cluster: this cluster's identity and connection to the vWorkspace control plane (Pull mode). A Cluster plus a token Secret registers the cluster."
})
export type Cluster = typeof Cluster.Type

export const ClusterCrd: CrdInfo = {
  group: Groups.ops,
  version: "v1alpha1",
  kind: "Cluster",
  listKind: "ClusterList",
  plural: "clusters",
  singular: "cluster",
  shortNames: ["cluster"],
  scope: "Cluster",
  printerColumns: [
    { name: "Phase", type: "string", jsonPath: ".status.phase" },
    { name: "Connected", type: "string", jsonPath: '.status.conditions[?(@.type=="Connected")].status' },
    { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" }
  ],
  schema: Cluster
}
