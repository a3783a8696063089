/**
 * `ApplicationInstance` (`apps.vworkspace.io/v1alpha1`, namespaced): "this application should exist
 * in this namespace" (spec/api.md §2).
 */
import { Schema } from "effect"
import { Conditions, ObjectMeta, typeMeta } from "./meta.js"
import { cel, type CrdInfo, DateTimeString, FreeFormObject, Int64, NonEmpty, opt, req } from "./schemaKit.js"
import { ApiVersions, Groups } from "./wellKnown.js"

const Name = NonEmpty.pipe(Schema.maxLength(253))
const notBlank = (field: string) => cel({ rule: "self.trim() != ''", message: `${field} must not be blank` })

export const ApplicationMode = Schema.Literal("managed", "placeholder")
export type ApplicationMode = typeof ApplicationMode.Type

export const ChartSourceType = Schema.Literal("oci", "helm")
export type ChartSourceType = typeof ChartSourceType.Type

export const ValuesSource = Schema.Literal("inline", "secretRef", "configMapRef")
export type ValuesSource = typeof ValuesSource.Type

export const AppRef = Schema.Struct({
  catalogId: req(
    NonEmpty.pipe(Schema.maxLength(253)),
    "Catalog entry id, for example nextcloud or cluster-ops."
  ).annotations(cel({ rule: "self.trim() != ''", message: "spec.appRef.catalogId is required" }))
})

export const ChartRef = Schema.Struct({
  sourceType: req(
    ChartSourceType,
    "Where the chart comes from: oci (a Flux OCIRepository, url oci://…) or helm (a Flux HelmRepository)."
  ),
  url: req(
    NonEmpty.pipe(Schema.maxLength(2048)),
    "Repository URL: an oci:// URL for sourceType oci, an http(s):// Helm repository URL for sourceType helm."
  ).annotations(notBlank("spec.chart.url")),
  name: req(Name, "Chart name inside the repository.").annotations(notBlank("spec.chart.name")),
  version: req(
    NonEmpty.pipe(Schema.maxLength(128)),
    "Chart version: a concrete semantic version (no ranges, no latest)."
  ).annotations(notBlank("spec.chart.version"))
})
export type ChartRef = typeof ChartRef.Type

/** Helm caps release names at 53 characters, and they must be DNS-1123 labels. */
const ReleaseName = NonEmpty.pipe(Schema.maxLength(53), Schema.pattern(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/))

export const ReleaseRef = Schema.Struct({
  name: req(
    ReleaseName,
    "Name of the Flux HelmRelease (and Helm release) materialised for this instance: a DNS-1123 label of at most 53 characters."
  ).annotations(
    notBlank("spec.release.name")
  ),
  namespace: req(Name, "Namespace of the release; must equal the instance's own namespace.").annotations(
    notBlank("spec.release.namespace")
  )
})
export type ReleaseRef = typeof ReleaseRef.Type

export const KeyRef = Schema.Struct({
  name: req(Name, "Name of the object in the instance's namespace."),
  key: req(NonEmpty.pipe(Schema.maxLength(253)), "Data key holding a JSON or YAML values document.")
})
export type KeyRef = typeof KeyRef.Type

export const Values = Schema.Struct({
  source: req(ValuesSource, "Which field holds the Helm values: inline, secretRef or configMapRef."),
  inline: opt(
    FreeFormObject,
    "Helm values given inline (free-form). Must not contain secret material: use secretRef for that."
  ),
  secretRef: opt(KeyRef, "A Secret data key holding the values; passed to Flux through valuesFrom, never copied."),
  configMapRef: opt(KeyRef, "A ConfigMap data key holding the values; passed to Flux through valuesFrom.")
}).annotations(
  cel(
    {
      rule: "self.source != 'inline' || has(self.inline)",
      message: "spec.values.inline is required when source is inline",
      reason: "FieldValueRequired",
      fieldPath: ".inline"
    },
    {
      rule: "self.source != 'secretRef' || has(self.secretRef)",
      message: "spec.values.secretRef name and key are required when source is secretRef",
      reason: "FieldValueRequired",
      fieldPath: ".secretRef"
    },
    {
      rule: "self.source != 'configMapRef' || has(self.configMapRef)",
      message: "spec.values.configMapRef name and key are required when source is configMapRef",
      reason: "FieldValueRequired",
      fieldPath: ".configMapRef"
    }
  )
)
export type Values = typeof Values.Type

const Toggle = Schema.Struct({
  enabled: opt(Schema.Boolean, "Turns the integration on.")
})

export const Integrations = Schema.Struct({
  externalSecrets: opt(Toggle, "Wire the chart to External Secrets (values fragment)."),
  certManager: opt(Toggle, "Wire the chart to cert-manager (values fragment)."),
  ingress: opt(
    Schema.Struct({
      enabled: opt(Schema.Boolean, "Turns the ingress on."),
      host: opt(Schema.String.pipe(Schema.maxLength(253)), "Host name of the ingress; required when enabled.")
    }).annotations(
      cel({
        rule: "!has(self.enabled) || !self.enabled || (has(self.host) && self.host != '')",
        message: "spec.integrations.ingress.host is required when ingress is enabled",
        reason: "FieldValueRequired",
        fieldPath: ".host"
      })
    ),
    "Expose the application through an Ingress (values fragment)."
  )
})
export type Integrations = typeof Integrations.Type

const isPlaceholder = "(has(self.mode) && self.mode == 'placeholder')"
const isSeaweed = "self.appRef.catalogId == 'seaweedfs'"
const notSeaweed = "self.appRef.catalogId != 'seaweedfs'"

