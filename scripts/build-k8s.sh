#!/usr/bin/env bash
# Builds the local test cluster's binaries from Go modules into a cache folder outside the repo.
#
#   scripts/build-k8s.sh [binaries]        etcd, kube-apiserver and kube-controller-manager; prints the bin dir
#   scripts/build-k8s.sh helm-controller-crds
#                                          HelmRelease CRD generated from github.com/fluxcd/helm-controller/api;
#                                          prints the dir holding the YAML
#   scripts/build-k8s.sh helm              the helm CLI from helm.sh/helm/v3; prints the binary's path
#
# Idempotent: a binary is rebuilt only when it is missing or reports another version. A lock
# serialises concurrent callers (two test projects, `dev-cluster up`).
#
# k8s.io/kubernetes replaces its staging modules with local paths, so `go install` refuses it; a
# throwaway module re-points each staging module at the published k8s.io/<name> v0.Y.Z instead.
# The version variables that hack/lib/version.sh stamps in are passed as -ldflags, so /version
# answers the real release instead of v0.0.0-master.
#
# The proxy does not serve the github.com/fluxcd/helm-controller module itself, only its /api
# module, so its CRD is generated from the API types with the controller-gen version that Flux uses.
set -euo pipefail

K8S_VERSION="${K8S_VERSION:-v1.36.3}"
ETCD_VERSION="${ETCD_VERSION:-v3.6.8}"
HELM_CONTROLLER_API_VERSION="${HELM_CONTROLLER_API_VERSION:-v1.6.5}"
CONTROLLER_TOOLS_VERSION="${CONTROLLER_TOOLS_VERSION:-v0.21.0}"
HELM_VERSION="${HELM_VERSION:-v3.22.0}"
CACHE_ROOT="${VWORKSPACE_CACHE:-$HOME/.cache/vworkspace-operator}"
OUT="$CACHE_ROOT/k8s/$K8S_VERSION"

log() { echo "build-k8s: $*" >&2; }

