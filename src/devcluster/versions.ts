/** The Kubernetes release whose kube-apiserver the harness builds and runs. */
export const K8S_VERSION = "v1.36.3"
/** An etcd release supported by that Kubernetes release. */
export const ETCD_VERSION = "v3.6.8"

/**
 * Third-party CRDs, read from these projects' Go modules (`go mod download`), never committed.
 * Flux 2.9 pairs source/kustomize-controller v1.9 with helm-controller v1.6; the v1.10 lines need
 * Go 1.27. The helm-controller module itself is not served by the Go proxy, so its HelmRelease CRD
 * is generated from `github.com/fluxcd/helm-controller/api` by scripts/build-k8s.sh.
 */
export interface ModuleCrdSource {
  readonly module: string
  readonly version: string
  /** Folders inside the module that hold CRD YAML. */
  readonly dirs: ReadonlyArray<string>
  /** Only these files of the folders (default: all). */
  readonly files?: ReadonlyArray<string>
}

export const THIRD_PARTY_CRD_MODULES: ReadonlyArray<ModuleCrdSource> = [
  { module: "github.com/fluxcd/source-controller", version: "v1.9.6", dirs: ["config/crd/bases"] },
  { module: "github.com/fluxcd/kustomize-controller", version: "v1.9.6", dirs: ["config/crd/bases"] },
  { module: "github.com/vmware-tanzu/velero", version: "v1.18.3", dirs: ["config/crd/v1/bases", "config/crd/v2alpha1/bases"] },
  // The minimal CRDs are what Argo installs by default; the full ones exceed the object size limit.
  { module: "github.com/argoproj/argo-workflows/v3", version: "v3.7.9", dirs: ["manifests/base/crds/minimal"] },
  { module: "github.com/backube/volsync", version: "v0.14.0", dirs: ["config/crd/bases"] },
  { module: "github.com/kubernetes-csi/external-snapshotter/client/v8", version: "v8.7.0", dirs: ["config/crd"] },
  // The chart's optional ServiceMonitor (metrics.serviceMonitor.enabled); the other monitoring CRDs are not needed.
  {
    module: "github.com/prometheus-operator/prometheus-operator",
    version: "v0.85.0",
    dirs: ["example/prometheus-operator-crd"],
    files: ["monitoring.coreos.com_servicemonitors.yaml"]
  }
]

/** The helm-controller API module the HelmRelease CRD is generated from (see scripts/build-k8s.sh). */
export const HELM_CONTROLLER_API_VERSION = "v1.6.5"
