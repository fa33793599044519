#!/usr/bin/env bash
# Installs the Cerbos PDP (from the npm registry) and wrk (from Debian).
# Idempotent: does nothing when both are already present.
# Prints nothing on success but the path of the cerbos binary on its last line.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PREFIX="${CERBOS_NPM_PREFIX:-$HERE/.npm}"
CERBOS_VERSION="${CERBOS_VERSION:-0.55.0}"
PKG="@cerbos/cerbos-linux-x64"

# The package ships one executable, named by its package.json "main"
# (cerbos-linux-x64 as of 0.55); fall back to a file search.
find_cerbos() {
  local dir="$PREFIX/node_modules/$PKG" main
  [[ -f "$dir/package.json" ]] || return 0
  main="$(node -p "require('$dir/package.json').main || ''" 2>/dev/null || true)"
  if [[ -n "$main" && -f "$dir/$main" ]]; then
    (cd "$dir" && realpath "$main")
  else
    find "$dir" -type f \( -name 'cerbos' -o -name 'cerbos-linux-x64' \) | head -n1
  fi
}

bin="$(find_cerbos || true)"
if [[ -z "$bin" ]] || ! chmod +x "$bin" || ! "$bin" --version >/dev/null 2>&1; then
  command -v npm >/dev/null || { echo "install.sh: npm not found" >&2; exit 1; }
  mkdir -p "$PREFIX"
  echo "install.sh: npm install $PKG@$CERBOS_VERSION into $PREFIX" >&2
  npm install --prefix "$PREFIX" --no-audit --no-fund --no-save \
    "$PKG@$CERBOS_VERSION" >&2
  bin="$(find_cerbos || true)"
  [[ -n "$bin" ]] || { echo "install.sh: no cerbos binary inside $PKG" >&2; exit 1; }
  chmod +x "$bin"
  "$bin" --version >/dev/null || { echo "install.sh: $bin does not run" >&2; exit 1; }
fi

if ! command -v wrk >/dev/null; then
  echo "install.sh: installing wrk from Debian" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update >&2
  apt-get install -y wrk >&2
fi

echo "$bin"
