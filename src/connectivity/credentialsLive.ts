/**
 * The live `AgentCredentials`: the one Secret `vworkspace-agent-credentials` in the operator's
 * namespace, watched by name (no cluster-wide Secret list or watch). The Cluster reconciler writes
 * it through `CredentialStore`, which makes the new value current at once, before the watch
 * event arrives: after a rotation no request goes out with the old token.
 */
import { Context, DateTime, Effect, Layer, Option, Schema, SubscriptionRef } from "effect"
import { createHash } from "node:crypto"
import { ApiVersions, CredentialKeys, FieldManagers, Labels, ManagedBy, Names } from "../api/wellKnown.js"
import type { KubeError } from "../kube/errors.js"
import type { Informer } from "../kube/informer.js"
import { KubeApi } from "../kube/KubeApi.js"
import type { KubeObject, OwnerReference } from "../kube/object.js"
import { Resources } from "../kube/resources.js"
import { withKubeRetry } from "../kube/retry.js"
import { Audit } from "../observability/audit.js"
import {
  AgentCredentials,
  type AgentCredentialsService,
  type AgentCredentialsValue,
  CredentialPersistError,
  CredentialRotation,
  requireCredentials
} from "./credentials.js"
import { credentialRotatedEvent } from "./outbox/transitions.js"
import { StatusSink } from "./statusSink.js"

/** The first 16 hex characters of sha256(token): what `status.observedToken` records. */
export const tokenFingerprint = (token: string): string => createHash("sha256").update(token).digest("hex").slice(0, 16)

export interface CredentialSecretRef {
  readonly namespace: string
  readonly name: string
}

export interface CredentialStoreService {
  readonly secret: CredentialSecretRef
  /**
   * Writes the Secret and makes `value` current at once. `owner` (the Cluster) becomes its
   * controller; absent, the Secret keeps the owner it has.
   */
  readonly save: (value: AgentCredentialsValue, owner?: KubeObject) => Effect.Effect<void, KubeError>
  /** The Secret exists, complete or not. */
  readonly exists: Effect.Effect<boolean>
  /** The Cluster that owns the Secret (its controller reference), if any. */
  readonly owner: Effect.Effect<Option.Option<{ readonly name: string; readonly uid: string }>>
}

export class CredentialStore extends Context.Tag("vworkspace/CredentialStore")<CredentialStore, CredentialStoreService>() {}

const SecretData = Schema.Struct({ data: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.String })) })
const decodeSecret = Schema.decodeUnknownOption(SecretData)

const fromBase64 = (v: string | undefined): string => (v === undefined ? "" : Buffer.from(v, "base64").toString("utf8").trim())
const toBase64 = (v: string): string => Buffer.from(v, "utf8").toString("base64")

/** The credentials a Secret holds, when all three keys are present and non-blank. */
export const credentialsOf = (secret: KubeObject): Option.Option<AgentCredentialsValue> =>
  Option.flatMap(decodeSecret(secret), ({ data }) => {
    const baseUrl = fromBase64(data?.[CredentialKeys.controlPlaneBaseUrl]).replace(/\/+$/, "")
    const clusterId = fromBase64(data?.[CredentialKeys.clusterId])
    const token = fromBase64(data?.[CredentialKeys.token])
    return baseUrl === "" || clusterId === "" || token === "" ? Option.none() : Option.some({ baseUrl, clusterId, token })
  })

/** resourceVersions are opaque, but etcd's are integers; an older one must not undo a write. */
const olderThan = (rv: string | undefined, than: string | undefined): boolean =>
  rv !== undefined && than !== undefined && /^\d+$/.test(rv) && /^\d+$/.test(than) && BigInt(rv) < BigInt(than)

const ownerRefOf = (owner: KubeObject): OwnerReference => ({
  apiVersion: owner.apiVersion,
  kind: owner.kind,
  name: owner.metadata.name ?? "",
  uid: owner.metadata.uid ?? "",
  controller: true,
  blockOwnerDeletion: true
})

/**
 * `AgentCredentials` and `CredentialStore` over an informer of the credentials Secret (the
 * caller creates it with `fieldSelector=metadata.name=<name>` in the operator namespace).
 */
