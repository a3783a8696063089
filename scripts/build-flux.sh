#!/usr/bin/env bash
# Builds Flux's source-controller and kustomize-controller from their Go modules into a cache
# folder outside the repo, for the e2e tier (real Flux controllers against the local cluster).
#
#   scripts/build-flux.sh        prints the bin dir holding source-controller and kustomize-controller
#
# Their go.mod files replace the /api submodule with a local path, so `go install` refuses them.
# A throwaway module requires the controller and repeats its non-local replace lines; the /api
# submodule then resolves to the published version the controller requires.
# v1.9.x is the newest line that builds with Go 1.26 (v1.10 needs Go 1.27).
set -euo pipefail

FLUX_CONTROLLERS_VERSION="${FLUX_CONTROLLERS_VERSION:-v1.9.6}"
CACHE_ROOT="${VWORKSPACE_CACHE:-$HOME/.cache/vworkspace-operator}"
OUT="$CACHE_ROOT/flux/$FLUX_CONTROLLERS_VERSION"

# Versions the controllers require that the module proxy does not serve, pinned to the nearest
# served release of the same minor line.
PINS=(
  "github.com/fluxcd/pkg/artifact v0.18.0"
)

log() { echo "build-flux: $*" >&2; }

build_controller() {
  # build_controller <name>: github.com/fluxcd/<name> at FLUX_CONTROLLERS_VERSION
  local name="$1" module="github.com/fluxcd/$1"
  if [ -x "$OUT/$name" ] && [ -f "$OUT/$name.version" ] && [ "$(cat "$OUT/$name.version")" = "$FLUX_CONTROLLERS_VERSION" ]; then
    return 0
  fi
  log "building $name $FLUX_CONTROLLERS_VERSION"
  local work="$OUT/mod-$name" gomod
  rm -rf "$work"
  mkdir -p "$work"
  (cd "$work" && go mod init "vworkspace.local/build-$name" >/dev/null 2>&1)
  gomod=$(go mod download -json "$module@$FLUX_CONTROLLERS_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
  {
    echo "require $module $FLUX_CONTROLLERS_VERSION"
    # Single-line and block replace directives, minus the ones pointing at a local path.
    awk '
      /^replace \(/ { inblock = 1; next }
      inblock && /^\)/ { inblock = 0; next }
      inblock && /=>/ && $0 !~ /=> *\.\.?\// { print "replace " $0; next }
      /^replace / && $0 !~ /=> *\.\.?\// { print }
    ' "$gomod"
    local pin
    for pin in "${PINS[@]}"; do echo "replace ${pin% *} => $pin"; done
  } >> "$work/go.mod"
  printf 'package main\nimport _ "%s"\nfunc main() {}\n' "$module" > "$work/tools.go"
  # `go get` (not `go mod tidy`): tidy would also resolve the controller's test-only imports, some of
  # which the module proxy does not serve.
  (cd "$work" && go get "$module@$FLUX_CONTROLLERS_VERSION" >&2 && go build -trimpath -ldflags "-s -w" -o "$OUT/$name.tmp" "$module" >&2)
  mv -f "$OUT/$name.tmp" "$OUT/$name"
  echo "$FLUX_CONTROLLERS_VERSION" > "$OUT/$name.version"
}

mkdir -p "$OUT"
exec 9>"$CACHE_ROOT/.build-flux.lock"
flock 9
build_controller source-controller
build_controller kustomize-controller
echo "$OUT"