# Every go command's chatter goes to stderr: stdout carries only the resulting path.
gomod_path() { go mod download -json "$1" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p'; }

new_module() {
  # new_module <dir> <module name>: a fresh throwaway module (a half-written one is redone)
  local dir="$1" name="$2"
  rm -rf "$dir"
  mkdir -p "$dir"
  (cd "$dir" && go mod init "$name" >/dev/null 2>&1)
}

build_etcd() {
  local want="etcd Version: ${ETCD_VERSION#v}"
  if [ -x "$OUT/etcd" ] && [ "$("$OUT/etcd" --version 2>/dev/null | head -n1)" = "$want" ]; then return 0; fi
  log "building etcd $ETCD_VERSION"
  local work="$OUT/mod-etcd"
  if [ ! -f "$work/go.sum" ] || ! grep -q "go.etcd.io/etcd/server/v3 $ETCD_VERSION" "$work/go.mod"; then
    new_module "$work" vworkspace.local/etcdbuild
    (
      cd "$work"
      printf 'package main\nimport _ "go.etcd.io/etcd/server/v3/etcdmain"\nfunc main() {}\n' > tools.go
      go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION" >&2
      go mod tidy >&2
    )
  fi
  (cd "$work" && go build -trimpath -ldflags "-s -w" -o "$OUT/etcd.tmp" go.etcd.io/etcd/server/v3 >&2)
  mv -f "$OUT/etcd.tmp" "$OUT/etcd"
}

# The commands of k8s.io/kubernetes the throwaway module builds (their imports decide go.sum).
KUBE_COMMANDS="kube-apiserver kube-controller-manager"

kube_tools_go() {
  printf 'package main\nimport (\n'
  local c
  for c in $KUBE_COMMANDS; do printf '\t_ "k8s.io/kubernetes/cmd/%s"\n' "$c"; done
  printf ')\nfunc main() {}\n'
}

kubernetes_module() {
  local work="$OUT/mod-kubernetes"
  if [ -f "$work/go.sum" ] && grep -q "k8s.io/kubernetes $K8S_VERSION" "$work/go.mod"; then
    # A module made for fewer commands only needs their imports added and tidied.
    if [ "$(cat "$work/tools.go" 2>/dev/null)" != "$(kube_tools_go)" ]; then
      kube_tools_go > "$work/tools.go"
      (cd "$work" && go mod tidy >&2)
    fi
    return 0
  fi
  new_module "$work" vworkspace.local/k8sbuild
  local gomod minor
  gomod=$(gomod_path "k8s.io/kubernetes@$K8S_VERSION")
  minor="v0.${K8S_VERSION#v1.}"
  {
    echo "require k8s.io/kubernetes $K8S_VERSION"
    grep -E '^\s*k8s.io/[a-z0-9-]+ => \./staging' "$gomod" | awk -v v="$minor" '{print "replace " $1 " => " $1 " " v}'
  } >> "$work/go.mod"
  kube_tools_go > "$work/tools.go"
  (cd "$work" && go mod tidy >&2)
}

build_kube() {
  # build_kube <binary name>: cmd/<binary name> of k8s.io/kubernetes
  local bin="$1"
  if [ -x "$OUT/$bin" ] && [ "$("$OUT/$bin" --version 2>/dev/null)" = "Kubernetes $K8S_VERSION" ]; then return 0; fi
  log "building $bin $K8S_VERSION"
  kubernetes_module
  local v="${K8S_VERSION#v}" ldflags="-s -w" pkg
  local major="${v%%.*}" rest="${v#*.}"
  local minor="${rest%%.*}"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
    ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
  done
  (cd "$OUT/mod-kubernetes" && go build -trimpath -ldflags "$ldflags" -o "$OUT/$bin.tmp" "k8s.io/kubernetes/cmd/$bin" >&2)
  mv -f "$OUT/$bin.tmp" "$OUT/$bin"
}

helm_controller_crds() {
  local dir="$CACHE_ROOT/crds/helm-controller-api-$HELM_CONTROLLER_API_VERSION"
  if [ -f "$dir/.done" ]; then echo "$dir"; return 0; fi
  local tools="$CACHE_ROOT/tools/controller-tools-$CONTROLLER_TOOLS_VERSION"
  if [ ! -x "$tools/controller-gen" ]; then
    log "building controller-gen $CONTROLLER_TOOLS_VERSION"
    new_module "$tools/mod" vworkspace.local/controllergen
    (
      cd "$tools/mod"
      printf 'package main\nimport _ "sigs.k8s.io/controller-tools/cmd/controller-gen"\nfunc main() {}\n' > tools.go
      go get "sigs.k8s.io/controller-tools@$CONTROLLER_TOOLS_VERSION" >&2
      go mod tidy >&2
      go build -trimpath -ldflags "-s -w" -o "$tools/controller-gen.tmp" sigs.k8s.io/controller-tools/cmd/controller-gen >&2
    )
    mv -f "$tools/controller-gen.tmp" "$tools/controller-gen"
  fi
  log "generating HelmRelease CRD from github.com/fluxcd/helm-controller/api $HELM_CONTROLLER_API_VERSION"
  local work="$dir.mod"
  new_module "$work" vworkspace.local/helmcrds
  (
    cd "$work"
    printf 'package main\nimport _ "github.com/fluxcd/helm-controller/api/v2"\nfunc main() {}\n' > tools.go
    go get "github.com/fluxcd/helm-controller/api@$HELM_CONTROLLER_API_VERSION" >&2
    go mod tidy >&2
    rm -rf "$dir"
    # The same options as helm-controller's Makefile (CRD_OPTIONS ?= crd:crdVersions=v1).
    "$tools/controller-gen" crd:crdVersions=v1 paths="github.com/fluxcd/helm-controller/api/..." output:crd:dir="$dir" >&2
  )
  rm -rf "$work"
  touch "$dir/.done"
  echo "$dir"
}

build_helm() {
  local dir="$CACHE_ROOT/tools/helm-$HELM_VERSION"
  if [ -x "$dir/helm" ] && "$dir/helm" version --template '{{.Version}}' 2>/dev/null | grep -qx "$HELM_VERSION"; then
    echo "$dir/helm"; return 0
  fi
  log "building helm $HELM_VERSION"
  new_module "$dir/mod" vworkspace.local/helmbuild
  (
    cd "$dir/mod"
    printf 'package main\nimport _ "helm.sh/helm/v3/cmd/helm"\nfunc main() {}\n' > tools.go
    go get "helm.sh/helm/v3@$HELM_VERSION" >&2
    go mod tidy >&2
    # helm reports the version stamped into helm.sh/helm/v3/internal/version.
    go build -trimpath -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" \
      -o "$dir/helm.tmp" helm.sh/helm/v3/cmd/helm >&2
  )
  mv -f "$dir/helm.tmp" "$dir/helm"
  echo "$dir/helm"
}

mkdir -p "$OUT" "$CACHE_ROOT"
exec 9>"$CACHE_ROOT/.build.lock"
flock 9

case "${1:-binaries}" in
  binaries)
    build_etcd
    build_kube kube-apiserver
    build_kube kube-controller-manager
    echo "$OUT"
    ;;
  helm-controller-crds)
    helm_controller_crds
    ;;
  helm)
    build_helm
    ;;
  *)
    echo "usage: $0 [binaries|helm-controller-crds|helm]" >&2
    exit 2
    ;;
esac
