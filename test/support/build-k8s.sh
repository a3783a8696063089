#!/usr/bin/env bash
# Builds kube-apiserver and etcd from Go modules into a cache folder outside the repo.
# k8s.io/kubernetes replaces its staging modules with local paths, so a throwaway module
# re-points each of them at the published k8s.io/<name> v0.Y.Z version.
set -euo pipefail

K8S_VERSION="${K8S_VERSION:-v1.36.3}"
ETCD_VERSION="${ETCD_VERSION:-v3.6.8}"
CACHE_ROOT="${VWORKSPACE_CACHE:-$HOME/.cache/vworkspace-operator}"
OUT="$CACHE_ROOT/k8s/$K8S_VERSION"
mkdir -p "$OUT"

build_kube() {
  local bin="$1" pkg="$2"
  if [ -x "$OUT/$bin" ]; then return 0; fi
  local work="$OUT/mod-kubernetes"
  mkdir -p "$work"
  (
    cd "$work"
    if [ ! -f go.mod ]; then
      go mod init vworkspace.local/k8sbuild >/dev/null 2>&1
      local gomod
      gomod=$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
      local minor="v0.${K8S_VERSION#v1.}"
      {
        echo "require k8s.io/kubernetes $K8S_VERSION"
        grep -E '^\s*k8s.io/[a-z0-9-]+ => \./staging' "$gomod" | awk -v v="$minor" '{print "replace " $1 " => " $1 " " v}'
      } >> go.mod
      printf 'package main\nimport _ "k8s.io/kubernetes/cmd/kube-apiserver"\nfunc main() {}\n' > tools.go
      go mod tidy >/dev/null
    fi
    go build -o "$OUT/$bin" "$pkg"
  )
}

build_etcd() {
  if [ -x "$OUT/etcd" ]; then return 0; fi
  local work="$OUT/mod-etcd"
  mkdir -p "$work"
  (
    cd "$work"
    if [ ! -f go.mod ]; then
      go mod init vworkspace.local/etcdbuild >/dev/null 2>&1
      printf 'package main\nimport _ "go.etcd.io/etcd/server/v3/etcdmain"\nfunc main() {}\n' > tools.go
      go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION" >/dev/null
      go mod tidy >/dev/null
    fi
    go build -o "$OUT/etcd" go.etcd.io/etcd/server/v3
  )
}

build_etcd
build_kube kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver
echo "$OUT"