export const makeSecretCredentials = (informer: Informer, secret: CredentialSecretRef) =>
  Effect.gen(function* () {
    const api = yield* KubeApi
    const ref = yield* SubscriptionRef.make(Option.none<AgentCredentialsValue>())
    const seen = yield* SubscriptionRef.make(Option.none<KubeObject>())
    const key = `${secret.namespace}/${secret.name}`

    const accept = (object: Option.Option<KubeObject>) =>
      Effect.gen(function* () {
        const last = yield* SubscriptionRef.get(seen)
        const rv = Option.getOrUndefined(object)?.metadata.resourceVersion
        if (Option.isSome(last) && olderThan(rv, last.value.metadata.resourceVersion)) return
        yield* SubscriptionRef.set(seen, object)
        yield* SubscriptionRef.set(ref, Option.flatMap(object, credentialsOf))
      })

    yield* informer.subscribe((event) =>
      event.type === "deleted" ? accept(Option.none()) : accept(Option.some(event.object))
    )

    const reload = api.get(Resources.Secret, secret.name, secret.namespace).pipe(
      Effect.map(Option.some),
      Effect.catchTag("NotFound", () => Effect.succeed(Option.none<KubeObject>())),
      Effect.flatMap(accept),
      Effect.catchAll((e) => Effect.logWarning("could not reload the agent credentials").pipe(Effect.annotateLogs("error", e._tag))),
      Effect.zipRight(SubscriptionRef.get(ref))
    )

    const credentials: AgentCredentialsService = { current: SubscriptionRef.get(ref), changes: ref.changes, reload }

    const store: CredentialStoreService = {
      secret,
      exists: Effect.map(informer.cache.get(key), Option.isSome),
      owner: Effect.map(SubscriptionRef.get(seen), (s) =>
        Option.flatMap(s, (o) => Option.fromNullable(o.metadata.ownerReferences?.find((r) => r.controller === true)))
      ),
      save: (value, owner) =>
        Effect.gen(function* () {
          const current = yield* SubscriptionRef.get(seen)
          const ownerReferences =
            owner !== undefined ? [ownerRefOf(owner)] : (Option.getOrUndefined(current)?.metadata.ownerReferences ?? [])
          const written = yield* withKubeRetry(
            api.apply(
              Resources.Secret,
              {
                apiVersion: "v1",
                kind: "Secret",
                metadata: {
                  name: secret.name,
                  namespace: secret.namespace,
                  labels: { [Labels.managedBy]: ManagedBy.operator },
                  ownerReferences
                },
                type: "Opaque",
                data: {
                  [CredentialKeys.controlPlaneBaseUrl]: toBase64(value.baseUrl),
                  [CredentialKeys.clusterId]: toBase64(value.clusterId),
                  [CredentialKeys.token]: toBase64(value.token)
                }
              },
              { fieldManager: FieldManagers.operator, force: true }
            ),
            { maxRetries: 8 }
          )
          yield* accept(Option.some(written))
        })
    }
    return { credentials, store }
  })

export const defaultCredentialSecret = (namespace: string): CredentialSecretRef => ({
  namespace,
  name: Names.agentCredentialsSecret
})

// --- rotation ---------------------------------------------------------------------------------

/**
 * Storing a rotated token (for the Cluster reconciler's `spec.rotateCredentials` and the agent's
 * `rotate-operator-credentials` intent alike): the Secret is written and the token current before
 * anything else is sent, then a `CredentialRotated` audit event goes to the StatusSink.
 */
export const credentialRotationLive = Layer.effect(
  CredentialRotation,
  Effect.gen(function* () {
    const store = yield* CredentialStore
    const credentials = yield* AgentCredentials
    const sink = yield* StatusSink
    const audit = yield* Effect.serviceOption(Audit)
    return {
      persist: (rotated) =>
        Effect.gen(function* () {
          const token = rotated.token.trim()
          if (token === "") return yield* new CredentialPersistError({ message: "the rotation answer carries an empty token" })
          const current = yield* requireCredentials.pipe(
            Effect.provideService(AgentCredentials, credentials),
            Effect.mapError((e) => new CredentialPersistError({ message: e.message }))
          )
          yield* store.save({ ...current, token }).pipe(
            Effect.mapError((e) => new CredentialPersistError({ message: `cannot store the rotated credential: ${e.message}` }))
          )
          // The owning Cluster (name and uid, so the event key is the spec's `CredentialRotated/<uid>/...`);
          // a Secret written by hand has none and is reported under the cluster id.
          const cluster = Option.getOrElse(
            Option.map(yield* store.owner, (o) => ({ name: o.name, uid: o.uid })),
            (): { readonly name: string; readonly uid?: string } => ({ name: current.clusterId })
          )
          const now = new Date(DateTime.toEpochMillis(yield* DateTime.now))
          yield* sink.publish([credentialRotatedEvent(cluster, now)])
          // Audit log line and Event; the CredentialRotated event to the control plane is the one just published.
          yield* Option.match(audit, {
            onNone: () => Effect.logInfo("bootstrap credential rotated"),
            onSome: (a) =>
              a.record({
                action: "CredentialRotated",
                object: { apiVersion: ApiVersions.Cluster, kind: "Cluster", metadata: { name: cluster.name, ...(cluster.uid === undefined ? {} : { uid: cluster.uid }) } },
                message: "Bootstrap credential rotated successfully"
              })
          })
        })
    }
  })
)