export const ApplicationInstanceSpec = Schema.Struct({
  appRef: req(AppRef, "The catalog application this instance is."),
  mode: opt(
    ApplicationMode,
    "managed (default): install the chart through Flux. placeholder: a sentinel that owns no workload and only carries capability annotations for Operations."
  ).annotations({ default: "managed" }),
  chart: opt(ChartRef, "The Helm chart to install. Required in managed mode; forbidden in placeholder mode."),
  release: opt(
    ReleaseRef,
    "Identity of the Helm release. Required in managed mode. Immutable once set: delete and recreate the instance to rename it."
  ),
  values: opt(Values, "Helm values. Required in managed mode; forbidden in placeholder mode."),
  integrations: opt(Integrations, "Platform integrations, translated into values fragments.")
}).annotations(
  cel(
    {
      rule: `${isPlaceholder} || ${isSeaweed} || has(self.chart)`,
      message: "spec.chart is required in managed mode",
      reason: "FieldValueRequired",
      fieldPath: ".chart"
    },
    {
      rule: `${isPlaceholder} || has(self.release)`,
      message: "spec.release is required in managed mode",
      reason: "FieldValueRequired",
      fieldPath: ".release"
    },
    {
      rule: `${isPlaceholder} || has(self.values)`,
      message: "spec.values is required in managed mode",
      reason: "FieldValueRequired",
      fieldPath: ".values"
    },
    {
      rule: `!${isPlaceholder} || !has(self.chart)`,
      message: "spec.chart must not be set in placeholder mode",
      reason: "FieldValueForbidden",
      fieldPath: ".chart"
    },
    {
      rule: `!${isPlaceholder} || !has(self.values)`,
      message: "spec.values must not be set in placeholder mode",
      reason: "FieldValueForbidden",
      fieldPath: ".values"
    },
    {
      rule: `${isPlaceholder} || ${notSeaweed} || !has(self.chart)`,
      message: "spec.chart must not be set for native SeaweedFS workloads",
      reason: "FieldValueForbidden",
      fieldPath: ".chart"
    },
    {
      rule: "!has(oldSelf.release) || (has(self.release) && self.release == oldSelf.release)",
      message: "spec.release is immutable once set",
      fieldPath: ".release"
    }
  )
)
export type ApplicationInstanceSpec = typeof ApplicationInstanceSpec.Type

export const Endpoint = Schema.Struct({
  name: req(Schema.String, "Endpoint name, for example s3."),
  url: req(Schema.String, "Endpoint URL."),
  type: opt(Schema.String, "Kind of endpoint, for example s3."),
  notes: opt(Schema.String, "Free-text notes for humans.")
})
export type Endpoint = typeof Endpoint.Type

export const ApplicationInstanceStatus = Schema.Struct({
  observedGeneration: opt(Int64, "The metadata.generation the operator last processed."),
  conditions: opt(Conditions, "Ready, Reconciling, Degraded, Suspended, Blocked and Deleting."),
  helmReleaseRef: opt(
    Schema.Struct({
      name: req(Schema.String, "HelmRelease name."),
      namespace: req(Schema.String, "HelmRelease namespace.")
    }),
    "The Flux HelmRelease materialised for this instance."
  ),
  lastAppliedChart: opt(
    Schema.Struct({
      sourceType: req(ChartSourceType, "oci or helm."),
      url: req(Schema.String, "Repository URL."),
      name: req(Schema.String, "Chart name."),
      version: req(Schema.String, "Chart version.")
    }),
    "The chart last written to the HelmRelease (what was asked, compared with what runs)."
  ),
  lastReconcileTime: opt(
    DateTimeString,
    "Time of the last reconcile that changed this status; a pass that finds nothing to change writes nothing."
  ),
  endpoints: opt(Schema.Array(Endpoint), "URLs derived from the running application.")
})
export type ApplicationInstanceStatus = typeof ApplicationInstanceStatus.Type

/** The mode-switch guard of §7.2.4, as a transition rule over the whole object. */
const modeSwitchRule = [
  "!(has(self.spec.mode) && self.spec.mode == 'placeholder')",
  "(has(oldSelf.spec.mode) && oldSelf.spec.mode == 'placeholder')",
  "!(has(oldSelf.spec.chart) || has(oldSelf.spec.release) || (has(oldSelf.status) && has(oldSelf.status.helmReleaseRef)))"
].join(" || ")

export const ApplicationInstance = Schema.Struct({
  ...typeMeta(ApiVersions.ApplicationInstance, "ApplicationInstance"),
  metadata: ObjectMeta,
  spec: req(ApplicationInstanceSpec, "Desired state: which application, which chart, which values."),
  status: opt(ApplicationInstanceStatus, "Observed state, written by the operator.")
}).annotations({
  description:
    "ApplicationInstance: this application should exist in this namespace. The operator installs it through a Flux HelmRelease (managed mode) or keeps it as a placeholder that carries capability annotations.",
  ...cel({
    rule: modeSwitchRule,
    message:
      "cannot switch a managed instance that owns (or may own) a Helm release to placeholder mode; delete and recreate as a placeholder instead",
    fieldPath: ".spec.mode"
  })
})
export type ApplicationInstance = typeof ApplicationInstance.Type

export const ApplicationInstanceCrd: CrdInfo = {
  group: Groups.apps,
  version: "v1alpha1",
  kind: "ApplicationInstance",
  listKind: "ApplicationInstanceList",
  plural: "applicationinstances",
  singular: "applicationinstance",
  shortNames: ["appinst"],
  scope: "Namespaced",
  printerColumns: [
    { name: "Ready", type: "string", jsonPath: '.status.conditions[?(@.type=="Ready")].status' },
    { name: "Chart", type: "string", jsonPath: ".spec.chart.name" },
    { name: "Version", type: "string", jsonPath: ".spec.chart.version" },
    { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" }
  ],
  schema: ApplicationInstance
}
