# Sourced by scripts/dist and scripts/smoke: finds or installs the packaging tools, from the
# ordinary registries only (Debian, PyPI, npm), into places under target/ that a fresh machine
# recreates. Nothing here downloads from GitHub.
#
#   EASEL_PACK_TOOLS=<dir>  where maturin/uv (a venv) and mcpb/verdaccio (an npm prefix) go;
#                           default target/pack-tools

pack_tools="${EASEL_PACK_TOOLS:-$PWD/target/pack-tools}"
pack_venv="$pack_tools/venv"
pack_npm="$pack_tools/npm"

# apt_need PKG... : installs Debian packages that are missing (as root only; else says what to do).
apt_need() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "error: missing Debian packages: ${missing[*]} (install them and run again)" >&2
    return 1
  fi
  echo "== installing ${missing[*]} (apt)"
  # Another process may hold the dpkg lock for a while: wait for it (bounded) instead of failing.
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq "${missing[@]}" >/dev/null
}

# py_tools: maturin (builds the wheel and sdist) and uv (uvx, for the smoke test), in a venv.
py_tools() {
  if [ ! -x "$pack_venv/bin/maturin" ] || [ ! -x "$pack_venv/bin/uv" ]; then
    echo "== installing maturin and uv from PyPI into $pack_venv"
    python3 -m venv "$pack_venv"
    "$pack_venv/bin/pip" install -q --disable-pip-version-check "maturin>=1.9,<2" "uv>=0.5"
  fi
  maturin="$pack_venv/bin/maturin"
  uv="$pack_venv/bin/uv"
}

# npm_tools: @anthropic-ai/mcpb (packs and validates the bundle) and verdaccio (a throwaway
# npm registry on loopback, for the smoke test), in a private npm prefix.
npm_tools() {
  if [ ! -x "$pack_npm/node_modules/.bin/mcpb" ] || [ ! -x "$pack_npm/node_modules/.bin/verdaccio" ]; then
    echo "== installing @anthropic-ai/mcpb and verdaccio from npm into $pack_npm"
    mkdir -p "$pack_npm"
    (cd "$pack_npm" && npm install --prefix . --no-audit --no-fund --silent \
      "@anthropic-ai/mcpb@^2" "verdaccio@^6")
  fi
  mcpb="$pack_npm/node_modules/.bin/mcpb"
  verdaccio="$pack_npm/node_modules/.bin/verdaccio"
}

# The workspace version, which every artifact carries.
workspace_version() {
  sed -n '/^\[workspace.package\]/,/^\[/s/^version *= *"\(.*\)"/\1/p' Cargo.toml | head -n1
}
